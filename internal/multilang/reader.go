package multilang

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// MaxLineBytes bounds a line from a child's stdout: protocol messages are short, and a
// longer line is stray output, skipped like any other.
const MaxLineBytes = 1 << 20

// MessageReader reads a child's stdout: it returns the protocol messages and skips empty
// lines and anything else a child's libraries print, reporting each skipped line to Skipped.
type MessageReader struct {
	r *bufio.Reader
	// Skipped, when set, sees each skipped line (cut to 200 bytes) and why it was skipped.
	Skipped func(line []byte, err error)
}

// NewMessageReader reads messages from r.
func NewMessageReader(r io.Reader) *MessageReader {
	return &MessageReader{r: bufio.NewReaderSize(r, 64<<10)}
}

var errLineTooLong = errors.New("line longer than 1 MiB")

// Next returns the next message, or the read error (io.EOF when the child closed stdout).
func (m *MessageReader) Next() (Message, error) {
	for {
		line, err := m.readLine()
		if err != nil && !errors.Is(err, errLineTooLong) {
			if errors.Is(err, io.EOF) && len(bytes.TrimSpace(line)) > 0 {
				// A last line without its newline is still a line.
				if msg, perr := ParseMessage(line); perr == nil {
					return msg, nil
				}
			}
			return Message{}, err
		}
		if err != nil {
			m.skip(line, err)
			continue
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		msg, perr := ParseMessage(line)
		if perr != nil {
			m.skip(line, perr)
			continue
		}
		return msg, nil
	}
}

func (m *MessageReader) skip(line []byte, err error) {
	if m.Skipped != nil {
		if len(line) > 200 {
			line = line[:200]
		}
		m.Skipped(line, err)
	}
}

// readLine returns one line without its end. A line over MaxLineBytes is consumed to its
// end and returned cut, with errLineTooLong.
func (m *MessageReader) readLine() ([]byte, error) {
	var buf []byte
	tooLong := false
	for {
		frag, err := m.r.ReadSlice('\n')
		if !tooLong {
			if len(buf)+len(frag) > MaxLineBytes {
				tooLong = true
				buf = append(buf, frag[:min(len(frag), 200)]...)
			} else {
				buf = append(buf, frag...)
			}
		}
		switch {
		case err == nil:
			if tooLong {
				return buf, errLineTooLong
			}
			return bytes.TrimRight(buf, "\r\n"), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return buf, err
		}
	}
}
