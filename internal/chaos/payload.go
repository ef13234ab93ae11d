package chaos

import (
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"
)

// payload is the data of one user record: the run it belongs to, the producer's counter,
// the put time and a CRC-32 of the rest, so the verifier can tell a record of this run,
// intact, from anything else.
type payload struct {
	Run string
	N   int64
	// PutUnixNano is when the producer first tried to put it.
	PutUnixNano int64
}

const payloadPrefix = "kcl-chaos"

func (p payload) encode() []byte {
	body := fmt.Sprintf("%s|%s|%d|%d", payloadPrefix, p.Run, p.N, p.PutUnixNano)
	return fmt.Appendf(nil, "%s|%08x", body, crc32.ChecksumIEEE([]byte(body)))
}

// decodePayload parses and checks data; the error says what is wrong with it.
func decodePayload(data []byte) (payload, error) {
	s := string(data)
	i := strings.LastIndexByte(s, '|')
	if i < 0 {
		return payload{}, fmt.Errorf("no checksum")
	}
	body, sum := s[:i], s[i+1:]
	want, err := strconv.ParseUint(sum, 16, 32)
	if err != nil || uint32(want) != crc32.ChecksumIEEE([]byte(body)) {
		return payload{}, fmt.Errorf("checksum %q does not match", sum)
	}
	f := strings.Split(body, "|")
	if len(f) != 4 || f[0] != payloadPrefix {
		return payload{}, fmt.Errorf("not a chaos payload")
	}
	n, err1 := strconv.ParseInt(f[2], 10, 64)
	t, err2 := strconv.ParseInt(f[3], 10, 64)
	if err1 != nil || err2 != nil {
		return payload{}, fmt.Errorf("bad counter or time")
	}
	return payload{Run: f[1], N: n, PutUnixNano: t}, nil
}
