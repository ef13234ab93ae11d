package aggregation

import (
	"errors"
	"strconv"
)

// Errors a *CorruptError wraps, for errors.Is.
var (
	// ErrIndexOutOfRange: a user record refers past the end of a key table.
	ErrIndexOutOfRange = errors.New("key table index out of range")
	// ErrMissingField: a field the schema marks required is absent.
	ErrMissingField = errors.New("required field missing")
)

// Errors a *HashKeyError wraps, for errors.Is.
var (
	// ErrHashKeySyntax: the text is not decimal digits.
	ErrHashKeySyntax = errors.New("not an unsigned decimal number")
	// ErrHashKeyRange: the value is greater than 2^128-1.
	ErrHashKeyRange = errors.New("greater than 2^128-1")
)

// CorruptError reports a KPL aggregate whose checksum is right but whose content breaks
// the schema. No user record of it is delivered.
type CorruptError struct {
	// SequenceNumber names the Kinesis record.
	SequenceNumber string
	// UserRecord is the position of the offending user record in the aggregate, or -1
	// when a key table is at fault.
	UserRecord int
	// Err says what is wrong: it wraps ErrIndexOutOfRange, ErrMissingField or a
	// *HashKeyError.
	Err error
}

func (e *CorruptError) Error() string {
	where := "key tables"
	if e.UserRecord >= 0 {
		where = "user record " + strconv.Itoa(e.UserRecord)
	}
	return "aggregation: corrupt KPL aggregate in record " + e.SequenceNumber + ", " + where + ": " + e.Err.Error()
}

func (e *CorruptError) Unwrap() error { return e.Err }

// HashKeyError reports text that is not a hash key.
type HashKeyError struct {
	Input string
	Err   error // ErrHashKeySyntax or ErrHashKeyRange
}

func (e *HashKeyError) Error() string {
	in := e.Input
	if len(in) > 64 { // corrupt input can be long; the start is enough to find it
		in = in[:64] + "..."
	}
	return "aggregation: hash key " + strconv.Quote(in) + ": " + e.Err.Error()
}

func (e *HashKeyError) Unwrap() error { return e.Err }
