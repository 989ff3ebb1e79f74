package apikey

// An internal test: it swaps the package's compare function to prove that
// every Match makes exactly one fixed-length constant-time comparison.

import (
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestMatch(t *testing.T) {
	const (
		alice = "kgAliceKey0123456789abcdefABCDEF"
		bob   = "kgBobKey9876543210"
		carol = "kgCarolHashOnlyKey55"
	)
	expires := t0.Add(time.Hour)
	set := NewSet([]Entry{
		{Client: "alice", Digest: Digest(alice), Stage: "AWSCURRENT"},
		{Client: "bob", Digest: Digest(bob), Expires: expires},
		// A hash-only entry holds just the digest, as a sha256 entry does.
		{Client: "carol", Digest: sha256.Sum256([]byte(carol))},
	})
	tests := []struct {
		name      string
		presented string
		now       time.Time
		want      Result
		client    string
	}{
		{"right key", alice, t0, OK, "alice"},
		{"second client", bob, t0, OK, "bob"},
		{"hash-only entry", carol, t0, OK, "carol"},
		{"wrong key", "kgWrongKey0000000000000000000000", t0, Invalid, ""},
		{"empty key", "", t0, Invalid, ""},
		{"long key", strings.Repeat("k", 100000), t0, Invalid, ""},
		{"prefix of a key", alice[:len(alice)-1], t0, Invalid, ""},
		{"key with an extra byte", alice + "x", t0, Invalid, ""},
		{"different case", strings.ToUpper(alice), t0, Invalid, ""},
		{"key with surrounding space", " " + alice, t0, Invalid, ""},
		{"one nanosecond before expiry", bob, expires.Add(-time.Nanosecond), OK, "bob"},
		{"exactly at expiry", bob, expires, Expired, "bob"},
		{"after expiry", bob, expires.Add(time.Hour), Expired, "bob"},
		{"no expiry is forever", alice, t0.AddDate(100, 0, 0), OK, "alice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, got := set.Match(tt.presented, tt.now)
			if got != tt.want {
				t.Fatalf("Match = %v, want %v", got, tt.want)
			}
			if e.Client != tt.client {
				t.Errorf("client = %q, want %q", e.Client, tt.client)
			}
		})
	}
	if e, _ := set.Match(alice, t0); e.Stage != "AWSCURRENT" {
		t.Errorf("stage = %q, want AWSCURRENT", e.Stage)
	}
}

func TestMatchEmptySet(t *testing.T) {
	for _, k := range []string{"", "anything"} {
		if _, got := NewSet(nil).Match(k, t0); got != Invalid {
			t.Errorf("empty set: Match(%q) = %v, want invalid", k, got)
		}
	}
}

// The same key in the current and the previous version (a rotation that
// kept one client's key) must keep the longer life, whatever the order.
func TestNewSetKeepsLongerLife(t *testing.T) {
	d := Digest("kgSharedKey")
	soon, later := t0.Add(time.Hour), t0.Add(48*time.Hour)
	tests := []struct {
		name    string
		entries []Entry
		want    time.Time
	}{
		{"current forever, previous expiring", []Entry{{Digest: d, Stage: "AWSCURRENT"}, {Digest: d, Expires: soon, Stage: "AWSPREVIOUS"}}, time.Time{}},
		{"previous first", []Entry{{Digest: d, Expires: soon, Stage: "AWSPREVIOUS"}, {Digest: d, Stage: "AWSCURRENT"}}, time.Time{}},
		{"both expiring, later second", []Entry{{Digest: d, Expires: soon}, {Digest: d, Expires: later}}, later},
		{"both expiring, later first", []Entry{{Digest: d, Expires: later}, {Digest: d, Expires: soon}}, later},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewSet(tt.entries)
			if s.Len() != 1 {
				t.Fatalf("Len = %d, want 1", s.Len())
			}
			e, res := s.Match("kgSharedKey", soon)
			if !e.Expires.Equal(tt.want) {
				t.Errorf("Expires = %v, want %v", e.Expires, tt.want)
			}
			if res != OK {
				t.Errorf("at the shorter expiry: %v, want authorized (the longer life wins)", res)
			}
		})
	}
}

// TestMatchOneFixedLengthCompare proves the constant-time structure: every
// call, hit or miss, whatever the presented length, ends in exactly one
// comparison of two 32-byte values.
func TestMatchOneFixedLengthCompare(t *testing.T) {
	const right = "kgRightKey0123456789abcdefghijklm"
	var entries []Entry
	for i := range 500 {
		entries = append(entries, Entry{Client: fmt.Sprintf("c%d", i), Digest: Digest(fmt.Sprintf("kgKey%04d", i))})
	}
	entries = append(entries, Entry{Client: "right", Digest: Digest(right)})
	set := NewSet(entries)

	type call struct{ la, lb int }
	var calls []call
	orig := compare
	t.Cleanup(func() { compare = orig })
	compare = func(a, b []byte) int {
		calls = append(calls, call{len(a), len(b)})
		return orig(a, b)
	}

	cases := map[string]Result{right: OK}
	for _, n := range []int{0, 1, 31, 32, 33, 1000} {
		cases[strings.Repeat("w", n)] = Invalid
	}
	for presented, want := range cases {
		t.Run(fmt.Sprintf("len %d", len(presented)), func(t *testing.T) {
			calls = nil
			if _, got := set.Match(presented, t0); got != want {
				t.Fatalf("Match = %v, want %v", got, want)
			}
			if len(calls) != 1 {
				t.Fatalf("%d comparisons, want exactly 1", len(calls))
			}
			if calls[0] != (call{32, 32}) {
				t.Errorf("compared lengths %d and %d, want 32 and 32", calls[0].la, calls[0].lb)
			}
		})
	}
}

// A lookup that hits the map but whose comparison fails must not authorize:
// the compare result, not the lookup, decides.
func TestMatchTrustsCompare(t *testing.T) {
	orig := compare
	t.Cleanup(func() { compare = orig })
	compare = func(a, b []byte) int { return 0 }
	set := NewSet([]Entry{{Client: "a", Digest: Digest("kgKey")}})
	if _, got := set.Match("kgKey", t0); got != Invalid {
		t.Errorf("Match with a failing compare = %v, want invalid", got)
	}
}

func TestMatchManyEntries(t *testing.T) {
	var entries []Entry
	for i := range 500 {
		entries = append(entries, Entry{Client: fmt.Sprintf("client-%03d", i), Digest: Digest(fmt.Sprintf("kgManyKey%03d", i))})
	}
	set := NewSet(entries)
	if set.Len() != 500 || len(set.Entries()) != 500 {
		t.Fatalf("Len = %d, Entries = %d, want 500", set.Len(), len(set.Entries()))
	}
	for i := range 500 {
		e, res := set.Match(fmt.Sprintf("kgManyKey%03d", i), t0)
		if res != OK || e.Client != fmt.Sprintf("client-%03d", i) {
			t.Fatalf("key %d: %v for %q", i, res, e.Client)
		}
	}
	for _, k := range []string{"kgManyKey500", "kgManyKey", "kgManyKey0000", ""} {
		if _, res := set.Match(k, t0); res != Invalid {
			t.Errorf("Match(%q) = %v, want invalid", k, res)
		}
	}
}

func TestResultString(t *testing.T) {
	for r, want := range map[Result]string{OK: "authorized", Invalid: "invalid", Expired: "expired"} {
		if got := r.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", r, got, want)
		}
	}
}

func TestDigest(t *testing.T) {
	// SHA-256("abc"), from FIPS 180-2.
	const want = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	d := Digest("abc")
	if got := fmt.Sprintf("%x", d); got != want {
		t.Errorf("Digest(abc) = %s, want %s", got, want)
	}
}
