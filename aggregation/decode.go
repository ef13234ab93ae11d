package aggregation

import (
	"bytes"
	"crypto/md5"
	"fmt"
	"slices"
	"strings"
	"unsafe"

	"google.golang.org/protobuf/encoding/protowire"
)

// Kind says how a Kinesis record was read: as a KPL aggregate, or passed through whole,
// and then why.
type Kind uint8

const (
	// Aggregated: a valid KPL aggregate, expanded into its user records.
	Aggregated Kind = iota
	// NotAggregated: the data does not start with the KPL magic bytes.
	NotAggregated
	// TooShort: the magic bytes are there but nothing fits between them and a checksum.
	TooShort
	// BadChecksum: the MD5 at the end does not match the protobuf.
	BadChecksum
	// BadProtobuf: the checksum matches but the bytes are not protobuf wire format.
	BadProtobuf
)

func (k Kind) String() string {
	switch k {
	case Aggregated:
		return "Aggregated"
	case NotAggregated:
		return "NotAggregated"
	case TooShort:
		return "TooShort"
	case BadChecksum:
		return "BadChecksum"
	case BadProtobuf:
		return "BadProtobuf"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Result describes one call to Append.
type Result struct {
	// Kind is Aggregated, or why the record was passed through as one user record.
	Kind Kind
	// Records is how many user records were appended.
	Records int
	// Dropped is how many user records of the aggregate were outside the
	// Deaggregator's hash-key range.
	Dropped int
}

// Deaggregator expands Kinesis records into user records. Its zero value keeps every
// user record; NewDeaggregator makes one that filters by hash key. It reuses internal
// buffers from call to call, so it is meant to live as long as the shard it reads. It
// is not safe for concurrent use and must not be copied after first use.
type Deaggregator struct {
	// AliasKeys makes the PartitionKey and ExplicitHashKey of user records point into
	// the Kinesis record's data, as Data does, instead of into copies: nothing is then
	// allocated at all. Set it only if the data of records passed to Append is never
	// modified afterwards, which holds for records the AWS SDK decodes; a string whose
	// bytes change breaks maps and comparisons that hold it.
	AliasKeys bool

	keep   HashKeyRange
	filter bool

	// Where the fields of the aggregate being read lie in its protobuf.
	pkSpans, ehkSpans, recSpans []span
	// The key tables, resolved.
	pks, ehks []string
	ehkHash   []HashKey
	pkHash    []HashKey // valid where pkHashed is set; filled only when filtering
	pkHashed  []bool
	// Copies of key table entries; see copyKeys.
	keys strings.Builder
}

type span struct{ start, end int }

// Deaggregate expands one Kinesis record without filtering. It allocates a result slice
// every call; a consumer should keep a Deaggregator and use Append.
func Deaggregate(rec Record) ([]UserRecord, Result, error) {
	var d Deaggregator
	return d.Append(nil, rec)
}

// Append expands rec and appends its user records to dst, in aggregate order.
//
// A record that is not a valid aggregate is appended unchanged as one user record with
// sub-sequence number 0, and Result.Kind says why. A valid aggregate's user records get
// the sub-sequence numbers 0..n-1 (user records outside the hash-key range are left out
// and counted in Result.Dropped). Data is never copied: user records' data alias
// rec.Data. Key strings are copied, so that they stay immutable whatever happens to
// rec.Data later, into buffers shared by successive aggregates: nothing is allocated
// per user record, and about one allocation per 16 KiB of keys (none with AliasKeys).
//
// If the aggregate breaks the schema despite a valid checksum, Append returns dst with
// nothing appended and a *CorruptError.
func (d *Deaggregator) Append(dst []UserRecord, rec Record) ([]UserRecord, Result, error) {
	kind, pb := unwrap(rec.Data)
	if kind == Aggregated && !d.scan(pb) {
		kind = BadProtobuf
	}
	if kind != Aggregated {
		return append(dst, passthrough(rec)), Result{Kind: kind, Records: 1}, nil
	}
	return d.expand(dst, rec, pb)
}

// unwrap checks the framing of an aggregate and returns its protobuf bytes.
func unwrap(data []byte) (Kind, []byte) {
	if len(data) < len(magic) || string(data[:len(magic)]) != magic {
		return NotAggregated, nil
	}
	// An empty protobuf is rejected as well, as the KCL does: an aggregate holds at least
	// one user record.
	if len(data) <= overhead {
		return TooShort, nil
	}
	pb := data[len(magic) : len(data)-checksumSize]
	sum := md5.Sum(pb)
	if !bytes.Equal(sum[:], data[len(data)-checksumSize:]) {
		return BadChecksum, nil
	}
	return Aggregated, pb
}

func passthrough(rec Record) UserRecord {
	return UserRecord{
		Data:                        rec.Data,
		PartitionKey:                rec.PartitionKey,
		ExplicitHashKey:             rec.ExplicitHashKey,
		SequenceNumber:              rec.SequenceNumber,
		ApproximateArrivalTimestamp: rec.ApproximateArrivalTimestamp,
	}
}

// scan walks the top level of an AggregatedRecord and notes where its table entries and
// user records are, so the tables can be resolved before any user record is read
// (protobuf allows any field order). It reports false if pb is not wire format.
//
// This and rawRecord.parse decode one-byte varints inline and call protowire only for
// longer ones: tags, indexes and most lengths in an aggregate are one byte, and calls
// per field are a measurable share of the cost per user record.
func (d *Deaggregator) scan(pb []byte) bool {
	d.pkSpans, d.ehkSpans, d.recSpans = d.pkSpans[:0], d.ehkSpans[:0], d.recSpans[:0]
	for off := 0; off < len(pb); {
		key := uint64(pb[off])
		if key < 0x80 {
			off++
		} else {
			var n int
			if key, n = protowire.ConsumeVarint(pb[off:]); n < 0 {
				return false
			}
			off += n
		}
		// A known field number with another wire type is an unknown field to protobuf
		// parsers, so only the length-delimited forms count.
		switch key {
		case keyPartitionKeyTable, keyExplicitHashKeyTable, keyRecords:
			l, n := uint64(0), 1
			if off < len(pb) && pb[off] < 0x80 {
				l = uint64(pb[off])
			} else if l, n = protowire.ConsumeVarint(pb[off:]); n < 0 {
				return false
			}
			off += n
			if l > uint64(len(pb)-off) {
				return false
			}
			s := span{off, off + int(l)}
			off = s.end
			switch key {
			case keyPartitionKeyTable:
				d.pkSpans = append(d.pkSpans, s)
			case keyExplicitHashKeyTable:
				d.ehkSpans = append(d.ehkSpans, s)
			default:
				d.recSpans = append(d.recSpans, s)
			}
		default:
			n := skipField(key, pb[off:])
			if n < 0 {
				return false
			}
			off += n
		}
	}
	return true
}

// skipField returns the length of the value of the field with tag key, or a negative
// number if the tag or the value is not wire format.
func skipField(key uint64, b []byte) int {
	num, typ := protowire.DecodeTag(key)
	if num < protowire.MinValidNumber {
		return -1
	}
	return protowire.ConsumeFieldValue(num, typ, b)
}

// expand resolves the tables and appends the user records. A protobuf error in any user
// record makes the whole record a passthrough, as a protobuf parser would reject the
// whole message; so once a schema error is found the remaining user records are still
// checked for wire errors, and the schema error is reported only if there are none.
func (d *Deaggregator) expand(dst []UserRecord, rec Record, pb []byte) ([]UserRecord, Result, error) {
	base := len(dst)
	var bad *CorruptError
	if err := d.resolveTables(pb); err != nil {
		bad = &CorruptError{SequenceNumber: rec.SequenceNumber, UserRecord: -1, Err: err}
	}
	dropped := 0
	var ur rawRecord
	for i, s := range d.recSpans {
		if !ur.parse(pb[s.start:s.end]) {
			clear(dst[base:])
			return append(dst[:base], passthrough(rec)), Result{Kind: BadProtobuf, Records: 1}, nil
		}
		if bad != nil {
			continue
		}
		if !ur.valid(len(d.pks), len(d.ehks)) {
			bad = &CorruptError{SequenceNumber: rec.SequenceNumber, UserRecord: i, Err: ur.invalid(len(d.pks), len(d.ehks))}
			continue
		}
		ehk := ""
		if ur.has&hasEHK != 0 {
			ehk = d.ehks[ur.ehk]
		}
		if d.filter && !d.inRange(pb, &ur) {
			dropped++
			continue
		}
		// Grown here rather than for all user records up front: an aggregate of empty,
		// invalid records would otherwise claim memory for records never delivered.
		// Every field is stored, so the element needs no zeroing first; and field
		// stores are cheaper than copying a whole struct, which takes a bulk write
		// barrier while the GC runs.
		if len(dst) == cap(dst) {
			dst = slices.Grow(dst, 1)
		}
		dst = dst[:len(dst)+1]
		u := &dst[len(dst)-1]
		u.Data = ur.data[:len(ur.data):len(ur.data)]
		u.PartitionKey = d.pks[ur.pk]
		u.ExplicitHashKey = ehk
		u.SequenceNumber = rec.SequenceNumber
		u.SubSequenceNumber = uint64(i)
		u.ApproximateArrivalTimestamp = rec.ApproximateArrivalTimestamp
		u.Corrupt = false
	}
	if bad != nil {
		clear(dst[base:]) // drop references into rec.Data held beyond len
		return dst[:base], Result{Kind: Aggregated}, bad
	}
	return dst, Result{Kind: Aggregated, Records: len(dst) - base, Dropped: dropped}, nil
}

// resolveTables turns the key tables into strings and parses the explicit hash keys.
func (d *Deaggregator) resolveTables(pb []byte) error {
	d.pks = resize(d.pks, len(d.pkSpans))
	d.ehks = resize(d.ehks, len(d.ehkSpans))
	d.copyKeys(pb)
	d.ehkHash = resize(d.ehkHash, len(d.ehkSpans))
	for i, s := range d.ehkSpans {
		h, err := parseDecimal(pb[s.start:s.end])
		if err != nil {
			return fmt.Errorf("explicit_hash_key_table[%d]: %w", i, &HashKeyError{Input: d.ehks[i], Err: err})
		}
		d.ehkHash[i] = h
	}
	if d.filter {
		d.pkHash = resize(d.pkHash, len(d.pkSpans))
		d.pkHashed = resize(d.pkHashed, len(d.pkSpans))
		clear(d.pkHashed)
	}
	return nil
}

// keyChunk is the smallest buffer the Deaggregator copies keys into. Several aggregates
// share one, which spreads the cost of an allocation over them; a key kept by the
// application keeps its whole buffer alive, so it is not larger.
const keyChunk = 16 << 10

// copyKeys fills d.pks and d.ehks with copies of the table entries, or with strings
// over pb itself if d.AliasKeys is set. Copies are written to d.keys and cut from it;
// bytes written there are never written again, so the strings stay immutable.
//
// The KPL writes the tables first and together, so the cheapest copy is of the stretch
// of pb from the first key to the last, field headers included. Entries spread out among
// the records (protobuf allows any order) are copied one by one instead, so that the
// copy stays about the size of the keys.
func (d *Deaggregator) copyKeys(pb []byte) {
	n := len(d.pkSpans) + len(d.ehkSpans)
	if n == 0 {
		return
	}
	if d.AliasKeys {
		for i, s := range d.pkSpans {
			d.pks[i] = aliasString(pb[s.start:s.end])
		}
		for i, s := range d.ehkSpans {
			d.ehks[i] = aliasString(pb[s.start:s.end])
		}
		return
	}
	lo, hi, total := len(pb), 0, 0
	for _, spans := range [2][]span{d.pkSpans, d.ehkSpans} {
		for _, s := range spans {
			lo, hi, total = min(lo, s.start), max(hi, s.end), total+s.end-s.start
		}
	}
	// A field header is at most 6 bytes: a one-byte tag and a length under 4 GiB.
	together := hi-lo <= total+6*n
	need := total
	if together {
		need = hi - lo
	}
	if d.keys.Cap()-d.keys.Len() < need {
		d.keys = strings.Builder{} // strings cut from the old buffer keep it alive
		d.keys.Grow(max(need, keyChunk))
	}
	start := d.keys.Len()
	if together {
		d.keys.Write(pb[lo:hi])
		keys := d.keys.String()[start:]
		for i, s := range d.pkSpans {
			d.pks[i] = keys[s.start-lo : s.end-lo]
		}
		for i, s := range d.ehkSpans {
			d.ehks[i] = keys[s.start-lo : s.end-lo]
		}
		return
	}
	for _, spans := range [2][]span{d.pkSpans, d.ehkSpans} {
		for _, s := range spans {
			d.keys.Write(pb[s.start:s.end])
		}
	}
	keys := d.keys.String()[start:]
	for i, s := range d.pkSpans {
		d.pks[i], keys = keys[:s.end-s.start], keys[s.end-s.start:]
	}
	for i, s := range d.ehkSpans {
		d.ehks[i], keys = keys[:s.end-s.start], keys[s.end-s.start:]
	}
}

// aliasString returns a string sharing b's bytes, which the caller promises will not
// change (see Deaggregator.AliasKeys).
func aliasString(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// resize returns s with length n, reusing its array when it is large enough.
func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// rawRecord is a user record as the protobuf has it, before its indexes are resolved.
type rawRecord struct {
	pk, ehk uint64
	data    []byte
	has     uint8 // which fields were present: the has* bits
}

const (
	hasPK uint8 = 1 << iota
	hasEHK
	hasData
	hasTagWithoutKey
)

// parse reads a Record message into r; it reports false if b is not wire format.
func (r *rawRecord) parse(b []byte) bool {
	r.has = 0 // the other fields are read only where a bit says they were set
	for off := 0; off < len(b); {
		key := uint64(b[off])
		if key < 0x80 {
			off++
		} else {
			var n int
			if key, n = protowire.ConsumeVarint(b[off:]); n < 0 {
				return false
			}
			off += n
		}
		switch key {
		case keyPartitionKeyIndex, keyExplicitHashKeyIndex, keyData, keyTags:
			// Each starts with a varint: the index, or the length of the bytes.
			v, n := uint64(0), 1
			if off < len(b) && b[off] < 0x80 {
				v = uint64(b[off])
			} else if v, n = protowire.ConsumeVarint(b[off:]); n < 0 {
				return false
			}
			off += n
			switch key {
			case keyPartitionKeyIndex:
				r.pk = v
				r.has |= hasPK
			case keyExplicitHashKeyIndex:
				r.ehk = v
				r.has |= hasEHK
			default:
				if v > uint64(len(b)-off) {
					return false
				}
				field := b[off : off+int(v)]
				off += int(v)
				if key == keyData {
					r.data = field
					r.has |= hasData
				} else {
					hasKey, ok := parseTag(field)
					if !ok {
						return false
					}
					if !hasKey {
						r.has |= hasTagWithoutKey
					}
				}
			}
		default:
			n := skipField(key, b[off:])
			if n < 0 {
				return false
			}
			off += n
		}
	}
	return true
}

// parseTag checks a Tag message, which no deaggregated output carries, for wire errors
// and for its required key.
func parseTag(b []byte) (hasKey, ok bool) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return false, false
		}
		b = b[n:]
		if num == fieldTagKey && typ == protowire.BytesType {
			hasKey = true
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return false, false
		}
		b = b[n:]
	}
	return hasKey, true
}

// valid reports whether r satisfies the schema and its indexes fit tables of the given
// sizes. It is the cheap test run for every user record; invalid says what is wrong.
func (r *rawRecord) valid(pks, ehks int) bool {
	return r.has&(hasPK|hasData|hasTagWithoutKey) == hasPK|hasData &&
		r.pk < uint64(pks) && (r.has&hasEHK == 0 || r.ehk < uint64(ehks))
}

func (r *rawRecord) invalid(pks, ehks int) error {
	switch {
	case r.has&hasPK == 0:
		return fmt.Errorf("%w: partition_key_index", ErrMissingField)
	case r.has&hasData == 0:
		return fmt.Errorf("%w: data", ErrMissingField)
	case r.has&hasTagWithoutKey != 0:
		return fmt.Errorf("%w: tags.key", ErrMissingField)
	case r.pk >= uint64(pks):
		return fmt.Errorf("%w: partition_key_index %d, table has %d", ErrIndexOutOfRange, r.pk, pks)
	default:
		return fmt.Errorf("%w: explicit_hash_key_index %d, table has %d", ErrIndexOutOfRange, r.ehk, ehks)
	}
}
