// Package apikey holds the set of API keys keygate accepts and decides, in
// constant time, whether a presented key is one of them.
//
// Keys are never kept in plaintext after parsing: each accepted key is held
// as its SHA-256 digest, which is also what a hash-only secret entry stores.
package apikey

import (
	"crypto/sha256"
	"crypto/subtle"
	"time"

	"github.com/keygate/keygate/internal/access"
)

// Entry is one accepted key.
type Entry struct {
	// Client names the key's holder in logs; never secret.
	Client string
	// Digest is the SHA-256 of the key.
	Digest [sha256.Size]byte
	// Expires is when the key stops authorizing; zero means never.
	Expires time.Time
	// Stage is the Secrets Manager staging label the entry came from
	// (AWSCURRENT, AWSPREVIOUS), or empty for other sources.
	Stage string
	// Policy is what the key may do beyond being valid (routes, sources)
	// and what its backend learns (meta); nil: everything, nothing.
	Policy *access.Policy
	// UsageKey is the value of the API Gateway API key that stands for the
	// client in a usage plan ("" for none): the usage identifier keygate's
	// REST authorizer hands API Gateway.
	UsageKey string
}

// Result says why a key was or was not accepted. Only logs see it; callers
// get the same 401 for every failure.
type Result int

const (
	Invalid Result = iota // no configured key matches
	Expired               // matched a key whose expiry has passed
	OK
)

func (r Result) String() string {
	switch r {
	case OK:
		return "authorized"
	case Expired:
		return "expired"
	default:
		return "invalid"
	}
}

// Set is an immutable index of accepted keys, safe for concurrent use.
type Set struct {
	byDigest map[[sha256.Size]byte]Entry
}

// compare is crypto/subtle's constant-time comparison; a variable only so
// that tests can prove every lookup makes exactly one fixed-length compare.
var compare = subtle.ConstantTimeCompare

// absent is compared against when no entry matched, so that a miss does the
// same work as a hit.
var absent [sha256.Size]byte

// NewSet indexes entries by digest. When two entries share a digest (the
// same key in the current and the previous secret version) the one that
// lasts longer wins, so a rotation never shortens a key's life.
func NewSet(entries []Entry) *Set {
	s := &Set{byDigest: make(map[[sha256.Size]byte]Entry, len(entries))}
	for _, e := range entries {
		if old, ok := s.byDigest[e.Digest]; ok && !outlives(e, old) {
			continue
		}
		s.byDigest[e.Digest] = e
	}
	return s
}

func outlives(a, b Entry) bool {
	if b.Expires.IsZero() {
		return false
	}
	return a.Expires.IsZero() || a.Expires.After(b.Expires)
}

// Len is the number of distinct keys in the set.
func (s *Set) Len() int { return len(s.byDigest) }

// Entries returns the set's entries in no particular order.
func (s *Set) Entries() []Entry {
	out := make([]Entry, 0, len(s.byDigest))
	for _, e := range s.byDigest {
		out = append(out, e)
	}
	return out
}

// Match reports whether presented is an accepted, unexpired key at now.
//
// The presented key is hashed first, so its length and content no longer
// shape the work: the map lookup runs on a fixed-size digest (timing there
// can only reveal digest bits, which SHA-256's preimage resistance makes
// useless), and every call ends in exactly one 32-byte constant-time
// comparison whether or not the lookup hit. The cost does not depend on
// which entry matched or on how many entries there are.
func (s *Set) Match(presented string, now time.Time) (Entry, Result) {
	d := sha256.Sum256([]byte(presented))
	e, found := s.byDigest[d]
	want := &absent
	if found {
		want = &e.Digest
	}
	if compare(want[:], d[:]) != 1 || !found {
		return Entry{}, Invalid
	}
	if !e.Expires.IsZero() && !now.Before(e.Expires) {
		return e, Expired
	}
	return e, OK
}

// Digest is the SHA-256 of a key, as entries store it.
func Digest(key string) [sha256.Size]byte { return sha256.Sum256([]byte(key)) }
