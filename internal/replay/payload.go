package replay

import (
	"encoding/binary"
	"errors"
)

// HeaderSize is the length of the header every generated payload starts with; payloads
// are at least this long. It is a multiple of 3 so that the base64 of a payload is the
// base64 of the header followed by the base64 of the filler.
const HeaderSize = 36

var magic = [4]byte{'k', 'c', 'l', 'b'}

// Payload is what a generated record's data says about itself.
type Payload struct {
	// Key is the shard index for replayed records, the partition-key slot for produced ones.
	Key uint32
	// Counter is the record's index under Key, from 0 without gaps.
	Counter uint64
	// Arrival is when the record became readable (unix nanoseconds): the put time.
	Arrival int64
	// Wire is when the server wrote the record into a response (unix nanoseconds), 0 when
	// it was not stamped.
	Wire int64
}

// ErrNotPayload reports data that is not a generated payload.
var ErrNotPayload = errors.New("replay: not a generated payload")

// AppendHeader appends p's header to dst.
func AppendHeader(dst []byte, p Payload) []byte {
	dst = append(dst, magic[:]...)
	dst = binary.BigEndian.AppendUint32(dst, p.Key)
	dst = binary.BigEndian.AppendUint64(dst, p.Counter)
	dst = binary.BigEndian.AppendUint64(dst, uint64(p.Arrival))
	dst = binary.BigEndian.AppendUint64(dst, uint64(p.Wire))
	return append(dst, 0, 0, 0, 0)
}

// ParsePayload reads the header of a generated payload.
func ParsePayload(data []byte) (Payload, error) {
	if len(data) < HeaderSize || [4]byte(data[:4]) != magic {
		return Payload{}, ErrNotPayload
	}
	return Payload{
		Key:     binary.BigEndian.Uint32(data[4:]),
		Counter: binary.BigEndian.Uint64(data[8:]),
		Arrival: int64(binary.BigEndian.Uint64(data[16:])),
		Wire:    int64(binary.BigEndian.Uint64(data[24:])),
	}, nil
}

// Filler returns the deterministic bytes that pad a payload of size bytes after its header.
func Filler(size int) []byte {
	n := max(size-HeaderSize, 0)
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return b
}
