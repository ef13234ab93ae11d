package aggregation

import (
	"crypto/md5"
	"encoding/json"
	"errors"
	"math/big"
	"math/rand/v2"
	"testing"
)

func bigOf(h HashKey) *big.Int {
	v := new(big.Int).SetUint64(h.Hi)
	return v.Lsh(v, 64).Or(v, new(big.Int).SetUint64(h.Lo))
}

func TestParseHashKey(t *testing.T) {
	tests := map[string]struct {
		in   string
		want HashKey
		err  error
	}{
		"zero":                        {"0", HashKey{}, nil},
		"one":                         {"1", HashKey{Lo: 1}, nil},
		"2^64-1":                      {"18446744073709551615", HashKey{Lo: ^uint64(0)}, nil},
		"2^64":                        {"18446744073709551616", HashKey{Hi: 1}, nil},
		"19 digits":                   {"9999999999999999999", HashKey{Lo: 9999999999999999999}, nil},
		"2^128-1":                     {"340282366920938463463374607431768211455", MaxHashKey(), nil},
		"leading zeros":               {"000000000000000000000000000000000000000000042", HashKey{Lo: 42}, nil},
		"2^128":                       {"340282366920938463463374607431768211456", HashKey{}, ErrHashKeyRange},
		"40 digits":                   {"1000000000000000000000000000000000000000", HashKey{}, ErrHashKeyRange},
		"empty":                       {"", HashKey{}, ErrHashKeySyntax},
		"plus sign":                   {"+1", HashKey{}, ErrHashKeySyntax},
		"minus sign":                  {"-1", HashKey{}, ErrHashKeySyntax},
		"space":                       {" 1", HashKey{}, ErrHashKeySyntax},
		"hex":                         {"0x1f", HashKey{}, ErrHashKeySyntax},
		"letter at the end":           {"12a", HashKey{}, ErrHashKeySyntax},
		"syntax error after overflow": {"9999999999999999999999999999999999999999999x", HashKey{}, ErrHashKeySyntax},
		"non-ASCII digit":             {"１", HashKey{}, ErrHashKeySyntax},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParseHashKey(tt.in)
			if !errors.Is(err, tt.err) || got != tt.want {
				t.Fatalf("ParseHashKey(%q) = %v, %v; want %v, %v", tt.in, got, err, tt.want, tt.err)
			}
			var he *HashKeyError
			if err != nil && (!errors.As(err, &he) || he.Input != tt.in) {
				t.Errorf("error %v is not a *HashKeyError naming the input", err)
			}
		})
	}
}

func TestHashKeyDecimalAgainstBig(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	keys := []HashKey{{}, {Lo: 1}, {Hi: 1}, MaxHashKey(), {Hi: 1<<63 - 1, Lo: ^uint64(0)}, {Lo: 10_000_000_000_000_000_000}}
	for range 2000 {
		h := HashKey{Hi: rng.Uint64(), Lo: rng.Uint64()}
		// Mix in small values, so every digit count occurs.
		h.Hi >>= rng.UintN(65)
		keys = append(keys, h)
	}
	for _, h := range keys {
		want := bigOf(h).String()
		if got := h.String(); got != want {
			t.Fatalf("%#v.String() = %s, want %s", h, got, want)
		}
		back, err := ParseHashKey(want)
		if err != nil || back != h {
			t.Fatalf("ParseHashKey(%s) = %#v, %v; want %#v", want, back, err, h)
		}
	}
}

func TestHashKeyCompare(t *testing.T) {
	tests := map[string]struct {
		a, b HashKey
		want int
	}{
		"equal":             {HashKey{1, 2}, HashKey{1, 2}, 0},
		"high half decides": {HashKey{1, 0}, HashKey{0, ^uint64(0)}, 1},
		"low half decides":  {HashKey{5, 1}, HashKey{5, 2}, -1},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := tt.a.Compare(tt.b); got != tt.want {
				t.Errorf("Compare = %d, want %d", got, tt.want)
			}
			if got := tt.b.Compare(tt.a); got != -tt.want {
				t.Errorf("reverse Compare = %d, want %d", got, -tt.want)
			}
		})
	}
}

func TestHashPartitionKey(t *testing.T) {
	for _, pk := range []string{"", "a", "fc03dd88-3e79-448a-b01a-7cf1bd47b784", string(make([]byte, 300))} {
		sum := md5.Sum([]byte(pk))
		want := new(big.Int).SetBytes(sum[:])
		if got := HashPartitionKey(pk); bigOf(got).Cmp(want) != 0 {
			t.Errorf("HashPartitionKey(%q) = %v, want %v", pk, got, want)
		}
	}
	// A fixed value, so the test does not only compare two uses of crypto/md5:
	// MD5("a") = 0cc175b9c0f1b6a831c399e269772661 in decimal.
	if got := HashPartitionKey("a").String(); got != "16955237001963240173058271559858726497" {
		t.Errorf("HashPartitionKey(a) = %s", got)
	}
}

func TestEffectiveHashKey(t *testing.T) {
	tests := map[string]struct {
		pk, ehk string
		want    HashKey
		err     error
	}{
		"explicit key wins":       {"a", "5", HashKey{Lo: 5}, nil},
		"partition key otherwise": {"a", "", HashPartitionKey("a"), nil},
		"bad explicit key":        {"a", "five", HashKey{}, ErrHashKeySyntax},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			u := UserRecord{PartitionKey: tt.pk, ExplicitHashKey: tt.ehk}
			got, err := u.HashKey()
			if got != tt.want || !errors.Is(err, tt.err) {
				t.Errorf("HashKey() = %v, %v; want %v, %v", got, err, tt.want, tt.err)
			}
		})
	}
}

func TestHashKeyText(t *testing.T) {
	type lease struct {
		Start HashKey `json:"startingHashKey"`
	}
	in := lease{Start: MaxHashKey()}
	raw, err := json.Marshal(in)
	if err != nil || string(raw) != `{"startingHashKey":"340282366920938463463374607431768211455"}` {
		t.Fatalf("Marshal = %s, %v", raw, err)
	}
	var out lease
	if err := json.Unmarshal(raw, &out); err != nil || out != in {
		t.Fatalf("Unmarshal = %+v, %v", out, err)
	}
	if err := json.Unmarshal([]byte(`{"startingHashKey":"-3"}`), &out); !errors.Is(err, ErrHashKeySyntax) {
		t.Fatalf("Unmarshal of -3: %v, want ErrHashKeySyntax", err)
	}
}

func TestHashKeyHotPathDoesNotAllocate(t *testing.T) {
	buf := make([]byte, 0, 64)
	h := MaxHashKey()
	long := "a partition key well over thirty-two bytes long, as UUIDs are"
	tests := map[string]func(){
		"AppendText":       func() { buf, _ = h.AppendText(buf[:0]) },
		"ParseHashKey":     func() { h, _ = ParseHashKey("340282366920938463463374607431768211455") },
		"HashPartitionKey": func() { h = HashPartitionKey(long) },
		"Compare":          func() { _ = h.Compare(HashKey{}) },
	}
	for name, f := range tests {
		t.Run(name, func(t *testing.T) {
			if n := testing.AllocsPerRun(100, f); n != 0 {
				t.Errorf("%v allocations, want 0", n)
			}
		})
	}
}

func TestHashKeyErrorMessageIsBounded(t *testing.T) {
	err := &HashKeyError{Input: string(make([]byte, 10000)), Err: ErrHashKeySyntax}
	if n := len(err.Error()); n > 400 {
		t.Errorf("message is %d bytes long", n)
	}
}
