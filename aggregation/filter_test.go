package aggregation

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestFilter(t *testing.T) {
	// User records with explicit hash keys 10, 20, 30 and one routed by its partition key.
	pkHash := HashPartitionKey("p")
	e := NewEncoder(MaxRecordSize)
	for _, en := range []Entry{
		{Data: []byte("ten"), PartitionKey: "p", ExplicitHashKey: "10"},
		{Data: []byte("twenty"), PartitionKey: "p", ExplicitHashKey: "20"},
		{Data: []byte("thirty"), PartitionKey: "p", ExplicitHashKey: "30"},
		{Data: []byte("by key"), PartitionKey: "p"},
	} {
		e.Add(en)
	}
	rec := testRecord(e.Encode(nil))
	tests := map[string]struct {
		keep     HashKeyRange
		wantSubs []uint64
	}{
		"full range keeps all":               {FullRange(), []uint64{0, 1, 2, 3}},
		"both ends inclusive":                {HashKeyRange{HashKey{Lo: 10}, HashKey{Lo: 30}}, []uint64{0, 1, 2}},
		"middle only, numbers unchanged":     {HashKeyRange{HashKey{Lo: 11}, HashKey{Lo: 29}}, []uint64{1}},
		"start just past":                    {HashKeyRange{HashKey{Lo: 31}, HashKey{Lo: 40}}, nil},
		"partition key hash only":            {HashKeyRange{pkHash, pkHash}, []uint64{3}},
		"upper half (MD5 of p is 0x8387...)": {HashKeyRange{HashKey{Hi: 1 << 63}, MaxHashKey()}, []uint64{3}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, res, err := NewDeaggregator(tt.keep).Append(nil, rec)
			if err != nil {
				t.Fatal(err)
			}
			var subs []uint64
			for _, u := range got {
				subs = append(subs, u.SubSequenceNumber)
			}
			if diff := cmp.Diff(tt.wantSubs, subs); diff != "" {
				t.Errorf("kept sub-sequence numbers (-want +got):\n%s", diff)
			}
			if want := (Result{Kind: Aggregated, Records: len(tt.wantSubs), Dropped: 4 - len(tt.wantSubs)}); res != want {
				t.Errorf("result %+v, want %+v", res, want)
			}
		})
	}
}

// The KCL drops a whole aggregate when one user record is outside the shard; here the
// in-range records of a KPL sample survive.
func TestFilterKeepsInRangeRecordsOfKPLSample(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			data := vectorBytes(t, &v)
			all, _, err := Deaggregate(Record{Data: data, SequenceNumber: v.SequenceNumber})
			if err != nil || len(all) < 2 {
				t.Fatalf("Deaggregate = %d records, %v", len(all), err)
			}
			// A shard owning exactly the first user record's hash key.
			h, err := all[0].HashKey()
			if err != nil {
				t.Fatal(err)
			}
			got, res, err := NewDeaggregator(HashKeyRange{h, h}).Append(nil, Record{Data: data, SequenceNumber: v.SequenceNumber})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0].SubSequenceNumber != 0 || res.Dropped != len(all)-1 {
				t.Errorf("kept %d records, dropped %d; want the first kept and %d dropped", len(got), res.Dropped, len(all)-1)
			}
		})
	}
}

func TestPassthroughIsNeverFiltered(t *testing.T) {
	got, res, err := NewDeaggregator(HashKeyRange{}).Append(nil, testRecord([]byte("plain")))
	if err != nil || len(got) != 1 || res != (Result{Kind: NotAggregated, Records: 1}) {
		t.Fatalf("got %d records, %+v, %v", len(got), res, err)
	}
}

func TestParseHashKeyRange(t *testing.T) {
	tests := map[string]struct {
		start, end string
		want       HashKeyRange
		wantErr    bool
	}{
		"whole space":      {"0", "340282366920938463463374607431768211455", FullRange(), false},
		"single key":       {"7", "7", HashKeyRange{HashKey{Lo: 7}, HashKey{Lo: 7}}, false},
		"reversed":         {"8", "7", HashKeyRange{}, true},
		"bad start":        {"x", "7", HashKeyRange{}, true},
		"end beyond 2^128": {"0", "340282366920938463463374607431768211456", HashKeyRange{}, true},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParseHashKeyRange(tt.start, tt.end)
			if got != tt.want || (err != nil) != tt.wantErr {
				t.Errorf("ParseHashKeyRange = %v, %v; want %v, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
	if _, err := ParseHashKeyRange("0", "-1"); !errors.Is(err, ErrHashKeySyntax) {
		t.Errorf("error %v does not wrap ErrHashKeySyntax", err)
	}
}
