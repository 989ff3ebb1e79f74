package keyadmin_test

import (
	"strings"
	"testing"

	"github.com/keygate/keygate/internal/keyadmin"
)

// padded is an api_keys secret holding alice and an unrelated top-level
// field that makes it size bytes long, written as Document.Marshal writes
// it (so a change adds to it exactly the bytes of its new entry).
func padded(t *testing.T, size int) string {
	t.Helper()
	head, tail := `{"api_keys":{"alice":"`+keyA+`"},"pad":"`, `"}`
	n := size - len(head) - len(tail)
	if n < 0 {
		t.Fatalf("cannot pad a secret to %d bytes", size)
	}
	return head + strings.Repeat("x", n) + tail
}

// Secrets Manager takes at most 64 KiB in a secret value: a change that
// would pass it is refused before anything is written, and an add says
// how much room is left.
func TestSecretSizeLimit(t *testing.T) {
	// What `keys add bob` adds: a hash-only entry.
	bob := len(`,"bob":{"sha256":""}`) + 64
	if bob != 84 {
		t.Fatalf("a hash-only entry for bob is %d bytes, not the 84 the figures below assume", bob)
	}
	tests := []struct {
		name      string
		before    int // the secret's size
		code      int
		stderrHas []string
	}{
		{"one byte over", keyadmin.MaxSecretSize - bob + 1, keyadmin.ExitError,
			[]string{"the secret would be 65,537 bytes, over Secrets Manager's limit of 65,536", "keygate keys revoke", "hash-only", "two stacks", "Nothing was written"}},
		{"exactly at the limit", keyadmin.MaxSecretSize - bob, keyadmin.ExitOK,
			[]string{"The secret is 65,536 of 65,536 bytes: no more clients like this one fit."}},
		{"room for one", keyadmin.MaxSecretSize - 2*bob, keyadmin.ExitOK,
			[]string{": 1 more client like this one fits."}},
		{"room for ten", keyadmin.MaxSecretSize - 11*bob - 5, keyadmin.ExitOK,
			[]string{": about 10 more clients like this one fit."}},
		{"a small secret", 200, keyadmin.ExitOK, // 284 bytes after; 65,252 left, 84 each
			[]string{"The secret is 284 of 65,536 bytes: about 776 more clients like this one fit."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			secret := padded(t, tt.before)
			tl := newTool(t, secret)
			r := tl.run(t, "keys", "add", "bob")
			wantCode(t, r, tt.code, tt.stderrHas...)
			if tt.code != keyadmin.ExitOK {
				if r.stdout != "" || tl.value(t) != secret || tl.sm.Calls("PutSecretValue") != 0 {
					t.Errorf("a refused add printed %q or wrote the secret", r.stdout)
				}
				return
			}
			if got := len(tl.value(t)); got != tt.before+bob {
				t.Errorf("the secret is %d bytes, want %d: the figures above assume the add grew it by %d", got, tt.before+bob, bob)
			}
			checkQuiet(t, r, strings.TrimSpace(r.stdout), secret, tl.value(t))
		})
	}
}
