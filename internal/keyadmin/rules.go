package keyadmin

import (
	"errors"
	"maps"
	"slices"
	"strings"

	"github.com/keygate/keygate/internal/apikey"
)

// RuleChange changes an entry's access rules: its allow, sources and meta
// (apikey.KeyEntry). The zero value changes nothing.
type RuleChange struct {
	// Allow and Sources, when Replace is set, replace the whole list: a
	// nil List removes the field (every route; anywhere), an empty one
	// allows none.
	Allow, Sources ListChange
	// ClearMeta removes every meta member; then SetMeta sets members and
	// UnsetMeta removes them.
	ClearMeta bool
	SetMeta   map[string]string
	UnsetMeta []string
}

// Rules are an entry's access rules as the secret holds them (see
// apikey.KeyEntry): nil lists are absent (any), empty ones allow none.
type Rules struct {
	Allow   []string
	Sources []string
	Meta    map[string]string
}

// rulesOf copies e's rules.
func rulesOf(e apikey.KeyEntry) Rules {
	return Rules{Allow: slices.Clone(e.Allow), Sources: slices.Clone(e.Sources), Meta: maps.Clone(e.Meta)}
}

// ListChange replaces a list of rules, or leaves it.
type ListChange struct {
	Replace bool
	List    []string
}

// Empty reports whether c changes nothing.
func (c RuleChange) Empty() bool {
	return !c.Allow.Replace && !c.Sources.Replace && !c.ClearMeta && len(c.SetMeta) == 0 && len(c.UnsetMeta) == 0
}

// Apply returns e with the change made. It shares no memory with e or c.
func (c RuleChange) Apply(e apikey.KeyEntry) apikey.KeyEntry {
	e.Allow, e.Sources, e.Meta = slices.Clone(e.Allow), slices.Clone(e.Sources), maps.Clone(e.Meta)
	if c.Allow.Replace {
		e.Allow = slices.Clone(c.Allow.List)
	}
	if c.Sources.Replace {
		e.Sources = slices.Clone(c.Sources.List)
	}
	if !c.ClearMeta && len(c.SetMeta) == 0 && len(c.UnsetMeta) == 0 {
		return e
	}
	if c.ClearMeta {
		e.Meta = nil
	}
	for k, v := range c.SetMeta {
		if e.Meta == nil {
			e.Meta = map[string]string{}
		}
		e.Meta[k] = v
	}
	for _, k := range c.UnsetMeta {
		delete(e.Meta, k)
	}
	if len(e.Meta) == 0 {
		e.Meta = nil // no members is no meta: the secret writes neither
	}
	return e
}

// probeHash stands for the key of the entry Check builds: no key hashes
// to it, so no meta value can be taken for a key of the secret.
var probeHash = strings.Repeat("0", 64)

// Check validates the rules c sets for the client name the way the
// function does (apikey.Document.Marshal, which parses what it writes),
// before the secret is read: the same messages, naming the client and
// the field (allow[i], sources[i], meta["name"]), never a value. Limits
// that depend on the entry's other members (at most
// apikey.MaxMetaMembers) and on the rest of the secret (a meta value that
// is one of its keys) are checked again when the change is written.
func (c RuleChange) Check(name string) error {
	probe := apikey.KeyEntry{SHA256: probeHash, Meta: c.SetMeta}
	if c.Allow.Replace {
		probe.Allow = c.Allow.List
	}
	if c.Sources.Replace {
		probe.Sources = c.Sources.List
	}
	if err := checkEntry(name, probe); err != nil {
		return err
	}
	// A member to remove must have a name that could exist.
	for _, k := range c.UnsetMeta {
		if err := checkEntry(name, apikey.KeyEntry{SHA256: probeHash, Meta: map[string]string{k: ""}}); err != nil {
			return err
		}
	}
	return nil
}

// checkEntry validates e as the only entry, named name, of a secret.
func checkEntry(name string, e apikey.KeyEntry) error {
	doc := apikey.Document{Format: apikey.FormatKeySet, Keys: map[string]apikey.KeyEntry{name: e}}
	_, err := doc.Marshal()
	if err != nil && errors.Is(err, apikey.ErrFormat) {
		// Its own words, without "invalid API key secret": there is no
		// secret yet.
		return errors.New(strings.TrimPrefix(err.Error(), apikey.ErrFormat.Error()+": "))
	}
	return err
}

// sameRules reports whether a and b have the same access rules. A nil
// list (any) and an empty one (none) differ; no meta and empty meta do
// not (the secret writes neither).
func sameRules(a, b apikey.KeyEntry) bool {
	return sameList(a.Allow, b.Allow) && sameList(a.Sources, b.Sources) && maps.Equal(a.Meta, b.Meta)
}

func sameList(a, b []string) bool { return (a == nil) == (b == nil) && slices.Equal(a, b) }

// withRules returns to with the access rules of from, copied: an old key
// of a client (NAME.previous) is never allowed more than its current one.
func withRules(to, from apikey.KeyEntry) apikey.KeyEntry {
	to.Allow, to.Sources, to.Meta = slices.Clone(from.Allow), slices.Clone(from.Sources), maps.Clone(from.Meta)
	return to
}
