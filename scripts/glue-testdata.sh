#!/usr/bin/env bash
# Regenerates glue/testdata/independent_vectors.json with an encoder independent of package
# glue (Node.js zlib and protobufjs; see glue/testdata/gen/gen.mjs). The pinned npm packages
# go to .cache/glue-testdata (git-ignored). The output is checked in: tests need no Node.js.
set -euo pipefail
cd "$(dirname "$0")/.."
cache=.cache/glue-testdata
mkdir -p "$cache"
cp glue/testdata/gen/package.json "$cache/package.json"
(cd "$cache" && npm install --no-audit --no-fund --silent)
GLUE_TESTDATA_MODULES="$PWD/$cache/node_modules" node glue/testdata/gen/gen.mjs
echo "wrote glue/testdata/independent_vectors.json"
