package aggregation

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestEncodeLayout(t *testing.T) {
	tests := map[string]struct {
		in   []Entry
		want pbBuilder
	}{
		"tables deduplicated in order of first use": {
			[]Entry{{Data: []byte("1"), PartitionKey: "b"}, {Data: []byte("2"), PartitionKey: "a"}, {Data: []byte("3"), PartitionKey: "b"}},
			pbBuilder(nil).str(fieldPartitionKeyTable, "b").str(fieldPartitionKeyTable, "a").
				bytes(fieldRecords, userRecord(0, -1, "1")).bytes(fieldRecords, userRecord(1, -1, "2")).bytes(fieldRecords, userRecord(0, -1, "3")),
		},
		"explicit hash key index only where set": {
			[]Entry{{Data: []byte("1"), PartitionKey: "p"}, {Data: []byte("2"), PartitionKey: "p", ExplicitHashKey: "9"}},
			pbBuilder(nil).str(fieldPartitionKeyTable, "p").str(fieldExplicitHashKeyTable, "9").
				bytes(fieldRecords, userRecord(0, -1, "1")).bytes(fieldRecords, userRecord(0, 0, "2")),
		},
		"explicit hash keys written in canonical decimal, as the KPL does": {
			[]Entry{{Data: []byte("1"), PartitionKey: "p", ExplicitHashKey: "007"}, {Data: []byte("2"), PartitionKey: "p", ExplicitHashKey: "7"}, {Data: []byte("3"), PartitionKey: "p", ExplicitHashKey: "0"}},
			pbBuilder(nil).str(fieldPartitionKeyTable, "p").str(fieldExplicitHashKeyTable, "7").str(fieldExplicitHashKeyTable, "0").
				bytes(fieldRecords, userRecord(0, 0, "1")).bytes(fieldRecords, userRecord(0, 0, "2")).bytes(fieldRecords, userRecord(0, 1, "3")),
		},
		"empty data is still written": {
			[]Entry{{PartitionKey: "p"}},
			pbBuilder(nil).str(fieldPartitionKeyTable, "p").bytes(fieldRecords, userRecord(0, -1, "")),
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			e := NewEncoder(0)
			for _, en := range tt.in {
				if ok, err := e.Add(en); !ok || err != nil {
					t.Fatalf("Add = %v, %v", ok, err)
				}
			}
			want := frame(tt.want)
			got := e.Encode([]byte("prefix"))
			if !bytes.Equal(got, append([]byte("prefix"), want...)) {
				t.Errorf("Encode =\n%x\nwant prefix then\n%x", got, want)
			}
			if e.Size() != len(want) || e.Len() != len(tt.in) {
				t.Errorf("Size, Len = %d, %d; want %d, %d", e.Size(), e.Len(), len(want), len(tt.in))
			}
		})
	}
}

func TestEncoderSizeLimit(t *testing.T) {
	entry := Entry{Data: []byte(strings.Repeat("x", 100)), PartitionKey: "key"}
	probe := NewEncoder(MaxRecordSize)
	probe.Add(entry)
	probe.Add(entry)
	two := probe.Size()

	tests := map[string]struct {
		maxSize int
		want    []bool
	}{
		"exactly two fit":                  {two, []bool{true, true, false}},
		"one byte short of two":            {two - 1, []bool{true, false, false}},
		"a lone oversize record is taken":  {10, []bool{true, false}},
		"default limit is the KPL default": {0, []bool{true, true, true}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			e := NewEncoder(tt.maxSize)
			var got []bool
			for range tt.want {
				before := e.Encode(nil)
				ok, err := e.Add(entry)
				if err != nil {
					t.Fatal(err)
				}
				if !ok && !bytes.Equal(before, e.Encode(nil)) {
					t.Error("a refused Add changed the aggregate")
				}
				got = append(got, ok)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Add results (-want +got):\n%s", diff)
			}
			if e.Len() > 1 && tt.maxSize > 0 && e.Size() > tt.maxSize {
				t.Errorf("aggregate of %d bytes exceeds the limit %d", e.Size(), tt.maxSize)
			}
		})
	}
	if DefaultMaxSize != 51200 {
		t.Errorf("DefaultMaxSize = %d, want the KPL's AggregationMaxSize default 51200", DefaultMaxSize)
	}
	// The zero value and NewEncoder(0) both pack up to DefaultMaxSize.
	big := Entry{Data: make([]byte, DefaultMaxSize/2-100), PartitionKey: "p"}
	for name, e := range map[string]*Encoder{"zero value": {}, "NewEncoder(0)": NewEncoder(0)} {
		ok1, _ := e.Add(big)
		ok2, _ := e.Add(big)
		ok3, _ := e.Add(big)
		if !ok1 || !ok2 || ok3 || e.Size() > DefaultMaxSize {
			t.Errorf("%s: Add = %v %v %v, size %d; want two records within %d bytes", name, ok1, ok2, ok3, e.Size(), DefaultMaxSize)
		}
	}
}

func TestEncoderRejectsBadExplicitHashKey(t *testing.T) {
	e := NewEncoder(0)
	e.Add(Entry{Data: []byte("ok"), PartitionKey: "p"})
	before := e.Encode(nil)
	for _, ehk := range []string{"x", "-1", "340282366920938463463374607431768211456"} {
		ok, err := e.Add(Entry{Data: []byte("bad"), PartitionKey: "q", ExplicitHashKey: ehk})
		var he *HashKeyError
		if ok || !errors.As(err, &he) {
			t.Errorf("Add with explicit hash key %q = %v, %v; want false and a *HashKeyError", ehk, ok, err)
		}
	}
	if !bytes.Equal(before, e.Encode(nil)) {
		t.Error("a failed Add changed the aggregate")
	}
}

func TestEncoderFlush(t *testing.T) {
	a := Entry{Data: []byte("first"), PartitionKey: "pk-a"}
	b := Entry{Data: []byte("second"), PartitionKey: "pk-b", ExplicitHashKey: "0099"}
	tests := map[string]struct {
		in   []Entry
		want func(agg []byte) Entry
	}{
		"a lone record goes out as it is": {[]Entry{a}, func([]byte) Entry {
			return Entry{Data: a.Data, PartitionKey: "pk-a", ExplicitHashKey: HashPartitionKey("pk-a").String()}
		}},
		"a lone record with an explicit hash key keeps it, canonical": {[]Entry{b}, func([]byte) Entry {
			return Entry{Data: b.Data, PartitionKey: "pk-b", ExplicitHashKey: "99"}
		}},
		"several go out aggregated, routed by the first": {[]Entry{b, a}, func(agg []byte) Entry {
			return Entry{Data: agg, PartitionKey: "a", ExplicitHashKey: "99"}
		}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			e := NewEncoder(0)
			for _, en := range tt.in {
				e.Add(en)
			}
			want := tt.want(e.Encode(nil))
			got, ok := e.Flush()
			if !ok {
				t.Fatal("Flush reported nothing to flush")
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Flush (-want +got):\n%s", diff)
			}
			if e.Len() != 0 || e.Size() != 0 {
				t.Errorf("after Flush: Len %d, Size %d", e.Len(), e.Size())
			}
			if _, ok := e.Flush(); ok {
				t.Error("a second Flush had something to flush")
			}
		})
	}
}

func TestEncoderResetForgetsTables(t *testing.T) {
	e := NewEncoder(0)
	e.Add(Entry{Data: []byte("1"), PartitionKey: "old", ExplicitHashKey: "1"})
	e.Reset()
	e.Add(Entry{Data: []byte("2"), PartitionKey: "new"})
	want := frame(pbBuilder(nil).str(fieldPartitionKeyTable, "new").bytes(fieldRecords, userRecord(0, -1, "2")))
	if got := e.Encode(nil); !bytes.Equal(got, want) {
		t.Errorf("after Reset, Encode = %x, want %x", got, want)
	}
}

func TestEncodeEmptyAppendsNothing(t *testing.T) {
	if got := NewEncoder(0).Encode([]byte("x")); string(got) != "x" {
		t.Errorf("Encode of an empty Encoder = %q", got)
	}
}

func TestAggregate(t *testing.T) {
	var in []Entry
	for i := range 300 {
		in = append(in, Entry{Data: bytes.Repeat([]byte{byte(i)}, 50+i%70), PartitionKey: strings.Repeat("k", 1+i%40)})
	}
	const limit = 2000
	out, err := Aggregate(in, limit)
	if err != nil {
		t.Fatal(err)
	}
	var back []Entry
	for i, rec := range out {
		if len(rec.Data) > limit {
			t.Errorf("record %d has %d bytes, limit %d", i, len(rec.Data), limit)
		}
		users, res, err := Deaggregate(Record{Data: rec.Data, PartitionKey: rec.PartitionKey})
		if err != nil || res.Kind != Aggregated {
			t.Fatalf("record %d: %+v, %v", i, res, err)
		}
		first, _ := users[0].HashKey()
		if rec.PartitionKey != "a" || rec.ExplicitHashKey != first.String() {
			t.Errorf("record %d routed by %q/%q, want a/%s", i, rec.PartitionKey, rec.ExplicitHashKey, first)
		}
		for _, u := range users {
			back = append(back, Entry{Data: u.Data, PartitionKey: u.PartitionKey})
		}
		// Greedy packing: the next entry did not fit.
		if i+1 < len(out) {
			e := NewEncoder(limit)
			for _, u := range users {
				e.Add(Entry{Data: u.Data, PartitionKey: u.PartitionKey})
			}
			if ok, _ := e.Add(in[len(back)]); ok {
				t.Errorf("record %d closed although entry %d fits", i, len(back))
			}
		}
	}
	if diff := cmp.Diff(in, back); diff != "" {
		t.Errorf("entries after a round trip (-want +got):\n%s", diff)
	}
	if _, err := Aggregate([]Entry{{PartitionKey: "p", ExplicitHashKey: "nope"}}, 0); !errors.Is(err, ErrHashKeySyntax) {
		t.Errorf("Aggregate with a bad explicit hash key: %v", err)
	}
}
