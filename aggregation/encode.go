package aggregation

import (
	"crypto/md5"
	"fmt"
	"slices"

	"google.golang.org/protobuf/encoding/protowire"
)

// Encoder packs user records into one KPL aggregate, writing the bytes the KPL writes for
// the same records: the partition keys, then the explicit hash keys, each table
// deduplicated in order of first use, then the user records; explicit_hash_key_index
// only for user records that have one.
//
// Like the KPL, it is meant for user records bound for one shard: Kinesis routes an
// aggregate by its first user record's hash key, and a consumer that filters by hash key
// (see NewDeaggregator) drops the user records that do not belong to that shard.
//
// The Encoder keeps the Data slices it is given until it is reset; they must not change
// before then. It is not safe for concurrent use. Its zero value uses DefaultMaxSize.
type Encoder struct {
	maxSize int
	pks     keyTable
	ehks    keyTable
	recs    []encRecord
	pbSize  int     // length of the protobuf so far
	first   HashKey // effective hash key of the first user record
}

type encRecord struct {
	pk, ehk uint64
	hasEHK  bool
	data    []byte
	size    int // length of the Record message
}

// keyTable is a deduplicated key table in order of first use.
type keyTable struct {
	index map[string]uint64
	keys  []string
}

func (t *keyTable) lookup(k string) (uint64, bool) {
	i, ok := t.index[k]
	if !ok {
		return uint64(len(t.keys)), false
	}
	return i, true
}

func (t *keyTable) add(k string) {
	if t.index == nil {
		t.index = make(map[string]uint64)
	}
	t.index[k] = uint64(len(t.keys))
	t.keys = append(t.keys, k)
}

func (t *keyTable) reset() {
	clear(t.index)
	clear(t.keys)
	t.keys = t.keys[:0]
}

// NewEncoder returns an Encoder whose aggregates stay within maxSize bytes of record data
// (magic, protobuf and checksum), like the KPL's AggregationMaxSize; maxSize <= 0 means
// DefaultMaxSize.
func NewEncoder(maxSize int) *Encoder {
	return &Encoder{maxSize: maxSize}
}

// Add adds a user record and reports true, or reports false and leaves the Encoder as it
// was if the record would take the aggregate past the size limit. A record is always
// accepted into an empty Encoder, even one larger than the limit: the KPL sends such a
// record on its own. The error reports an explicit hash key that is not a hash key.
func (e *Encoder) Add(en Entry) (bool, error) {
	var h HashKey
	ehk := ""
	if en.ExplicitHashKey != "" {
		var err error
		if h, err = ParseHashKey(en.ExplicitHashKey); err != nil {
			return false, err
		}
		// The KPL writes the parsed number back in decimal, so "007" goes out as "7".
		var buf [39]byte
		if canon := h.appendDecimal(buf[:0]); string(canon) == en.ExplicitHashKey {
			ehk = en.ExplicitHashKey
		} else {
			ehk = string(canon)
		}
	}

	grow := 0
	pk, pkKnown := e.pks.lookup(en.PartitionKey)
	if !pkKnown {
		grow += protowire.SizeTag(fieldPartitionKeyTable) + protowire.SizeBytes(len(en.PartitionKey))
	}
	r := encRecord{pk: pk, data: en.Data, hasEHK: ehk != ""}
	r.size = protowire.SizeTag(fieldPartitionKeyIndex) + protowire.SizeVarint(pk) +
		protowire.SizeTag(fieldData) + protowire.SizeBytes(len(en.Data))
	ehkKnown := false
	if r.hasEHK {
		r.ehk, ehkKnown = e.ehks.lookup(ehk)
		if !ehkKnown {
			grow += protowire.SizeTag(fieldExplicitHashKeyTable) + protowire.SizeBytes(len(ehk))
		}
		r.size += protowire.SizeTag(fieldExplicitHashKeyIndex) + protowire.SizeVarint(r.ehk)
	}
	grow += protowire.SizeTag(fieldRecords) + protowire.SizeBytes(r.size)
	limit := e.maxSize
	if limit <= 0 {
		limit = DefaultMaxSize
	}
	if len(e.recs) > 0 && overhead+e.pbSize+grow > limit {
		return false, nil
	}

	if !pkKnown {
		e.pks.add(en.PartitionKey)
	}
	if r.hasEHK && !ehkKnown {
		e.ehks.add(ehk)
	}
	if len(e.recs) == 0 {
		if !r.hasEHK {
			h = HashPartitionKey(en.PartitionKey)
		}
		e.first = h
	}
	e.recs = append(e.recs, r)
	e.pbSize += grow
	return true, nil
}

// Len returns the number of user records added since the last reset.
func (e *Encoder) Len() int { return len(e.recs) }

// Size returns the length of the aggregate Encode would append, 0 when empty.
func (e *Encoder) Size() int {
	if len(e.recs) == 0 {
		return 0
	}
	return overhead + e.pbSize
}

// Encode appends the aggregate of the user records added so far to dst, even if there is
// only one; with none it appends nothing, as an empty aggregate is not valid. The
// Encoder is left as it was.
func (e *Encoder) Encode(dst []byte) []byte {
	if len(e.recs) == 0 {
		return dst
	}
	dst = slices.Grow(dst, e.Size())
	dst = append(dst, magic...)
	start := len(dst)
	for _, k := range e.pks.keys {
		dst = protowire.AppendTag(dst, fieldPartitionKeyTable, protowire.BytesType)
		dst = protowire.AppendString(dst, k)
	}
	for _, k := range e.ehks.keys {
		dst = protowire.AppendTag(dst, fieldExplicitHashKeyTable, protowire.BytesType)
		dst = protowire.AppendString(dst, k)
	}
	for _, r := range e.recs {
		dst = protowire.AppendTag(dst, fieldRecords, protowire.BytesType)
		dst = protowire.AppendVarint(dst, uint64(r.size))
		dst = protowire.AppendTag(dst, fieldPartitionKeyIndex, protowire.VarintType)
		dst = protowire.AppendVarint(dst, r.pk)
		if r.hasEHK {
			dst = protowire.AppendTag(dst, fieldExplicitHashKeyIndex, protowire.VarintType)
			dst = protowire.AppendVarint(dst, r.ehk)
		}
		dst = protowire.AppendTag(dst, fieldData, protowire.BytesType)
		dst = protowire.AppendBytes(dst, r.data)
	}
	sum := md5.Sum(dst[start:])
	return append(dst, sum[:]...)
}

// Flush returns the Kinesis record the KPL would put for the user records added so far,
// and resets the Encoder; ok is false if there are none. A lone user record goes out as
// it is, not aggregated; several go out as an aggregate with partition key "a". Either
// way the explicit hash key is the first user record's effective hash key, which sends
// the record to that user record's shard.
func (e *Encoder) Flush() (out Entry, ok bool) {
	switch len(e.recs) {
	case 0:
		return Entry{}, false
	case 1:
		out = Entry{Data: e.recs[0].data, PartitionKey: e.pks.keys[0]}
	default:
		out = Entry{Data: e.Encode(nil), PartitionKey: "a"}
	}
	out.ExplicitHashKey = e.first.String()
	e.Reset()
	return out, true
}

// Reset empties the Encoder, keeping its memory for the next aggregate.
func (e *Encoder) Reset() {
	e.pks.reset()
	e.ehks.reset()
	clear(e.recs) // release the callers' data
	e.recs = e.recs[:0]
	e.pbSize = 0
	e.first = HashKey{}
}

// Aggregate packs entries, in order, into as few Kinesis records as the size limit
// allows, each built as Flush builds it; maxSize <= 0 means DefaultMaxSize. As with the
// Encoder, the entries should all belong to one shard.
func Aggregate(entries []Entry, maxSize int) ([]Entry, error) {
	e := NewEncoder(maxSize)
	var out []Entry
	for i, en := range entries {
		added, err := e.Add(en)
		if err != nil {
			return nil, fmt.Errorf("aggregation: entry %d: %w", i, err)
		}
		if added {
			continue
		}
		rec, _ := e.Flush()
		out = append(out, rec)
		_, _ = e.Add(en) // an empty Encoder takes it, and its key parsed above
	}
	if rec, ok := e.Flush(); ok {
		out = append(out, rec)
	}
	return out, nil
}
