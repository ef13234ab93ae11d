package aggregation

import (
	"bytes"
	stdcmp "cmp"
	"crypto/md5"
	"errors"
	"math/big"
	"math/rand/v2"
	"os"
	"regexp"
	"slices"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"
)

// addSeeds gives a fuzz target the KPL samples and a few aggregates of every shape, as
// Kinesis record data (framed) or as bare protobuf.
func addSeeds(f *testing.F, framed bool) {
	vs, path, missing, err := readVectors()
	switch {
	case missing && os.Getenv("CI") != "true":
		f.Logf("KPL samples not found at %s; fuzzing without them", path)
	case err != nil:
		f.Fatalf("KPL samples: %v", err)
	}
	var seeds [][]byte
	for _, v := range vs {
		data, err := v.data()
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, data)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	for _, n := range []int{1, 2, 5, 20} {
		e := NewEncoder(MaxRecordSize)
		for _, en := range randomEntries(rng, n) {
			e.Add(en)
		}
		seeds = append(seeds, e.Encode(nil))
	}
	tables := pbBuilder(nil).str(fieldPartitionKeyTable, "k").str(fieldExplicitHashKeyTable, "5")
	seeds = append(seeds,
		frame(pbBuilder(tables).bytes(fieldRecords, userRecord(3, -1, "index out of range"))),
		frame(pbBuilder(tables).bytes(fieldRecords, pbBuilder(userRecord(0, 0, "tagged")).bytes(fieldTags, pbBuilder(nil).str(1, "k")))),
		frame(pbBuilder(nil).bytes(fieldRecords, userRecord(0, -1, "x")).str(fieldPartitionKeyTable, "late table")),
		[]byte("not aggregated"), []byte(magic), frame(nil), nil,
	)
	for i, s := range seeds {
		if !framed {
			if k, pb := unwrap(s); k == Aggregated {
				s = pb
			}
		}
		f.Add(s, uint64(i)<<60, uint64(i))
	}
}

// FuzzDeaggregate feeds arbitrary Kinesis record data to the decoder. Mutations rarely
// keep the checksum valid, so this mostly exercises the passthrough paths; see
// FuzzDeaggregateProtobuf for the parser.
func FuzzDeaggregate(f *testing.F) {
	addSeeds(f, true)
	f.Fuzz(func(t *testing.T, data []byte, hi, lo uint64) {
		checkDeaggregate(t, data, HashKey{Hi: hi, Lo: lo})
	})
}

// FuzzDeaggregateProtobuf frames arbitrary bytes as an aggregate with a valid checksum,
// so that every input reaches the protobuf parser.
func FuzzDeaggregateProtobuf(f *testing.F) {
	addSeeds(f, false)
	f.Fuzz(func(t *testing.T, pb []byte, hi, lo uint64) {
		checkDeaggregate(t, frame(pb), HashKey{Hi: hi, Lo: lo})
	})
}

// checkDeaggregate decodes data and checks everything that must hold whatever it is.
// split divides the hash-key space into two ranges that two filtered decodes must
// partition the user records between.
func checkDeaggregate(t *testing.T, data []byte, split HashKey) {
	rec := testRecord(data)
	sentinel := UserRecord{PartitionKey: "sentinel", SubSequenceNumber: 99}
	var d Deaggregator
	got, res, err := d.Append([]UserRecord{sentinel}, rec)
	if len(got) == 0 || !cmp.Equal(got[0], sentinel) {
		t.Fatal("Append changed what dst held")
	}
	users := got[1:]
	wantKind := framing(data)

	switch {
	case err != nil:
		var ce *CorruptError
		if !errors.As(err, &ce) || ce.SequenceNumber != rec.SequenceNumber {
			t.Fatalf("error %v is not a *CorruptError naming the record", err)
		}
		if wantKind != Aggregated || res != (Result{Kind: Aggregated}) || len(users) != 0 {
			t.Fatalf("error %v with framing %v, result %+v, %d user records", err, wantKind, res, len(users))
		}
	case res.Kind != Aggregated:
		if wantKind != Aggregated && res.Kind != wantKind {
			t.Fatalf("kind %v, framing says %v", res.Kind, wantKind)
		}
		if wantKind == Aggregated && res.Kind != BadProtobuf {
			t.Fatalf("kind %v for an aggregate with a valid checksum", res.Kind)
		}
		if res != (Result{Kind: res.Kind, Records: 1}) || len(users) != 1 ||
			!cmp.Equal(users[0], passthrough(rec)) || unsafe.SliceData(users[0].Data) != unsafe.SliceData(data) {
			t.Fatalf("passthrough %+v gave %+v, want the record itself", res, users)
		}
	default:
		if wantKind != Aggregated || res.Records != len(users) || res.Dropped != 0 {
			t.Fatalf("result %+v with framing %v and %d user records", res, wantKind, len(users))
		}
		checkUserRecords(t, data, rec, users)
		checkReencode(t, users)
	}

	// Decoding again with the same Deaggregator gives the same answer, and so does
	// one that does not copy the keys.
	again, res2, err2 := d.Append(nil, rec)
	if res2 != res || (err == nil) != (err2 == nil) || !sameUserRecords(again, users) {
		t.Fatal("a second decode with the same Deaggregator differs")
	}
	aliasing := Deaggregator{AliasKeys: true}
	aliased, res3, err3 := aliasing.Append(nil, rec)
	if res3 != res || (err == nil) != (err3 == nil) || !sameUserRecords(aliased, users) {
		t.Fatal("a decode with AliasKeys differs")
	}

	checkFilter(t, rec, split, users, res, err)
}

// framing classifies data the way the facts describe, independently of unwrap.
func framing(data []byte) Kind {
	switch {
	case !bytes.HasPrefix(data, []byte(magic)):
		return NotAggregated
	case len(data) <= len(magic)+md5.Size:
		return TooShort
	}
	sum := md5.Sum(data[len(magic) : len(data)-md5.Size])
	if !bytes.Equal(sum[:], data[len(data)-md5.Size:]) {
		return BadChecksum
	}
	return Aggregated
}

func checkUserRecords(t *testing.T, data []byte, rec Record, users []UserRecord) {
	base := uintptr(unsafe.Pointer(unsafe.SliceData(data)))
	for i, u := range users {
		if u.SubSequenceNumber != uint64(i) || u.SequenceNumber != rec.SequenceNumber || !u.ApproximateArrivalTimestamp.Equal(rec.ApproximateArrivalTimestamp) {
			t.Fatalf("user record %d: %+v", i, u)
		}
		if len(u.Data) > 0 {
			p := uintptr(unsafe.Pointer(unsafe.SliceData(u.Data)))
			if p < base+uintptr(len(magic)) || p+uintptr(len(u.Data)) > base+uintptr(len(data)-md5.Size) {
				t.Fatalf("user record %d: data is not inside the protobuf", i)
			}
		}
		if cap(u.Data) != len(u.Data) {
			t.Fatalf("user record %d: data capacity reaches past it", i)
		}
		if u.ExplicitHashKey != "" {
			if _, err := ParseHashKey(u.ExplicitHashKey); err != nil {
				t.Fatalf("user record %d delivered with %v", i, err)
			}
		}
	}
}

// checkReencode encodes the user records again: decoding that gives them back, and
// encoding is canonical (a second round gives the same bytes).
func checkReencode(t *testing.T, users []UserRecord) {
	if len(users) == 0 {
		return // an aggregate without user records has no encoding
	}
	encode := func(us []UserRecord) []byte {
		e := NewEncoder(1 << 40)
		for _, u := range us {
			if ok, err := e.Add(Entry{Data: u.Data, PartitionKey: u.PartitionKey, ExplicitHashKey: u.ExplicitHashKey}); !ok || err != nil {
				t.Fatalf("re-encoding: Add = %v, %v", ok, err)
			}
		}
		return e.Encode(nil)
	}
	first := encode(users)
	back, res, err := Deaggregate(testRecord(first))
	if err != nil || res.Kind != Aggregated || len(back) != len(users) {
		t.Fatalf("re-encoded aggregate decodes to %d user records, %+v, %v", len(back), res, err)
	}
	for i := range users {
		a, b := users[i], back[i]
		ha, _ := a.HashKey()
		hb, _ := b.HashKey()
		if !bytes.Equal(a.Data, b.Data) || a.PartitionKey != b.PartitionKey || (a.ExplicitHashKey == "") != (b.ExplicitHashKey == "") || ha != hb {
			t.Fatalf("user record %d after re-encoding: %+v, was %+v", i, b, a)
		}
	}
	if second := encode(back); !bytes.Equal(first, second) {
		t.Fatal("encoding is not canonical: a second round trip changed the bytes")
	}
}

// checkFilter decodes rec with two Deaggregators whose ranges split the hash-key space
// at split: together they must keep each user record exactly once, in its own range.
func checkFilter(t *testing.T, rec Record, split HashKey, users []UserRecord, res Result, err error) {
	ranges := []HashKeyRange{{End: split}}
	if split != MaxHashKey() {
		next := split
		next.Lo++
		if next.Lo == 0 {
			next.Hi++
		}
		ranges = append(ranges, HashKeyRange{Start: next, End: MaxHashKey()})
	}
	var kept []UserRecord
	dropped := 0
	for _, r := range ranges {
		part, pres, perr := NewDeaggregator(r).Append(nil, rec)
		if (perr == nil) != (err == nil) || pres.Kind != res.Kind {
			t.Fatalf("filtering by %v: %+v, %v; unfiltered %+v, %v", r, pres, perr, res, err)
		}
		if perr != nil {
			return
		}
		if res.Kind != Aggregated {
			if len(part) != 1 || pres.Dropped != 0 {
				t.Fatalf("filtering by %v dropped a record that was not aggregated", r)
			}
			continue
		}
		if pres.Records != len(part) {
			t.Fatalf("filtering by %v: result %+v, %d user records", r, pres, len(part))
		}
		for _, u := range part {
			h, herr := u.HashKey()
			if herr != nil || !r.Contains(h) {
				t.Fatalf("filtering by %v kept a user record with hash key %v (%v)", r, h, herr)
			}
		}
		kept = append(kept, part...)
		dropped += pres.Dropped
	}
	if res.Kind != Aggregated {
		return
	}
	if dropped != len(users)*(len(ranges)-1) {
		t.Fatalf("the ranges dropped %d user records in all, want %d", dropped, len(users)*(len(ranges)-1))
	}
	sortBySub(kept)
	if !sameUserRecords(kept, users) {
		t.Fatal("the two ranges together did not keep exactly the unfiltered user records")
	}
}

// sameUserRecords compares user records, treating nil and empty slices as equal.
func sameUserRecords(a, b []UserRecord) bool {
	return len(a) == len(b) && (len(a) == 0 || cmp.Equal(a, b, cmp.Comparer(bytes.Equal)))
}

func sortBySub(us []UserRecord) {
	slices.SortFunc(us, func(a, b UserRecord) int { return stdcmp.Compare(a.SubSequenceNumber, b.SubSequenceNumber) })
}

// FuzzParseHashKey checks the parser against math/big: the same values accepted, the
// same numbers, and decimal text that parses back to the same key.
func FuzzParseHashKey(f *testing.F) {
	for _, s := range []string{"0", "1", "18446744073709551616", "340282366920938463463374607431768211455",
		"340282366920938463463374607431768211456", "0007", "", "-1", "+1", "1e5", "１", "99999999999999999999999999999999999999999999x"} {
		f.Add(s)
	}
	digits := regexp.MustCompile(`^[0-9]+$`)
	limit := new(big.Int).Lsh(big.NewInt(1), 128)
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseHashKey(s)
		want, isNum := new(big.Int).SetString(s, 10)
		switch {
		case !digits.MatchString(s):
			if !errors.Is(err, ErrHashKeySyntax) {
				t.Fatalf("ParseHashKey(%q) = %v, %v; want a syntax error", s, h, err)
			}
		case !isNum || want.Cmp(limit) >= 0:
			if !errors.Is(err, ErrHashKeyRange) {
				t.Fatalf("ParseHashKey(%q) = %v, %v; want a range error", s, h, err)
			}
		default:
			if err != nil || bigOf(h).Cmp(want) != 0 {
				t.Fatalf("ParseHashKey(%q) = %v, %v; want %v", s, h, err, want)
			}
			if h.String() != want.String() {
				t.Fatalf("String() = %s, want %s", h, want)
			}
			if back, err := ParseHashKey(h.String()); err != nil || back != h {
				t.Fatalf("ParseHashKey(String()) = %v, %v", back, err)
			}
		}
	})
}
