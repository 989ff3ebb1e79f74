package keyadmin

import (
	"testing"

	"github.com/keygate/keygate/internal/apikey"
)

// Only NAME.previous and NAME.previous.N (N ≥ 2, as freePreviousName makes
// them) belong to NAME: a revoke must not take another client's entry.
func TestBaseName(t *testing.T) {
	for name, want := range map[string]string{
		"bob":                 "bob",
		"bob.previous":        "bob",
		"bob.previous.2":      "bob",
		"bob.previous.17":     "bob",
		"bob.previous.1":      "bob.previous.1",
		"bob.previous.02":     "bob.previous.02",
		"bob.previous.x":      "bob.previous.x",
		"bob.previousness":    "bob.previousness",
		"team.bob":            "team.bob",
		"team.bob.previous.3": "team.bob",
	} {
		if got := baseName(name); got != want {
			t.Errorf("baseName(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestFreePreviousName(t *testing.T) {
	doc := apikey.Document{Format: apikey.FormatKeySet, Keys: map[string]apikey.KeyEntry{
		"bob": {}, "bob.previous": {}, "bob.previous.2": {},
	}}
	if got := freePreviousName(doc, "bob"); got != "bob.previous.3" {
		t.Errorf("free name for bob = %q, want bob.previous.3", got)
	}
	if got := freePreviousName(doc, "carol"); got != "carol.previous" {
		t.Errorf("free name for carol = %q, want carol.previous", got)
	}
	long := "a123456789012345678901234567890123456789012345678901234567" // 58: .previous makes 67
	if got := freePreviousName(doc, long); got != "" {
		t.Errorf("free name for a 58-character client = %q, want none", got)
	}
}
