package aggregation

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protowire"
)

func TestPassthrough(t *testing.T) {
	valid := pbBuilder(nil).str(fieldPartitionKeyTable, "k").bytes(fieldRecords, userRecord(0, -1, "x"))
	badSum := frame(valid)
	badSum[len(badSum)-1] ^= 1
	tests := map[string]struct {
		data []byte
		want Kind
	}{
		"nil":                       {nil, NotAggregated},
		"shorter than magic":        {[]byte(magic[:3]), NotAggregated},
		"plain text":                {[]byte("hello, kinesis"), NotAggregated},
		"magic one byte off":        {append([]byte("\xF3\x89\x9A\xC3"), frame(valid)[4:]...), NotAggregated},
		"magic only":                {[]byte(magic), TooShort},
		"magic and checksum only":   {frame(nil), TooShort},
		"magic and 15 bytes":        {append([]byte(magic), make([]byte, 15)...), TooShort},
		"checksum off by one bit":   {badSum, BadChecksum},
		"truncated varint":          {frame([]byte{0x08, 0x80}), BadProtobuf},
		"field number zero":         {frame([]byte{0x00, 0x01}), BadProtobuf},
		"length past end":           {frame([]byte{0x0A, 0x05, 'a'}), BadProtobuf},
		"stray end group":           {frame([]byte{0x0C}), BadProtobuf},
		"wire error in user record": {frame(pbBuilder(nil).str(fieldPartitionKeyTable, "k").bytes(fieldRecords, []byte{0x08})), BadProtobuf},
		"wire error in tag": {frame(pbBuilder(nil).str(fieldPartitionKeyTable, "k").
			bytes(fieldRecords, pbBuilder(userRecord(0, -1, "x")).bytes(fieldTags, []byte{0x0A, 0x09}))), BadProtobuf},
		// A schema error does not hide a wire error further on: a protobuf parser rejects
		// the whole message, so the record is not an aggregate at all.
		"wire error after an index out of range": {frame(pbBuilder(nil).str(fieldPartitionKeyTable, "k").
			bytes(fieldRecords, userRecord(7, -1, "x")).bytes(fieldRecords, []byte{0x1A, 0x09})), BadProtobuf},
		"wire error after a bad explicit hash key": {frame(pbBuilder(nil).str(fieldPartitionKeyTable, "k").
			str(fieldExplicitHashKeyTable, "x").bytes(fieldRecords, []byte{0x08})), BadProtobuf},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			rec := testRecord(tt.data)
			rec.ExplicitHashKey = "42"
			prefix := UserRecord{PartitionKey: "earlier"}
			got, res, err := NewDeaggregator(HashKeyRange{}).Append([]UserRecord{prefix}, rec)
			if err != nil {
				t.Fatal(err)
			}
			if res != (Result{Kind: tt.want, Records: 1}) {
				t.Errorf("result %+v, want kind %v and 1 record", res, tt.want)
			}
			want := []UserRecord{prefix, {
				Data: tt.data, PartitionKey: "outer", ExplicitHashKey: "42",
				SequenceNumber: testSeq, ApproximateArrivalTimestamp: rec.ApproximateArrivalTimestamp,
			}}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("user records (-want +got):\n%s", diff)
			}
			if len(tt.data) > 0 && unsafe.SliceData(got[1].Data) != unsafe.SliceData(tt.data) {
				t.Error("passed-through data was copied")
			}
		})
	}
}

func TestCorrupt(t *testing.T) {
	// Clipped, so that each test case appending to them gets its own copy.
	tables := slices.Clip(pbBuilder(nil).str(fieldPartitionKeyTable, "k0").str(fieldPartitionKeyTable, "k1").str(fieldExplicitHashKeyTable, "5"))
	ok := slices.Clip(userRecord(0, -1, "fine"))
	tests := map[string]struct {
		pb         []byte
		userRecord int
		is         error
	}{
		"partition key index past table": {
			pbBuilder(tables).bytes(fieldRecords, ok).bytes(fieldRecords, userRecord(2, -1, "x")), 1, ErrIndexOutOfRange},
		"huge partition key index": {
			pbBuilder(tables).bytes(fieldRecords, userRecord(1<<63, -1, "x")), 0, ErrIndexOutOfRange},
		"explicit hash key index past table": {
			pbBuilder(tables).bytes(fieldRecords, ok).bytes(fieldRecords, ok).bytes(fieldRecords, userRecord(1, 1, "x")), 2, ErrIndexOutOfRange},
		"explicit hash key index without table": {
			pbBuilder(nil).str(fieldPartitionKeyTable, "k").bytes(fieldRecords, userRecord(0, 0, "x")), 0, ErrIndexOutOfRange},
		"no partition key table": {
			pbBuilder(nil).bytes(fieldRecords, userRecord(0, -1, "x")), 0, ErrIndexOutOfRange},
		"partition key index missing": {
			pbBuilder(tables).bytes(fieldRecords, pbBuilder(nil).str(fieldData, "x")), 0, ErrMissingField},
		"data missing": {
			pbBuilder(tables).bytes(fieldRecords, pbBuilder(nil).varint(fieldPartitionKeyIndex, 0)), 0, ErrMissingField},
		"partition key index sent as bytes": {
			pbBuilder(tables).bytes(fieldRecords, pbBuilder(nil).str(fieldPartitionKeyIndex, "0").str(fieldData, "x")), 0, ErrMissingField},
		"tag without key": {
			pbBuilder(tables).bytes(fieldRecords, pbBuilder(ok).bytes(fieldTags, pbBuilder(nil).str(2, "v"))), 0, ErrMissingField},
		"explicit hash key not decimal": {
			pbBuilder(tables).str(fieldExplicitHashKeyTable, "0x10").bytes(fieldRecords, ok), -1, ErrHashKeySyntax},
		"explicit hash key negative": {
			pbBuilder(tables).str(fieldExplicitHashKeyTable, "-1").bytes(fieldRecords, ok), -1, ErrHashKeySyntax},
		"explicit hash key empty": {
			pbBuilder(tables).str(fieldExplicitHashKeyTable, "").bytes(fieldRecords, ok), -1, ErrHashKeySyntax},
		"explicit hash key 2^128": {
			pbBuilder(tables).str(fieldExplicitHashKeyTable, "340282366920938463463374607431768211456").bytes(fieldRecords, ok), -1, ErrHashKeyRange},
		"first of several errors is reported": {
			pbBuilder(tables).bytes(fieldRecords, ok).bytes(fieldRecords, userRecord(9, -1, "x")).bytes(fieldRecords, pbBuilder(nil).str(fieldData, "x")), 1, ErrIndexOutOfRange},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			for _, d := range []*Deaggregator{new(Deaggregator), NewDeaggregator(FullRange()), NewDeaggregator(HashKeyRange{})} {
				prefix := []UserRecord{{PartitionKey: "earlier"}}
				got, res, err := d.Append(prefix, testRecord(frame(tt.pb)))
				var ce *CorruptError
				if !errors.As(err, &ce) {
					t.Fatalf("error %v, want a *CorruptError", err)
				}
				if ce.SequenceNumber != testSeq || ce.UserRecord != tt.userRecord || !errors.Is(err, tt.is) {
					t.Errorf("error %+v (%v), want record %s, user record %d, wrapping %v", ce, err, testSeq, tt.userRecord, tt.is)
				}
				if res != (Result{Kind: Aggregated}) {
					t.Errorf("result %+v, want Aggregated with no records", res)
				}
				if diff := cmp.Diff(prefix, got); diff != "" {
					t.Errorf("dst changed (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// 100,000 empty user records take 200 KB of protobuf; room for them in dst would take
// 10 MB, which a corrupt aggregate must not claim.
func TestCorruptAggregateClaimsNoMemory(t *testing.T) {
	pb := pbBuilder(nil).str(fieldPartitionKeyTable, "k")
	for range 100_000 {
		pb = pb.bytes(fieldRecords, nil)
	}
	got, _, err := Deaggregate(testRecord(frame(pb)))
	if !errors.Is(err, ErrMissingField) || cap(got) != 0 {
		t.Fatalf("Deaggregate = cap %d, %v; want no room taken and ErrMissingField", cap(got), err)
	}
}

func TestCorruptExplicitHashKeyIsAHashKeyError(t *testing.T) {
	pb := pbBuilder(nil).str(fieldPartitionKeyTable, "k").str(fieldExplicitHashKeyTable, "12a").bytes(fieldRecords, userRecord(0, 0, "x"))
	_, _, err := Deaggregate(testRecord(frame(pb)))
	var he *HashKeyError
	if !errors.As(err, &he) || he.Input != "12a" {
		t.Fatalf("error %v, want a *HashKeyError for %q", err, "12a")
	}
}

func TestAggregates(t *testing.T) {
	type user struct {
		pk, ehk, data string
	}
	tests := map[string]struct {
		pb   []byte
		want []user
	}{
		"explicit hash key on some records": {
			pbBuilder(nil).str(fieldPartitionKeyTable, "a").str(fieldPartitionKeyTable, "b").str(fieldExplicitHashKeyTable, "7").
				bytes(fieldRecords, userRecord(1, -1, "one")).bytes(fieldRecords, userRecord(0, 0, "two")).bytes(fieldRecords, userRecord(1, 0, "three")),
			[]user{{"b", "", "one"}, {"a", "7", "two"}, {"b", "7", "three"}}},
		"records before tables": {
			pbBuilder(nil).bytes(fieldRecords, userRecord(0, 0, "x")).str(fieldExplicitHashKeyTable, "0").str(fieldPartitionKeyTable, "p"),
			[]user{{"p", "0", "x"}}},
		"unknown fields at every level": {
			pbBuilder(nil).varint(9, 1).str(fieldPartitionKeyTable, "p").varint(fieldPartitionKeyTable, 3).
				bytes(fieldRecords, pbBuilder(userRecord(0, -1, "x")).varint(15, 2).str(16, "junk")).
				bytes(99, []byte("ignored")),
			[]user{{"p", "", "x"}}},
		"tags are accepted and not delivered": {
			pbBuilder(nil).str(fieldPartitionKeyTable, "p").
				bytes(fieldRecords, pbBuilder(userRecord(0, -1, "x")).bytes(fieldTags, pbBuilder(nil).str(1, "k").str(2, "v")).bytes(fieldTags, pbBuilder(nil).str(1, "k2"))),
			[]user{{"p", "", "x"}}},
		"empty data and empty key": {
			pbBuilder(nil).str(fieldPartitionKeyTable, "").bytes(fieldRecords, userRecord(0, -1, "")),
			[]user{{"", "", ""}}},
		"last value of a repeated scalar wins": {
			pbBuilder(nil).str(fieldPartitionKeyTable, "a").str(fieldPartitionKeyTable, "b").
				bytes(fieldRecords, pbBuilder(nil).varint(fieldPartitionKeyIndex, 0).str(fieldData, "old").varint(fieldPartitionKeyIndex, 1).str(fieldData, "new")),
			[]user{{"b", "", "new"}}},
		"explicit hash key with leading zeros, as sent": {
			pbBuilder(nil).str(fieldPartitionKeyTable, "p").str(fieldExplicitHashKeyTable, "0042").bytes(fieldRecords, userRecord(0, 0, "x")),
			[]user{{"p", "0042", "x"}}},
		"tables without records": {
			pbBuilder(nil).str(fieldPartitionKeyTable, "p"), nil},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			rec := testRecord(frame(tt.pb))
			got, res, err := Deaggregate(rec)
			if err != nil {
				t.Fatal(err)
			}
			var want []UserRecord
			for i, u := range tt.want {
				want = append(want, UserRecord{
					Data: []byte(u.data), PartitionKey: u.pk, ExplicitHashKey: u.ehk,
					SequenceNumber: testSeq, SubSequenceNumber: uint64(i), ApproximateArrivalTimestamp: rec.ApproximateArrivalTimestamp,
				})
			}
			if res != (Result{Kind: Aggregated, Records: len(want)}) {
				t.Errorf("result %+v, want Aggregated with %d records", res, len(want))
			}
			if diff := cmp.Diff(want, got, cmp.Comparer(bytes.Equal)); diff != "" {
				t.Errorf("user records (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDataAliasesInputAndIsCapped(t *testing.T) {
	pb := pbBuilder(nil).str(fieldPartitionKeyTable, "p").bytes(fieldRecords, userRecord(0, -1, "first")).bytes(fieldRecords, userRecord(0, -1, "second"))
	data := frame(pb)
	got, _, err := Deaggregate(testRecord(data))
	if err != nil || len(got) != 2 {
		t.Fatalf("Deaggregate = %d records, %v", len(got), err)
	}
	for _, u := range got {
		start := uintptr(unsafe.Pointer(unsafe.SliceData(u.Data)))
		base := uintptr(unsafe.Pointer(unsafe.SliceData(data)))
		if start < base || start+uintptr(len(u.Data)) > base+uintptr(len(data)) {
			t.Errorf("data %q does not alias the input", u.Data)
		}
		if cap(u.Data) != len(u.Data) {
			t.Errorf("data %q has capacity %d beyond its length", u.Data, cap(u.Data))
		}
	}
	_ = append(got[0].Data, "XXXXXXXXXXXXXXXX"...)
	if string(got[1].Data) != "second" {
		t.Errorf("appending to one user record's data changed the next: %q", got[1].Data)
	}
}

func TestKeysDoNotAliasInput(t *testing.T) {
	pb := pbBuilder(nil).str(fieldPartitionKeyTable, "key").str(fieldExplicitHashKeyTable, "123").bytes(fieldRecords, userRecord(0, 0, "x"))
	data := frame(pb)
	got, _, err := Deaggregate(testRecord(data))
	if err != nil {
		t.Fatal(err)
	}
	for i := range data {
		data[i] = '9'
	}
	if got[0].PartitionKey != "key" || got[0].ExplicitHashKey != "123" {
		t.Errorf("keys changed with the input: %q, %q", got[0].PartitionKey, got[0].ExplicitHashKey)
	}
}

// A Deaggregator reuses its buffers; nothing of one record may leak into the next.
func TestDeaggregatorReuse(t *testing.T) {
	big := pbBuilder(nil).str(fieldPartitionKeyTable, "a").str(fieldPartitionKeyTable, "b").str(fieldExplicitHashKeyTable, "1").
		bytes(fieldRecords, userRecord(1, 0, "x")).bytes(fieldRecords, userRecord(0, -1, "y"))
	small := pbBuilder(nil).str(fieldPartitionKeyTable, "c").bytes(fieldRecords, userRecord(0, 0, "z"))
	tiny := pbBuilder(nil).str(fieldPartitionKeyTable, "d").bytes(fieldRecords, userRecord(0, -1, "w"))
	var d Deaggregator
	var dst []UserRecord
	if _, _, err := d.Append(dst, testRecord(frame(big))); err != nil {
		t.Fatal(err)
	}
	// The explicit hash key table of the previous aggregate must not satisfy index 0.
	if _, _, err := d.Append(dst, testRecord(frame(small))); !errors.Is(err, ErrIndexOutOfRange) {
		t.Fatalf("error %v, want ErrIndexOutOfRange", err)
	}
	got, _, err := d.Append(dst[:0], testRecord(frame(tiny)))
	if err != nil || len(got) != 1 || got[0].PartitionKey != "d" || string(got[0].Data) != "w" || got[0].ExplicitHashKey != "" {
		t.Fatalf("got %+v, %v", got, err)
	}
}

func TestAppendAllocations(t *testing.T) {
	e := NewEncoder(MaxRecordSize)
	for i := range 50 {
		e.Add(Entry{Data: []byte("some user data"), PartitionKey: fmt.Sprintf("key-%d", i%26)})
	}
	agg := testRecord(e.Encode(nil))
	plain := testRecord([]byte("not aggregated"))
	dst := make([]UserRecord, 0, 64)
	const calls = 1000
	tests := map[string]struct {
		rec   Record
		alias bool
		max   float64
	}{
		// 26 keys of 5 or 6 bytes: under 200 bytes a call, copied into 16 KiB buffers.
		"aggregate: buffers for the key strings only": {agg, false, calls*200/keyChunk + 1},
		"aggregate with AliasKeys":                    {agg, true, 0},
		"passthrough":                                 {plain, false, 0},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			d := Deaggregator{AliasKeys: tt.alias}
			d.Append(dst, tt.rec) // size the Deaggregator's scratch buffers
			allocs := testing.AllocsPerRun(1, func() {
				for range calls {
					d.Append(dst[:0], tt.rec)
				}
			})
			if allocs > tt.max {
				t.Errorf("%v allocations in %d calls, want at most %v", allocs, calls, tt.max)
			}
		})
	}
}

func TestAliasKeys(t *testing.T) {
	pb := pbBuilder(nil).str(fieldPartitionKeyTable, "a").str(fieldExplicitHashKeyTable, "12").
		bytes(fieldRecords, userRecord(0, 0, "x")).str(fieldPartitionKeyTable, "late").bytes(fieldRecords, userRecord(1, -1, "y"))
	data := frame(pb)
	copied, _, err := Deaggregate(testRecord(data))
	if err != nil {
		t.Fatal(err)
	}
	d := Deaggregator{AliasKeys: true}
	aliased, _, err := d.Append(nil, testRecord(data))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(copied, aliased); diff != "" {
		t.Fatalf("AliasKeys changed the user records (-copied +aliased):\n%s", diff)
	}
	inside := func(s string) bool {
		p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
		base := uintptr(unsafe.Pointer(unsafe.SliceData(data)))
		return p >= base && p+uintptr(len(s)) <= base+uintptr(len(data))
	}
	for _, u := range aliased {
		if !inside(u.PartitionKey) || (u.ExplicitHashKey != "" && !inside(u.ExplicitHashKey)) {
			t.Errorf("keys %q/%q were copied", u.PartitionKey, u.ExplicitHashKey)
		}
	}
	for _, u := range copied {
		if inside(u.PartitionKey) || inside(u.ExplicitHashKey) {
			t.Errorf("keys %q/%q alias the input without AliasKeys", u.PartitionKey, u.ExplicitHashKey)
		}
	}
}

// Aggregates share the buffer their keys are copied into; keys handed out earlier must
// not change as later ones are copied.
func TestKeysSurviveLaterAggregates(t *testing.T) {
	var d Deaggregator
	var kept []UserRecord
	var want []string
	for i := range 2000 {
		pk := fmt.Sprintf("key-%d-%s", i, strings.Repeat("x", i%50))
		ehk := fmt.Sprint(i)
		pb := pbBuilder(nil).str(fieldPartitionKeyTable, pk).str(fieldExplicitHashKeyTable, ehk).bytes(fieldRecords, userRecord(0, 0, "d"))
		data := frame(pb)
		got, _, err := d.Append(nil, testRecord(data))
		if err != nil {
			t.Fatal(err)
		}
		clear(data) // the caller reuses its buffer
		kept = append(kept, got...)
		want = append(want, pk+"/"+ehk)
	}
	for i, u := range kept {
		if u.PartitionKey+"/"+u.ExplicitHashKey != want[i] {
			t.Fatalf("user record %d has keys %q/%q, want %s", i, u.PartitionKey, u.ExplicitHashKey, want[i])
		}
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{Aggregated: "Aggregated", NotAggregated: "NotAggregated", TooShort: "TooShort",
		BadChecksum: "BadChecksum", BadProtobuf: "BadProtobuf", Kind(9): "Kind(9)"} {
		if k.String() != want {
			t.Errorf("%d.String() = %q, want %q", k, k.String(), want)
		}
	}
}

// protowire must accept what pbBuilder writes; a typo there would make the tests above
// pass for the wrong reason.
func TestPBBuilderIsWireFormat(t *testing.T) {
	b := pbBuilder(nil).str(1, "x").varint(2, 300).bytes(3, []byte{1})
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			t.Fatal("bad tag")
		}
		b = b[n:]
		if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
			t.Fatal("bad value")
		}
		b = b[n:]
	}
}
