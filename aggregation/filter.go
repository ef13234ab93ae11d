package aggregation

import "fmt"

// HashKeyRange is a shard's hash-key range; both ends are inclusive, as in Kinesis.
type HashKeyRange struct {
	Start, End HashKey
}

// FullRange returns the range of all hash keys, which every stream's shards cover.
func FullRange() HashKeyRange {
	return HashKeyRange{End: MaxHashKey()}
}

// ParseHashKeyRange parses a shard's StartingHashKey and EndingHashKey.
func ParseHashKeyRange(start, end string) (HashKeyRange, error) {
	s, err := ParseHashKey(start)
	if err != nil {
		return HashKeyRange{}, err
	}
	e, err := ParseHashKey(end)
	if err != nil {
		return HashKeyRange{}, err
	}
	if s.Compare(e) > 0 {
		return HashKeyRange{}, fmt.Errorf("aggregation: hash key range starts at %s, after its end %s", start, end)
	}
	return HashKeyRange{Start: s, End: e}, nil
}

// Contains reports whether h lies in r, ends included.
func (r HashKeyRange) Contains(h HashKey) bool {
	return r.Start.Compare(h) <= 0 && h.Compare(r.End) <= 0
}

// NewDeaggregator returns a Deaggregator that keeps only the user records of aggregates
// whose effective hash key lies in keep, normally the range of the shard being read.
// Records that were not aggregated are always kept: Kinesis routed them to the shard
// itself, possibly by an explicit hash key that it does not return.
func NewDeaggregator(keep HashKeyRange) *Deaggregator {
	return &Deaggregator{keep: keep, filter: true}
}

// inRange reports whether user record r belongs to the Deaggregator's range. Partition
// keys are hashed from pb on first use and remembered for the rest of the aggregate:
// producers repeat keys, and keys whose records carry an explicit hash key never need
// hashing.
func (d *Deaggregator) inRange(pb []byte, r *rawRecord) bool {
	var h HashKey
	if r.has&hasEHK != 0 {
		h = d.ehkHash[r.ehk]
	} else {
		if !d.pkHashed[r.pk] {
			s := d.pkSpans[r.pk]
			d.pkHash[r.pk] = hashBytes(pb[s.start:s.end])
			d.pkHashed[r.pk] = true
		}
		h = d.pkHash[r.pk]
	}
	return d.keep.Contains(h)
}
