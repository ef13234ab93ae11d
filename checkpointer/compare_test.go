package checkpointer_test

import (
	"testing"

	"github.com/kclgo/kcl/checkpointer"
)

func TestCompareSequenceNumbers(t *testing.T) {
	for name, tc := range map[string]struct {
		a, b string
		want int
	}{
		"equal":                     {"49590338271490256608559692538361571095921575989136588898", "49590338271490256608559692538361571095921575989136588898", 0},
		"shorter is smaller":        {"9", "10", -1},
		"longer is larger":          {"100", "99", 1},
		"same length, text order":   {"49590338271490256608559692538361571095921575989136588897", "49590338271490256608559692538361571095921575989136588898", -1},
		"same length, larger first": {"50000000000000000000", "49999999999999999999", 1},
	} {
		t.Run(name, func(t *testing.T) {
			if got := checkpointer.CompareSequenceNumbers(tc.a, tc.b); got != tc.want {
				t.Fatalf("CompareSequenceNumbers(%s, %s) = %d, want %d", tc.a, tc.b, got, tc.want)
			}
			if got := checkpointer.CompareSequenceNumbers(tc.b, tc.a); got != -tc.want {
				t.Fatalf("CompareSequenceNumbers(%s, %s) = %d, want %d", tc.b, tc.a, got, -tc.want)
			}
		})
	}
}
