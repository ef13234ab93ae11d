package aggregation

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// randomEntries makes user records with the variety a producer can send: repeated and
// empty partition keys, multi-byte keys, explicit hash keys on some records (some with
// leading zeros, some at the ends of the range), and empty to large data.
func randomEntries(rng *rand.Rand, n int) []Entry {
	pool := []string{"", "a", "user-42", "ключ", strings.Repeat("p", 256), fmt.Sprint(rng.Uint64())}
	out := make([]Entry, n)
	for i := range out {
		e := &out[i]
		if rng.IntN(3) == 0 {
			e.PartitionKey = pool[rng.IntN(len(pool))]
		} else {
			e.PartitionKey = fmt.Sprintf("%016x-%d", rng.Uint64(), i)
		}
		switch rng.IntN(6) {
		case 0:
			e.ExplicitHashKey = HashKey{Hi: rng.Uint64(), Lo: rng.Uint64()}.String()
		case 1:
			e.ExplicitHashKey = "000" + HashKey{Lo: rng.Uint64N(1000)}.String()
		case 2:
			e.ExplicitHashKey = []string{"0", MaxHashKey().String()}[rng.IntN(2)]
		}
		size := rng.IntN(200)
		if rng.IntN(20) == 0 {
			size = rng.IntN(5000)
		}
		e.Data = make([]byte, size)
		for j := range e.Data {
			e.Data[j] = byte(rng.Uint32())
		}
	}
	return out
}

// canonical is what the KPL would deliver for en: the explicit hash key as a number.
func canonical(t *testing.T, en Entry) Entry {
	if en.ExplicitHashKey != "" {
		h, err := ParseHashKey(en.ExplicitHashKey)
		if err != nil {
			t.Fatal(err)
		}
		en.ExplicitHashKey = h.String()
	}
	return en
}

func TestRoundTripProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(20240501, 3))
	var d Deaggregator
	var dst []UserRecord
	for iter := range 300 {
		in := randomEntries(rng, 1+rng.IntN(60))
		maxSize := []int{0, 500, 4096, MaxRecordSize - 1}[rng.IntN(4)]
		out, err := Aggregate(in, maxSize)
		if err != nil {
			t.Fatal(err)
		}
		var got []Entry
		for _, rec := range out {
			var res Result
			dst, res, err = d.Append(dst[:0], Record{Data: rec.Data, PartitionKey: rec.PartitionKey, ExplicitHashKey: rec.ExplicitHashKey, SequenceNumber: "1"})
			if err != nil {
				t.Fatalf("iteration %d: %v", iter, err)
			}
			for i, u := range dst {
				if u.SubSequenceNumber != uint64(i) {
					t.Fatalf("iteration %d: sub-sequence number %d at %d", iter, u.SubSequenceNumber, i)
				}
				got = append(got, Entry{Data: u.Data, PartitionKey: u.PartitionKey, ExplicitHashKey: u.ExplicitHashKey})
			}
			if res.Kind != Aggregated {
				// A lone record went out as it is, carrying its effective hash key.
				h, _ := EffectiveHashKey(rec.PartitionKey, in[len(got)-1].ExplicitHashKey)
				if rec.ExplicitHashKey != h.String() {
					t.Fatalf("iteration %d: lone record routed by %s, want %s", iter, rec.ExplicitHashKey, h)
				}
				got[len(got)-1].ExplicitHashKey = in[len(got)-1].ExplicitHashKey
			}
		}
		want := make([]Entry, len(in))
		for i, en := range in {
			want[i] = canonical(t, en)
		}
		for i := range got {
			got[i] = canonical(t, got[i])
		}
		if diff := cmp.Diff(want, got, cmp.Comparer(bytes.Equal)); diff != "" {
			t.Fatalf("iteration %d (max size %d): entries after a round trip (-want +got):\n%s", iter, maxSize, diff)
		}
	}
}

// Encoding what was decoded gives the same bytes: the encoding is canonical.
func TestReencodeIsIdentical(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for range 200 {
		e := NewEncoder(MaxRecordSize * 10)
		for _, en := range randomEntries(rng, 1+rng.IntN(100)) {
			e.Add(en)
		}
		first := e.Encode(nil)
		if len(first) != e.Size() {
			t.Fatalf("Size() = %d, Encode wrote %d bytes", e.Size(), len(first))
		}
		users, _, err := Deaggregate(Record{Data: first})
		if err != nil {
			t.Fatal(err)
		}
		again := NewEncoder(MaxRecordSize * 10)
		for _, u := range users {
			again.Add(Entry{Data: u.Data, PartitionKey: u.PartitionKey, ExplicitHashKey: u.ExplicitHashKey})
		}
		if second := again.Encode(nil); !bytes.Equal(first, second) {
			t.Fatalf("re-encoded bytes differ:\n%x\n%x", first, second)
		}
	}
}
