// gen.mjs writes glue/testdata/independent_vectors.json: Glue-framed records made by an
// encoder independent of package glue, so its tests do not check our code against itself.
//
//   - zlib: Node's zlib (not Go's compress/zlib) deflates the payloads of the vectors the
//     registry's Java serializer made (../shared/testdata/glue/glue_vectors.json);
//   - Protobuf: protobufjs (not Go's protobuf) parses the .proto text and encodes the
//     messages; this script computes the message index itself from the registry's rule
//     (every message of the file, nested ones included, sorted by full name).
//
// Run it through scripts/glue-testdata.sh, which installs the pinned protobufjs.
import { createRequire } from "node:module";
import { readFileSync, writeFileSync } from "node:fs";
import { deflateSync } from "node:zlib";
import { fileURLToPath } from "node:url";
import path from "node:path";

const require = createRequire(process.env.GLUE_TESTDATA_MODULES + "/");
const protobuf = require("protobufjs");

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "../../..");
const shared = JSON.parse(readFileSync(path.resolve(repo, "../shared/testdata/glue/glue_vectors.json"), "utf8"));

function uuidBytes(id) {
  return Buffer.from(id.replace(/-/g, ""), "hex");
}

function frame(compression, id, payload) {
  const body = compression === 5 ? deflateSync(payload) : payload;
  return Buffer.concat([Buffer.from([3, compression]), uuidBytes(id), body]);
}

function varint(n) {
  const out = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}

const vectors = [];

// zlib-compressed versions of the Java serializer's own samples.
for (const v of shared.vectors) {
  const record = Buffer.from(v.record_base64, "base64");
  vectors.push({
    name: v.name + "_zlib",
    description: "The payload of " + v.name + " deflated by Node.js zlib, framed with compression byte 5.",
    schema_version_id: v.schema_version_id,
    data_format: v.data_format,
    schema_definition: v.schema_definition,
    compression: "zlib",
    record_base64: frame(5, v.schema_version_id, record.subarray(18)).toString("base64"),
    expected_value: v.expected_value,
  });
}

// Protobuf: declaration order (Order, Customer, then nested) differs from the index
// order (sorted by full name), so a decoder that gets the rule wrong picks the wrong type.
const proto = `syntax = "proto3";
package kcl.gluetest;

import "google/protobuf/timestamp.proto";

message Order {
  string id = 1;
  int64 amount_cents = 2;
  repeated Line lines = 3;
  google.protobuf.Timestamp placed_at = 4;
  Status status = 5;

  message Line {
    string sku = 1;
    uint32 quantity = 2;
  }
  enum Status {
    STATUS_UNKNOWN = 0;
    STATUS_PLACED = 1;
    STATUS_SHIPPED = 2;
  }
}

message Customer {
  string name = 1;
  Address address = 2;

  message Address {
    string city = 1;
    string zip = 2;
  }
}
`;

const parsed = protobuf.parse(proto, { keepCase: true });
for (const imp of parsed.imports) {
  parsed.root.addJSON(protobuf.common.get(imp).nested);
}
parsed.root.resolveAll();

// The registry's message index, computed here from the rule, not by package glue.
const pkg = parsed.root.lookup(parsed.package);
const all = [];
(function walk(ns) {
  for (const t of ns.nestedArray) {
    if (t instanceof protobuf.Type) {
      all.push(t.fullName.slice(1));
      walk(t);
    }
  }
})(pkg);
all.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

const protoSamples = [
  {
    name: "protobuf_order",
    id: "5f1c9a52-0d7e-4a8b-9e2f-6c3b1a7d4e90",
    type: "kcl.gluetest.Order",
    compression: 0,
    value: {
      id: "o-1001",
      amount_cents: "1999",
      lines: [{ sku: "apple", quantity: 3 }, { sku: "pear", quantity: 1 }],
      placed_at: { seconds: 1700000000, nanos: 5000 },
      status: 2,
    },
    // The same value in proto3's JSON mapping, for the Go side to compare with.
    expected_json: {
      id: "o-1001",
      amountCents: "1999",
      lines: [{ sku: "apple", quantity: 3 }, { sku: "pear", quantity: 1 }],
      placedAt: "2023-11-14T22:13:20.000005Z",
      status: "STATUS_SHIPPED",
    },
  },
  {
    name: "protobuf_nested_address",
    id: "5f1c9a52-0d7e-4a8b-9e2f-6c3b1a7d4e90",
    type: "kcl.gluetest.Customer.Address",
    compression: 0,
    value: { city: "Zürich", zip: "8001" },
    expected_json: { city: "Zürich", zip: "8001" },
  },
  {
    name: "protobuf_customer_zlib",
    id: "5f1c9a52-0d7e-4a8b-9e2f-6c3b1a7d4e90",
    type: "kcl.gluetest.Customer",
    compression: 5,
    value: { name: "Ada", address: { city: "London", zip: "NW1" } },
    expected_json: { name: "Ada", address: { city: "London", zip: "NW1" } },
  },
];

for (const s of protoSamples) {
  const T = parsed.root.lookupType(s.type);
  const msg = T.encode(T.fromObject(s.value)).finish();
  const index = all.indexOf(s.type);
  if (index < 0) throw new Error("no index for " + s.type);
  const payload = Buffer.concat([varint(index), Buffer.from(msg)]);
  vectors.push({
    name: s.name,
    description: "Encoded by protobufjs, message index " + index + " of " + JSON.stringify(all) + (s.compression === 5 ? ", deflated by Node.js zlib." : "."),
    schema_version_id: s.id,
    data_format: "PROTOBUF",
    schema_definition: proto,
    compression: s.compression === 5 ? "zlib" : "none",
    message_full_name: s.type,
    message_index: index,
    record_base64: frame(s.compression, s.id, payload).toString("base64"),
    expected_value: s.expected_json,
  });
}

const out = {
  source: "Generated by glue/testdata/gen/gen.mjs (scripts/glue-testdata.sh) with Node.js " + process.version + " zlib and protobufjs " + require("protobufjs/package.json").version + ". Do not edit; regenerate.",
  vectors,
};
writeFileSync(path.resolve(here, "../independent_vectors.json"), JSON.stringify(out, null, 2) + "\n");
