package apikey_test

import (
	"hash/crc32"
	"regexp"
	"strings"
	"testing"

	"github.com/keygate/keygate/internal/apikey"
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// scannerRegexp is the regular expression docs/security.md gives secret
// scanners.
var scannerRegexp = regexp.MustCompile(`\bkg_[0-9A-Za-z]{36}\b`)

func TestGenerate(t *testing.T) {
	const n = 5000
	seen := make(map[string]bool, n)
	counts := make(map[rune]int)
	for range n {
		k := apikey.Generate()
		if len(k) != apikey.GeneratedLength || apikey.GeneratedLength != 39 || !strings.HasPrefix(k, "kg_") {
			t.Fatalf("Generate() = %q (%d characters), want kg_ and 36 more", k, len(k))
		}
		if !scannerRegexp.MatchString(k) || !apikey.WellFormed(k) {
			t.Fatalf("Generate() = %q: the scanners' expression or WellFormed refuses it", k)
		}
		if got := checksum(k[3:33]); got != k[33:] {
			t.Fatalf("Generate() = %q: checksum %q, want %q (CRC32 of the 30 random characters in base62)", k, k[33:], got)
		}
		for _, r := range k[3:33] {
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
	// Every symbol is used, about equally: 150,000 draws give each of the
	// 62 symbols ~2419; a biased or truncated alphabet falls far outside
	// these wide bounds (a fair one essentially never does).
	want := float64(n*30) / float64(len(base62))
	for _, r := range base62 {
		if c := float64(counts[r]); c < 0.8*want || c > 1.2*want {
			t.Errorf("symbol %q drawn %v times, want about %.0f", r, c, want)
		}
	}
}

// checksum is the specification's, written out independently: the CRC32
// (IEEE) of the 30 characters, in base62 (0-9A-Za-z), most significant
// digit first, padded with 0 to 6 characters.
func checksum(random string) string {
	n := uint64(crc32.ChecksumIEEE([]byte(random)))
	out := ""
	for n > 0 {
		out = string(base62[n%62]) + out
		n /= 62
	}
	return strings.Repeat("0", 6-len(out)) + out
}

func TestWellFormed(t *testing.T) {
	k := apikey.Generate()
	flip := func(i int) string {
		b := []byte(k)
		if b[i] == 'a' {
			b[i] = 'b'
		} else {
			b[i] = 'a'
		}
		return string(b)
	}
	// A vector made by the independent checksum above.
	vector := "kg_" + strings.Repeat("0", 30)
	vector += checksum(strings.Repeat("0", 30))
	for key, want := range map[string]bool{
		k:                                   true,
		vector:                              true,
		flip(5):                             false, // a random character changed
		flip(36):                            false, // a checksum character changed
		k[:38]:                              false,
		k + "0":                             false,
		"kg_" + k[3:32] + "-" + k[33:]:      false,
		strings.ToUpper(k[:3]) + k[3:]:      false,
		"kgExampleLocalKey4f9d2c81b7e6a035": false,
	} {
		if got := apikey.WellFormed(key); got != want {
			t.Errorf("WellFormed(%q) = %v, want %v", key, got, want)
		}
	}
}
