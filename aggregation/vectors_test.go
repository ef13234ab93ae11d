package aggregation

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// vectorBytes returns a sample's data after checking it against the sample's own length
// and SHA-256, so a damaged file fails here rather than as a puzzling decode mismatch.
func vectorBytes(t *testing.T, v *kplVector) []byte {
	t.Helper()
	data, err := v.data()
	if err != nil {
		t.Fatalf("data_base64: %v", err)
	}
	sum := sha256.Sum256(data)
	if len(data) != v.DataLen || hex.EncodeToString(sum[:]) != v.DataSHA256 {
		t.Fatalf("data does not match data_len/data_sha256 of the sample")
	}
	return data
}

func expectedUserRecords(v *kplVector, arrival time.Time) []UserRecord {
	var want []UserRecord
	for _, e := range v.Expected {
		u := UserRecord{
			Data:                        []byte(e.DataUTF8),
			PartitionKey:                e.PartitionKey,
			SequenceNumber:              v.SequenceNumber,
			SubSequenceNumber:           e.SubSequenceNumber,
			ApproximateArrivalTimestamp: arrival,
		}
		if e.ExplicitHashKey != nil {
			u.ExplicitHashKey = *e.ExplicitHashKey
		}
		want = append(want, u)
	}
	return want
}

func TestKPLVectorsDecode(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			data := vectorBytes(t, &v)
			arrival := time.Date(2015, 10, 1, 0, 0, 0, 0, time.UTC)
			rec := Record{Data: data, PartitionKey: v.OuterPartitionKey, SequenceNumber: v.SequenceNumber, ApproximateArrivalTimestamp: arrival}
			got, res, err := Deaggregate(rec)
			if err != nil {
				t.Fatal(err)
			}
			wantKind := NotAggregated
			if v.Aggregated {
				wantKind = Aggregated
			}
			want := expectedUserRecords(&v, arrival)
			if res != (Result{Kind: wantKind, Records: len(want)}) {
				t.Errorf("result %+v, want kind %v with %d records", res, wantKind, len(want))
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("user records (-want +got):\n%s", diff)
			}
		})
	}
}

func TestKPLVectorsEncode(t *testing.T) {
	for _, v := range loadVectors(t) {
		if !v.Aggregated {
			continue
		}
		t.Run(v.Name, func(t *testing.T) {
			data := vectorBytes(t, &v)
			e := NewEncoder(MaxRecordSize - 1)
			for _, u := range expectedUserRecords(&v, time.Time{}) {
				if ok, err := e.Add(Entry{Data: u.Data, PartitionKey: u.PartitionKey, ExplicitHashKey: u.ExplicitHashKey}); !ok || err != nil {
					t.Fatalf("Add = %v, %v", ok, err)
				}
			}
			if got := e.Encode(nil); !bytes.Equal(got, data) {
				t.Fatalf("encoded bytes differ from the KPL's\n got %x\nwant %x", got, data)
			}
			if e.Size() != len(data) {
				t.Errorf("Size() = %d, want %d", e.Size(), len(data))
			}
			out, _ := e.Flush()
			if out.PartitionKey != v.OuterPartitionKey || !bytes.Equal(out.Data, data) {
				t.Errorf("Flush = partition key %q, %d bytes; want %q and the sample", out.PartitionKey, len(out.Data), v.OuterPartitionKey)
			}
		})
	}
}
