package apikey

import (
	"encoding/hex"
	"encoding/json"
	"maps"
	"slices"
	"time"
)

// Kinds of entry, as the CLI lists them.
const (
	KindKey    = "key"    // the secret holds the key itself
	KindSHA256 = "sha256" // the secret holds only the key's SHA-256
)

// Kind says whether the entry holds the key or only its hash.
func (e KeyEntry) Kind() string {
	if e.SHA256 != "" {
		return KindSHA256
	}
	return KindKey
}

// HashOnly reports whether the entry holds only the SHA-256 of its key:
// nobody, not even a rotation, can recover or reissue that key.
func (e KeyEntry) HashOnly() bool { return e.SHA256 != "" }

// Digest is the SHA-256 of the entry's key, whichever way it is stored.
func (e KeyEntry) Digest() [32]byte { return e.digest() }

// Expired reports whether the entry has stopped authorizing at now.
func (e KeyEntry) Expired(now time.Time) bool {
	return e.Expires != nil && !now.Before(*e.Expires)
}

// HashEntry returns an entry that stores only the SHA-256 of key, so the
// secret never holds the key itself.
func HashEntry(key string, expires *time.Time) KeyEntry {
	return KeyEntry{Key: key}.Hashed(expires)
}

// Hashed returns an entry for the same key that stores only its SHA-256,
// expiring at expires, with the same access rules (an old key kept for a
// grace period may do no more than it did). It shares no memory with e or
// the caller.
func (e KeyEntry) Hashed(expires *time.Time) KeyEntry {
	d := e.digest()
	h := e.copyRules(KeyEntry{SHA256: hex.EncodeToString(d[:])})
	if expires != nil {
		t := *expires
		h.Expires = &t
	}
	return h
}

// copyRules returns to with e's access rules and usage plan, copied.
func (e KeyEntry) copyRules(to KeyEntry) KeyEntry {
	to.Allow, to.Sources, to.Meta = slices.Clone(e.Allow), slices.Clone(e.Sources), maps.Clone(e.Meta)
	if e.Usage != nil {
		u := *e.Usage
		to.Usage = &u
	}
	return to
}

// WithKey returns an entry for key, stored as the key itself or (hashOnly)
// its SHA-256, expiring at expires, with e's access rules: what a new key
// for the same client (a rotation) must be.
func (e KeyEntry) WithKey(key string, hashOnly bool, expires *time.Time) KeyEntry {
	if hashOnly {
		return KeyEntry{Key: key, Allow: e.Allow, Sources: e.Sources, Meta: e.Meta, Usage: e.Usage}.Hashed(expires)
	}
	n := e.copyRules(KeyEntry{Key: key, Bare: e.Bare})
	if expires != nil {
		t := *expires
		n.Expires = &t
	}
	return n
}

// Clone returns a deep copy, so edits to the copy's Keys leave d intact.
func (d Document) Clone() Document {
	c := d
	c.Keys = maps.Clone(d.Keys)
	c.extra = make(map[string]json.RawMessage, len(d.extra))
	for k, v := range d.extra {
		c.extra[k] = append(json.RawMessage(nil), v...)
	}
	for name, e := range c.Keys {
		if e.Expires != nil {
			t := *e.Expires
			e.Expires = &t
		}
		c.Keys[name] = e.copyRules(e)
	}
	return c
}

// Regenerate returns a copy of d in which every key the secret holds is
// replaced by one from generate, keeping the format, the client names,
// each entry's form (bare string or object) and expiry. Hash-only entries
// are kept as they are: their keys are held by clients the secret cannot
// reach. It also returns how many keys were replaced.
func (d Document) Regenerate(generate func() string) (Document, int) {
	c := d.Clone()
	if c.Format != FormatKeySet {
		c.Key = generate()
		return c, 1
	}
	n := 0
	for name, e := range c.Keys {
		if e.HashOnly() {
			continue
		}
		e.Key = generate()
		c.Keys[name] = e
		n++
	}
	return c, n
}

// ToKeySet converts a single-key document (plain or api_key) into the
// api_keys format, its key becoming the entry DefaultClient, so that more
// clients can be added. Unrelated top-level fields are kept. An api_keys
// document is returned as a copy.
func (d Document) ToKeySet() Document {
	c := d.Clone()
	if c.Format == FormatKeySet {
		return c
	}
	c.Keys = map[string]KeyEntry{DefaultClient: {Key: c.Key, Bare: true}}
	c.Format, c.Key = FormatKeySet, ""
	return c
}

// Entry returns the named entry; a single-key document has one, named
// DefaultClient.
func (d Document) Entry(name string) (KeyEntry, bool) {
	if d.Format != FormatKeySet {
		// A miss returns no key material, even to a caller that ignores ok.
		if name != DefaultClient {
			return KeyEntry{}, false
		}
		return KeyEntry{Key: d.Key, Bare: true}, true
	}
	e, ok := d.Keys[name]
	return e, ok
}
