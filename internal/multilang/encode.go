package multilang

import (
	"encoding/base64"
	"strconv"
	"unicode/utf8"

	"github.com/kclgo/kcl"
)

// appendProcessRecords appends the processRecords message for records, byte for byte what
// EncodeProcessRecords writes, without a per-record allocation: it is the daemon's hot path.
func appendProcessRecords(dst []byte, records []kcl.Record, millisBehindLatest int64) []byte {
	dst = append(dst, `{"action":"processRecords","records":[`...)
	for i := range records {
		r := &records[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"data":`...)
		if r.Data == nil {
			dst = append(dst, "null"...)
		} else {
			dst = append(dst, '"')
			dst = base64.StdEncoding.AppendEncode(dst, r.Data)
			dst = append(dst, '"')
		}
		dst = append(dst, `,"partitionKey":`...)
		dst = appendJSONString(dst, r.PartitionKey)
		dst = append(dst, `,"sequenceNumber":`...)
		dst = appendJSONString(dst, r.SequenceNumber)
		dst = append(dst, `,"approximateArrivalTimestamp":`...)
		if r.ApproximateArrivalTimestamp.IsZero() {
			dst = append(dst, "null"...)
		} else {
			dst = strconv.AppendInt(dst, r.ApproximateArrivalTimestamp.UnixMilli(), 10)
		}
		dst = append(dst, `,"subSequenceNumber":`...)
		dst = strconv.AppendInt(dst, int64(r.SubSequenceNumber), 10)
		dst = append(dst, `,"action":"record"}`...)
	}
	dst = append(dst, `],"millisBehindLatest":`...)
	dst = strconv.AppendInt(dst, millisBehindLatest, 10)
	return append(dst, "}\n"...)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as encoding/json writes it: HTML characters, control
// characters, U+2028 and U+2029 escaped, invalid UTF-8 replaced by U+FFFD.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
