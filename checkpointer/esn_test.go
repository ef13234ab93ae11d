package checkpointer_test

import (
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/kclgo/kcl/checkpointer"
)

func mustESN(t testing.TB, seq string, sub int64) checkpointer.ExtendedSequenceNumber {
	t.Helper()
	e, err := checkpointer.ParseSequenceNumber(seq, sub)
	if err != nil {
		t.Fatalf("ParseSequenceNumber(%q, %d): %v", seq, sub, err)
	}
	return e
}

func TestParseSequenceNumber(t *testing.T) {
	tests := map[string]struct {
		seq      string
		sub      int64
		wantErr  bool
		sentinel bool
	}{
		"real sequence number":         {seq: "49590338271490256608559692538361571095921575989136588898", sub: 0},
		"inside an aggregate":          {seq: "49590338271490256608559692538361571095921575989136588898", sub: 3},
		"zero":                         {seq: "0"},
		"129 digits":                   {seq: "1" + strings.Repeat("0", 128)},
		"TRIM_HORIZON":                 {seq: "TRIM_HORIZON", sentinel: true},
		"LATEST":                       {seq: "LATEST", sentinel: true},
		"AT_TIMESTAMP":                 {seq: "AT_TIMESTAMP", sentinel: true},
		"SHARD_END":                    {seq: "SHARD_END", sentinel: true},
		"empty":                        {seq: "", wantErr: true},
		"130 digits":                   {seq: "1" + strings.Repeat("0", 129), wantErr: true},
		"leading zero":                 {seq: "0123", wantErr: true},
		"letters":                      {seq: "12a4", wantErr: true},
		"sign":                         {seq: "-12", wantErr: true},
		"lower-case sentinel":          {seq: "trim_horizon", wantErr: true},
		"negative sub":                 {seq: "12", sub: -1, wantErr: true},
		"sentinel with sub":            {seq: "LATEST", sub: 1, wantErr: true},
		"space":                        {seq: " 12", wantErr: true},
		"decimal point":                {seq: "1.5", wantErr: true},
		"unicode digit (Arabic-Indic)": {seq: "١٢", wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			e, err := checkpointer.ParseSequenceNumber(tc.seq, tc.sub)
			if tc.wantErr {
				var se *checkpointer.SequenceNumberError
				if !errors.As(err, &se) || !errors.Is(err, checkpointer.ErrInvalidSequenceNumber) {
					t.Fatalf("got %v, %v; want a *SequenceNumberError matching ErrInvalidSequenceNumber", e, err)
				}
				if se.SequenceNumber != tc.seq || se.Reason == "" {
					t.Fatalf("error %+v does not name the input and the reason", se)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if e.SequenceNumber() != tc.seq || e.SubSequenceNumber() != tc.sub {
				t.Fatalf("round trip: got %q/%d, want %q/%d", e.SequenceNumber(), e.SubSequenceNumber(), tc.seq, tc.sub)
			}
			if e.IsSentinel() != tc.sentinel || e.IsSequenceNumber() == tc.sentinel || e.IsZero() {
				t.Fatalf("kind of %v: sentinel=%v sequence=%v zero=%v", e, e.IsSentinel(), e.IsSequenceNumber(), e.IsZero())
			}
		})
	}
}

func TestCompareOrder(t *testing.T) {
	// Strictly increasing.
	ordered := []checkpointer.ExtendedSequenceNumber{
		{},
		checkpointer.AtTimestamp,
		checkpointer.TrimHorizon,
		checkpointer.Latest,
		mustESN(t, "0", 0),
		mustESN(t, "0", 1),
		mustESN(t, "9", 0),
		mustESN(t, "10", 0), // longer beats lexically larger
		mustESN(t, "10", 7),
		mustESN(t, "49590338271490256608559692538361571095921575989136588898", 0),
		mustESN(t, "49590338271490256608559692538361571095921575989136588898", 3),
		mustESN(t, "49590338271490256608559692540000000000000000000000000000", 0),
		mustESN(t, "9"+strings.Repeat("9", 127), 0),
		checkpointer.ShardEnd,
	}
	for i := range ordered {
		for j := range ordered {
			want := 0
			switch {
			case i < j:
				want = -1
			case i > j:
				want = 1
			}
			if got := ordered[i].Compare(ordered[j]); got != want {
				t.Errorf("Compare(%v, %v) = %d, want %d", ordered[i], ordered[j], got, want)
			}
		}
	}
	if !checkpointer.ShardEnd.IsShardEnd() || checkpointer.Latest.IsShardEnd() {
		t.Error("IsShardEnd is wrong")
	}
}

func TestString(t *testing.T) {
	tests := map[string]struct {
		e    checkpointer.ExtendedSequenceNumber
		want string
	}{
		"zero":     {checkpointer.ExtendedSequenceNumber{}, "(none)"},
		"sentinel": {checkpointer.TrimHorizon, "TRIM_HORIZON"},
		"real":     {mustESN(t, "123", 4), "123/4"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := tc.e.String(); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// FuzzParseSequenceNumber: no input panics; what parses round-trips, and real sequence numbers
// order exactly as big integers (then by sub-sequence number).
func FuzzParseSequenceNumber(f *testing.F) {
	f.Add("49590338271490256608559692538361571095921575989136588898", int64(0), "49590338271490256608559692538361571095921575989136588899", int64(0))
	f.Add("0", int64(1), "10", int64(0))
	f.Add("TRIM_HORIZON", int64(0), "SHARD_END", int64(0))
	f.Add("0001", int64(-1), "", int64(0))
	f.Fuzz(func(t *testing.T, s1 string, sub1 int64, s2 string, sub2 int64) {
		a, errA := checkpointer.ParseSequenceNumber(s1, sub1)
		b, errB := checkpointer.ParseSequenceNumber(s2, sub2)
		if errA != nil || errB != nil {
			for _, err := range []error{errA, errB} {
				if err != nil && !errors.Is(err, checkpointer.ErrInvalidSequenceNumber) {
					t.Fatalf("untyped error %v", err)
				}
			}
			return
		}
		again, err := checkpointer.ParseSequenceNumber(a.SequenceNumber(), a.SubSequenceNumber())
		if err != nil || again != a {
			t.Fatalf("round trip of %v: %v, %v", a, again, err)
		}
		if a.Compare(b) != -b.Compare(a) || a.Compare(a) != 0 {
			t.Fatalf("Compare not antisymmetric for %v, %v", a, b)
		}
		if a.IsSequenceNumber() && b.IsSequenceNumber() {
			ia, _ := new(big.Int).SetString(a.SequenceNumber(), 10)
			ib, _ := new(big.Int).SetString(b.SequenceNumber(), 10)
			want := ia.Cmp(ib)
			if want == 0 {
				switch {
				case sub1 < sub2:
					want = -1
				case sub1 > sub2:
					want = 1
				}
			}
			if got := a.Compare(b); got != want {
				t.Fatalf("Compare(%v, %v) = %d, big.Int says %d", a, b, got, want)
			}
		}
	})
}

func BenchmarkCompare(b *testing.B) {
	x := mustESN(b, "49590338271490256608559692538361571095921575989136588898", 3)
	y := mustESN(b, "49590338271490256608559692538361571095921575989136588898", 4)
	b.ReportAllocs()
	for b.Loop() {
		if x.Compare(y) >= 0 {
			b.Fatal("order")
		}
	}
}
