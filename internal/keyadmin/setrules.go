package keyadmin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keygate/keygate/internal/apikey"
)

// RulesSet is the outcome of SetRules.
type RulesSet struct {
	Written
	// Entries names the entries whose rules changed: NAME and its old
	// keys. Empty when every one already had the rules asked for: then
	// nothing was written.
	Entries []string
	// Before and After are NAME's rules.
	Before, After Rules
}

// errUnchanged: the edit changed nothing, so there is nothing to write.
var errUnchanged = errors.New("nothing to change")

// ErrOldKey: the entry named is a client's old key (NAME.previous,
// NAME.previous.N), whose rules follow the client's.
var ErrOldKey = errors.New("the entry is an old key")

// SetRules changes the access rules of a client's entry without touching
// its key, kind or expiry, and gives the client's old keys (NAME.previous,
// NAME.previous.N, kept for a rotation's grace period) the same rules: an
// old key is never allowed more than the current one, and a rule set to
// keep a client out must not leave it a way in. When every one of them
// already has those rules, nothing is written. A single-key secret holds
// no rules: it is converted only when convert is set.
func (a *Admin) SetRules(ctx context.Context, name string, c RuleChange, convert bool) (RulesSet, error) {
	if err := checkName(name); err != nil {
		return RulesSet{}, err
	}
	if c.Empty() {
		return RulesSet{}, errors.New("no change to the rules was given")
	}
	if base := baseName(name); base != name {
		// Set on its own, an old key could be allowed more than its
		// client's current one.
		return RulesSet{}, fmt.Errorf("%w: %q is an old key of %q, kept for a rotation's grace period, and takes its client's rules: use `keygate keys set %s …`, which sets them for it and its old keys, or cut the old key off with `keygate keys revoke %s`",
			ErrOldKey, name, base, base, name)
	}
	var r RulesSet
	w, err := a.change(ctx, func(doc apikey.Document, now time.Time) (apikey.Document, error) {
		r = RulesSet{}
		cur, ok := doc.Entry(name)
		if !ok {
			return doc, a.noEntry(doc, name)
		}
		doc, err := a.keySet(doc, convert, "set the access rules of "+name)
		if err != nil {
			return doc, err
		}
		next := c.Apply(cur)
		r.Before, r.After = rulesOf(cur), rulesOf(next)
		// Old keys carried over from a rotation's AWSPREVIOUS version are
		// in doc already (carryGrace), so they get the rules too.
		for _, n := range append([]string{name}, previousNames(doc, name)...) {
			e := doc.Keys[n]
			if changed := withRules(e, next); !sameRules(e, changed) {
				doc.Keys[n] = changed
				r.Entries = append(r.Entries, n)
			}
		}
		if len(r.Entries) == 0 {
			return doc, errUnchanged
		}
		return doc, nil
	})
	r.Written = w
	if errors.Is(err, errUnchanged) {
		return r, nil
	}
	return r, err
}
