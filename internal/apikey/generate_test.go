package apikey_test

import (
	"strings"
	"testing"

	"github.com/keygate/keygate/internal/apikey"
)

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func TestGenerate(t *testing.T) {
	const n = 5000
	seen := make(map[string]bool, n)
	counts := make(map[rune]int)
	for range n {
		k := apikey.Generate()
		if len(k) != apikey.GeneratedLength || apikey.GeneratedLength != 40 {
			t.Fatalf("len(Generate()) = %d, GeneratedLength = %d, want 40", len(k), apikey.GeneratedLength)
		}
		for _, r := range k {
			if !strings.ContainsRune(alphabet, r) {
				t.Fatalf("Generate() = %q holds %q, outside A-Z a-z 0-9", k, r)
			}
			counts[r]++
		}
		if seen[k] {
			t.Fatalf("Generate() repeated %q", k)
		}
		seen[k] = true
		if doc, err := apikey.Parse(k); err != nil || doc.Key != k {
			t.Fatalf("a generated key does not parse as a plain secret: %v", err)
		}
	}
	// Every symbol is used, about equally: 200,000 draws give each of the
	// 62 symbols ~3226; a biased or truncated alphabet falls far outside
	// these wide bounds (a fair one essentially never does).
	want := float64(n*apikey.GeneratedLength) / float64(len(alphabet))
	for _, r := range alphabet {
		if c := float64(counts[r]); c < 0.8*want || c > 1.2*want {
			t.Errorf("symbol %q drawn %v times, want about %.0f", r, c, want)
		}
	}
}
