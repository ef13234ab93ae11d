package aggregation

import (
	"cmp"
	"crypto/md5"
	"encoding/binary"
	"math/bits"
	"strconv"
)

// HashKey is a Kinesis hash key, an unsigned 128-bit integer: Hi holds the high 64
// bits. Its zero value is the smallest key. It is a plain comparable value, so range
// checks on the hot path need neither math/big nor allocations.
type HashKey struct {
	Hi, Lo uint64
}

// MaxHashKey returns 2^128-1, the largest hash key.
func MaxHashKey() HashKey {
	return HashKey{Hi: ^uint64(0), Lo: ^uint64(0)}
}

// HashPartitionKey returns the hash key Kinesis derives from a partition key: the MD5
// of its bytes read as a big-endian unsigned integer.
func HashPartitionKey(partitionKey string) HashKey {
	// Copy through a stack buffer: converting a key longer than 32 bytes with
	// []byte(partitionKey) would allocate on every call. Kinesis keys are at most 256
	// characters, almost always one byte each.
	var buf [256]byte
	if len(partitionKey) <= len(buf) {
		n := copy(buf[:], partitionKey)
		return hashBytes(buf[:n])
	}
	return hashBytes([]byte(partitionKey))
}

func hashBytes(b []byte) HashKey {
	sum := md5.Sum(b)
	return HashKey{Hi: binary.BigEndian.Uint64(sum[:8]), Lo: binary.BigEndian.Uint64(sum[8:])}
}

// EffectiveHashKey returns the hash key Kinesis routes a record by: the explicit hash
// key when it is not empty, else the hash of the partition key.
func EffectiveHashKey(partitionKey, explicitHashKey string) (HashKey, error) {
	if explicitHashKey != "" {
		return ParseHashKey(explicitHashKey)
	}
	return HashPartitionKey(partitionKey), nil
}

// ParseHashKey parses decimal digits (leading zeros allowed, no sign) into a hash key.
// The error is a *HashKeyError.
func ParseHashKey(s string) (HashKey, error) {
	h, err := parseDecimal(s)
	if err != nil {
		return HashKey{}, &HashKeyError{Input: s, Err: err}
	}
	return h, nil
}

// parseDecimal is ParseHashKey without the error wrapping, generic so the decoder can
// parse table entries in place before any string exists.
func parseDecimal[T string | []byte](s T) (HashKey, error) {
	if len(s) == 0 {
		return HashKey{}, ErrHashKeySyntax
	}
	var h HashKey
	overflow := false
	// 19 decimal digits always fit a uint64, so fold the text in chunks of up to 19
	// digits: one 128-bit multiply-add per chunk instead of one per digit.
	for i := 0; i < len(s); {
		end := min(i+19, len(s))
		var chunk uint64
		scale := uint64(1)
		for ; i < end; i++ {
			c := s[i] - '0'
			if c > 9 {
				return HashKey{}, ErrHashKeySyntax
			}
			chunk = chunk*10 + uint64(c)
			scale *= 10
		}
		if overflow {
			continue // keep going: a syntax error further on takes precedence
		}
		var ok bool
		h, ok = h.mulAdd(scale, chunk)
		overflow = !ok
	}
	if overflow {
		return HashKey{}, ErrHashKeyRange
	}
	return h, nil
}

// mulAdd returns h*m + a and whether it fits in 128 bits.
func (h HashKey) mulAdd(m, a uint64) (HashKey, bool) {
	carry, lo := bits.Mul64(h.Lo, m)
	over, hi := bits.Mul64(h.Hi, m)
	hi, c1 := bits.Add64(hi, carry, 0)
	lo, c2 := bits.Add64(lo, a, 0)
	hi, c3 := bits.Add64(hi, 0, c2)
	return HashKey{Hi: hi, Lo: lo}, over == 0 && c1 == 0 && c3 == 0
}

// Compare returns -1, 0 or +1 as h is less than, equal to or greater than o.
func (h HashKey) Compare(o HashKey) int {
	if c := cmp.Compare(h.Hi, o.Hi); c != 0 {
		return c
	}
	return cmp.Compare(h.Lo, o.Lo)
}

// String returns h in decimal, the form Kinesis APIs and the lease table use.
func (h HashKey) String() string {
	var buf [39]byte // 2^128-1 has 39 digits
	return string(h.appendDecimal(buf[:0]))
}

// AppendText appends h in decimal to b; it implements encoding.TextAppender, so
// decimal text can be produced into a reused buffer without allocating.
func (h HashKey) AppendText(b []byte) ([]byte, error) {
	return h.appendDecimal(b), nil
}

// MarshalText implements encoding.TextMarshaler.
func (h HashKey) MarshalText() ([]byte, error) {
	return h.appendDecimal(nil), nil
}

// UnmarshalText implements encoding.TextUnmarshaler with ParseHashKey.
func (h *HashKey) UnmarshalText(text []byte) error {
	v, err := parseDecimal(text)
	if err != nil {
		return &HashKeyError{Input: string(text), Err: err}
	}
	*h = v
	return nil
}

const pow19 = 10_000_000_000_000_000_000 // largest power of ten below 2^64

func (h HashKey) appendDecimal(b []byte) []byte {
	if h.Hi == 0 {
		return strconv.AppendUint(b, h.Lo, 10)
	}
	// Split into base-10^19 digits (at most three for 128 bits): the top one is written
	// as is, the lower ones zero-padded to 19 digits.
	var chunks [3]uint64
	n := 0
	for h.Hi != 0 {
		var r uint64
		h, r = h.divPow19()
		chunks[n] = r
		n++
	}
	b = strconv.AppendUint(b, h.Lo, 10)
	for n--; n >= 0; n-- {
		var digits [19]byte
		v := chunks[n]
		for i := len(digits) - 1; i >= 0; i-- {
			digits[i] = byte('0' + v%10)
			v /= 10
		}
		b = append(b, digits[:]...)
	}
	return b
}

// divPow19 returns h / 10^19 and h % 10^19.
func (h HashKey) divPow19() (HashKey, uint64) {
	qHi, r := bits.Div64(0, h.Hi, pow19)
	qLo, r := bits.Div64(r, h.Lo, pow19)
	return HashKey{Hi: qHi, Lo: qLo}, r
}
