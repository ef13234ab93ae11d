package glue

import (
	"bytes"
	"compress/zlib"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
)

// The Glue Schema Registry serializer's header: a version byte, a compression byte and the
// 16-byte schema version id, then the payload.
const (
	headerVersion = 3
	// HeaderSize is the length of the header in front of every framed payload.
	HeaderSize = 18
)

// Compression says how a framed payload is compressed.
type Compression byte

const (
	// CompressionNone: the payload follows the header as it is.
	CompressionNone Compression = 0
	// CompressionZlib: the payload is a zlib stream (RFC 1950), as the serializer's
	// COMPRESSION=ZLIB setting writes it.
	CompressionZlib Compression = 5
)

func (c Compression) String() string {
	switch c {
	case CompressionNone:
		return "none"
	case CompressionZlib:
		return "zlib"
	}
	return fmt.Sprintf("Compression(%d)", byte(c))
}

// SchemaVersionID is a schema version's id as the header carries it: a UUID in RFC 4122
// byte order. String gives the form GetSchemaVersion takes.
type SchemaVersionID [16]byte

// String is the lower-case hyphenated form, for example b7b4a7f0-9c96-4e4a-a687-fb5de9ef0c63.
func (id SchemaVersionID) String() string {
	var b [36]byte
	hex.Encode(b[0:8], id[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], id[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], id[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], id[8:10])
	b[23] = '-'
	hex.Encode(b[24:], id[10:])
	return string(b[:])
}

// ParseSchemaVersionID reads the hyphenated form String writes (either case).
func ParseSchemaVersionID(s string) (SchemaVersionID, error) {
	var id SchemaVersionID
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return id, fmt.Errorf("glue: schema version id %q is not a hyphenated UUID", s)
	}
	var raw [32]byte
	copy(raw[0:8], s[0:8])
	copy(raw[8:12], s[9:13])
	copy(raw[12:16], s[14:18])
	copy(raw[16:20], s[19:23])
	copy(raw[20:], s[24:])
	if _, err := hex.Decode(id[:], raw[:]); err != nil {
		return SchemaVersionID{}, fmt.Errorf("glue: schema version id %q: %w", s, err)
	}
	return id, nil
}

// Frame is a record's data split into the serializer's header and its payload.
type Frame struct {
	Compression     Compression
	SchemaVersionID SchemaVersionID
	// Payload aliases the record's data after the header, still compressed if
	// Compression says so.
	Payload []byte
}

// ParseFrame splits data into header and payload without copying. It fails with an error
// matching ErrNotFramed when data is shorter than the header or does not start with the
// version byte 3, and with one matching ErrUnknownCompression when the version byte is
// right but the compression byte is neither 0 nor 5.
func ParseFrame(data []byte) (Frame, error) {
	if len(data) < HeaderSize {
		return Frame{}, &FrameError{Reason: fmt.Sprintf("%d bytes, shorter than the %d-byte header", len(data), HeaderSize), err: ErrNotFramed}
	}
	if data[0] != headerVersion {
		return Frame{}, &FrameError{Reason: fmt.Sprintf("version byte %#02x, not 0x03", data[0]), err: ErrNotFramed}
	}
	c := Compression(data[1])
	if c != CompressionNone && c != CompressionZlib {
		return Frame{}, &FrameError{Reason: fmt.Sprintf("compression byte %#02x, neither 0x00 nor 0x05", data[1]), err: ErrUnknownCompression}
	}
	f := Frame{Compression: c, Payload: data[HeaderSize:]}
	copy(f.SchemaVersionID[:], data[2:HeaderSize])
	return f, nil
}

// FrameError says why data is not a usable Glue frame.
type FrameError struct {
	Reason string
	err    error
}

func (e *FrameError) Error() string { return "glue: " + e.err.Error() + ": " + e.Reason }
func (e *FrameError) Unwrap() error { return e.err }

// zlibReaders keeps zlib readers (and their windows) for reuse across records.
var zlibReaders sync.Pool

// decompress returns the frame's payload uncompressed: the payload itself when it is not
// compressed, else the inflated bytes appended to buf[:0]. More than limit bytes of
// output is ErrPayloadTooLarge: reading stops there, so a decompression bomb costs at
// most limit bytes.
func (f Frame) decompress(limit int, buf []byte) ([]byte, error) {
	if f.Compression == CompressionNone {
		if len(f.Payload) > limit {
			return nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrPayloadTooLarge, len(f.Payload), limit)
		}
		return f.Payload, nil
	}
	src := bytes.NewReader(f.Payload)
	var zr io.ReadCloser
	if r, ok := zlibReaders.Get().(io.ReadCloser); ok {
		if err := r.(zlib.Resetter).Reset(src, nil); err != nil {
			zlibReaders.Put(r)
			return nil, fmt.Errorf("%w: %w", ErrCorruptPayload, err)
		}
		zr = r
	} else {
		r, err := zlib.NewReader(src)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrCorruptPayload, err)
		}
		zr = r
	}
	defer zlibReaders.Put(zr)
	// One byte past the limit tells a payload of exactly limit bytes from a bigger one.
	lr := io.LimitReader(zr, int64(limit)+1)
	out := buf[:0]
	for {
		if len(out) == cap(out) {
			out = slices.Grow(out, min(max(512, cap(out)), limit+1-len(out)))
		}
		n, err := lr.Read(out[len(out):cap(out)])
		out = out[:len(out)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrCorruptPayload, err)
		}
	}
	if len(out) > limit {
		return nil, fmt.Errorf("%w: zlib payload inflates past the limit of %d bytes", ErrPayloadTooLarge, limit)
	}
	return out, nil
}

// Errors to test for with errors.Is. Decode errors are *RecordError or *FrameError values
// wrapping one of these.
var (
	// ErrNotFramed: the data does not carry the serializer's header.
	ErrNotFramed = errors.New("not Glue-framed")
	// ErrUnknownCompression: the header's compression byte is neither none nor zlib.
	ErrUnknownCompression = errors.New("unknown compression")
	// ErrCorruptPayload: the payload does not decompress or does not decode with its schema.
	ErrCorruptPayload = errors.New("corrupt payload")
	// ErrPayloadTooLarge: the payload is, or inflates to, more than the configured limit.
	ErrPayloadTooLarge = errors.New("payload too large")
	// ErrSchemaNotFound: the registry does not know the schema version id (or it was deleted).
	ErrSchemaNotFound = errors.New("schema version not found")
	// ErrSchemaNotAvailable: the schema version exists but its status is not AVAILABLE.
	ErrSchemaNotAvailable = errors.New("schema version not available")
	// ErrInvalidSchema: the registry's schema definition does not parse, or its data
	// format is not one this package decodes.
	ErrInvalidSchema = errors.New("invalid schema")
	// ErrValidation: a JSON payload does not satisfy its JSON Schema.
	ErrValidation = errors.New("schema validation failed")
	// ErrTypeMismatch: As was asked for a type the record's value cannot be decoded into.
	ErrTypeMismatch = errors.New("type mismatch")
)
