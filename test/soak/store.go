package soak

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"
)

// class is the kind of request a key goes into: a key with no rules, one
// with the readonly client's allow (GET / and HEAD / only), one with the
// office client's sources (192.0.2.0/24 and 2001:db8::/32), as
// events/env.json configures them and events/expected.json answers them.
type class string

const (
	plain   class = "plain"
	scoped  class = "scoped"
	sourced class = "sourced"
)

// entry is one key of a version of the secret, as the oracle reads it.
type entry struct {
	client  string
	class   class
	expires time.Time // zero: never
}

// doc is one version of the secret: key → entry. nil when the version
// does not parse (the bad-document fault): no environment can load it.
type doc map[string]entry

// parseDoc reads an {"api_keys": …} secret on its own terms, not through
// the product's parser: an entry holds its key ("key", or the bare string)
// or only the key's SHA-256 ("sha256"), which known maps back to a key the
// soak handed out (keys it never saw cannot be presented anyway).
func parseDoc(value string, known func(sha string) (string, bool)) doc {
	var raw struct {
		Keys map[string]json.RawMessage `json:"api_keys"`
	}
	if json.Unmarshal([]byte(value), &raw) != nil || raw.Keys == nil {
		return nil
	}
	d := doc{}
	for name, m := range raw.Keys {
		var e struct {
			Key, SHA256 string
			Expires     *time.Time
			Allow       []string
			Sources     []string
		}
		if json.Unmarshal(m, &e.Key) != nil && json.Unmarshal(m, &e) != nil {
			return nil
		}
		key := e.Key
		if key == "" {
			var ok bool
			if key, ok = known(strings.ToLower(e.SHA256)); !ok {
				continue
			}
		}
		en := entry{client: name, class: plain}
		switch {
		case e.Allow != nil:
			en.class = scoped
		case e.Sources != nil:
			en.class = sourced
		}
		if e.Expires != nil {
			en.expires = *e.Expires
		}
		d[key] = en
	}
	return d
}

func sha(key string) string {
	s := sha256.Sum256([]byte(key))
	return hex.EncodeToString(s[:])
}

// state is the secret as it stood after one write: the versions labelled
// AWSCURRENT and AWSPREVIOUS. The write began at from and was recorded at
// to; the state is in force from some moment in [from, to] until the next
// write's.
type state struct {
	from, to time.Time
	kind     string // the write: "keys add", "rotation", …
	what     string // with its detail: "keys add soak-3 --ttl 40s"
	current  doc    // nil: AWSCURRENT does not parse
	previous doc
	// currentID is AWSCURRENT's version; graceLo..graceHi is when its
	// AWSPREVIOUS grace ends: its creation, known to within the write
	// that made it, plus KEY_GRACE.
	currentID, previousID string
	graceLo, graceHi      time.Time
}

func (s *state) loadable() bool { return s.current != nil }

// validity is one thing an environment holding s may answer for a key:
// valid or not, and the client it names when valid.
type validity struct {
	valid  bool
	client string
}

// answers lists what an environment holding s may decide for key at some
// moment in [t0, t1]. withPrevious: the set holds AWSPREVIOUS's keys (a
// cold start's, or a partial load's, does not). docs/rotation.md: "The
// function accepts the keys of two versions of the secret: AWSCURRENT, and
// AWSPREVIOUS until KEY_GRACE … after the AWSCURRENT version was created
// (an entry's own earlier expires still wins)." Expiry is checked at the
// moment of the request, so both ends of [t0, t1] count, and both ends of
// the grace's uncertainty.
func (s *state) answers(key string, t0, t1 time.Time, withPrevious bool) []validity {
	var out []validity
	add := func(v validity) {
		for _, o := range out {
			if o == v {
				return
			}
		}
		out = append(out, v)
	}
	for _, at := range []time.Time{t0, t1} {
		if e, ok := s.current[key]; ok && live(e.expires, at) {
			add(validity{true, e.client})
			continue
		}
		e, ok := s.previous[key]
		if !withPrevious || !ok {
			add(validity{})
			continue
		}
		for _, end := range []time.Time{s.graceLo, s.graceHi} {
			if live(e.expires, at) && at.Before(end) {
				add(validity{true, e.client})
			} else {
				add(validity{})
			}
		}
	}
	return out
}

func live(expires, at time.Time) bool { return expires.IsZero() || at.Before(expires) }

// valid says whether key is in force in s at t (counting the grace to its
// latest possible end).
func (s *state) valid(key string, t time.Time) bool {
	if e, ok := s.current[key]; ok && live(e.expires, t) {
		return true
	}
	e, ok := s.previous[key]
	return ok && live(e.expires, t) && t.Before(s.graceHi)
}
