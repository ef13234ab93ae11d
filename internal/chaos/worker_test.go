package chaos

import "testing"

func TestIsLibraryFrame(t *testing.T) {
	tests := map[string]bool{
		"github.com/kclgo/kcl/efo.(*Subscription).run(0xc000)":             true,
		"created by github.com/kclgo/kcl.(*worker).run in goroutine 7":     true,
		"github.com/kclgo/kcl/internal/ctxwait.Sleep(...)":                 true,
		"github.com/kclgo/kcl/internal/chaos.(*control).poll(0xc0)":        false,
		"github.com/kclgo/kcl/internal/faults.(*transport).RoundTrip(0xc)": false,
		"net/http.(*persistConn).readLoop(0xc000)":                         false,
	}
	for line, want := range tests {
		if got := isLibraryFrame(line); got != want {
			t.Errorf("isLibraryFrame(%q) = %v, want %v", line, got, want)
		}
	}
}

func TestPayloadRoundTrip(t *testing.T) {
	p := payload{Run: "abc", N: 42, PutUnixNano: 1700000000000000000}
	got, err := decodePayload(p.encode())
	if err != nil || got != p {
		t.Fatalf("decode(encode(%+v)) = %+v, %v", p, got, err)
	}
	b := p.encode()
	b[12] ^= 1
	if _, err := decodePayload(b); err == nil {
		t.Errorf("a flipped bit passed the checksum")
	}
}
