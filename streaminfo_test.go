package kcl

import (
	"strings"
	"testing"

	"github.com/kclgo/kcl/leases"
)

func TestStreamInfoNames(t *testing.T) {
	s := streamInfo{name: "orders", arn: "arn:aws:kinesis:eu-west-1:123456789012:stream/orders"}
	for _, tc := range []struct {
		id   string
		want bool
	}{
		{"123456789012:orders:1700000000", true},
		{"123456789012:orders:1", true}, // an earlier stream of the name: still this application's
		{"123456789012:payments:1700000000", false},
		{"999999999999:orders:1700000000", false}, // another account's stream
	} {
		id, err := leases.ParseStreamIdentifier(tc.id)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.names(id); got != tc.want {
			t.Errorf("%s names %s: %v, want %v", s.arn, tc.id, got, tc.want)
		}
	}
}

// FuzzStreamARNAccount: the account is read from any ARN without panicking, and is a field
// of it without colons.
func FuzzStreamARNAccount(f *testing.F) {
	f.Add("arn:aws:kinesis:eu-west-1:123456789012:stream/orders")
	f.Add("arn:aws-cn:kinesis:cn-north-1:1:stream/a:b")
	f.Add("arn:::::")
	f.Add("")
	f.Fuzz(func(t *testing.T, arn string) {
		acct := streamInfo{arn: arn}.account()
		if strings.Contains(acct, ":") || (acct != "" && !strings.Contains(arn, ":"+acct+":")) {
			t.Fatalf("account %q of %q", acct, arn)
		}
	})
}
