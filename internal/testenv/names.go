package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
)

// UniqueName returns a name for a stream, table or consumer that is unique across tests and
// runs sharing one emulator: the test's name (trimmed to the characters AWS allows) and a
// random suffix.
func UniqueName(t testing.TB, kind string) string {
	t.Helper()
	var b strings.Builder
	for _, r := range t.Name() {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	base := b.String()
	if len(base) > 60 {
		base = base[:60]
	}
	var suffix [6]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		t.Fatalf("random name suffix: %v", err)
	}
	return kind + "-" + base + "-" + hex.EncodeToString(suffix[:])
}
