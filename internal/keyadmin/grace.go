package keyadmin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keygate/keygate/internal/apikey"
	"github.com/keygate/keygate/internal/smapi"
)

// Carried says which keys of the AWSPREVIOUS version a change kept working.
type Carried struct {
	// Entries are the names the keys were kept under (NAME.previous, or
	// NAME.previous.2 and up when that name is taken).
	Entries []string
	// Until is when the rotation's grace period ends, and with it theirs.
	Until time.Time
	// Dropped names the AWSPREVIOUS entries Force cut off: their grace was
	// still running, or not known, and could not be kept.
	Dropped []string
}

// ErrGraceUnknown: a change has keys of a rotation's grace period to carry
// over, and the function's KEY_GRACE, which says for how long, is not known.
var ErrGraceUnknown = errors.New("the function's KEY_GRACE is needed and not known")

// editFunc is a change to a document (see Admin.change).
type editFunc func(doc apikey.Document, now time.Time) (apikey.Document, error)

// carryGrace applies edit to the current document, keeping a rotation's
// grace period through the change.
//
// The function accepts the AWSPREVIOUS version's keys until its KEY_GRACE
// after AWSCURRENT was created. A new version would end that at the next
// refresh: Secrets Manager moves AWSPREVIOUS to the version being replaced,
// and the new AWSCURRENT restarts the clock. So the AWSPREVIOUS keys the
// document does not hold are copied into it, as hash-only NAME.previous
// entries that expire when the function's grace would have ended (or at
// their own expiry, if sooner): every caller keeps exactly the grace the
// function gives it, no more (a key the function already cut off stays
// dead) and no less. `keys revoke NAME` removes them with NAME, which is
// what makes an emergency revoke inside a grace period possible without
// cutting everyone else off.
//
// That grace is the function's own KEY_GRACE (Admin.Grace), asked for only
// when the change keeps some of those keys: a change with none to carry, or
// one that revokes the only client that has any, needs no function. When
// it is not known, the change is refused unless Force, which cuts the keys
// off. Keys that cannot be carried (the document holds a single key, or a
// name would pass 64 characters) refuse the change too, unless Force.
func (a *Admin) carryGrace(ctx context.Context, cur current, versions map[string][]string, now time.Time, edit editFunc) (apikey.Document, Carried, error) {
	old, err := a.oldKeys(ctx, cur, versions, now)
	if err != nil {
		return apikey.Document{}, Carried{}, err
	}
	// First with every old key carried, for as long as its own expiry
	// allows: if the change keeps none of them, the grace does not matter.
	next, made, lost, err := old.apply(cur.doc, old.names, time.Time{}, now, edit)
	if len(old.names) == 0 {
		return next, Carried{}, err
	}
	need := old.names
	switch {
	case err != nil:
		// Does the change fail whatever is carried? Then that is its error.
		if _, _, _, err0 := old.apply(cur.doc, nil, time.Time{}, now, edit); err0 != nil {
			return next, Carried{}, err
		}
	default:
		from, _ := kept(next, made)
		need = append(from, lost...)
		if len(need) == 0 {
			return next, Carried{}, nil
		}
	}

	grace, gerr := a.keyGrace(ctx)
	if gerr != nil {
		if !a.Force {
			return next, Carried{}, fmt.Errorf("%w: the AWSPREVIOUS version of secret %q holds the keys of %s, which the function accepts until its KEY_GRACE after version %s was created (%s); a new version would cut them off, so keygate carries them over for exactly that long, reading KEY_GRACE from the function's configuration, but %w. Nothing was written; --force writes anyway and cuts those keys off now",
				ErrGraceUnknown, a.SecretID, quoteAll(need), old.version, stamp(old.created), gerr)
		}
		next, _, _, err = old.apply(cur.doc, nil, time.Time{}, now, edit)
		return next, Carried{Dropped: need}, err
	}
	c := Carried{Until: old.created.Add(grace)}
	if !now.Before(c.Until) {
		// The function's grace is over: the old keys stay dead.
		next, _, _, err = old.apply(cur.doc, nil, time.Time{}, now, edit)
		return next, Carried{}, err
	}
	if next, made, lost, err = old.apply(cur.doc, old.names, c.Until, now, edit); err != nil {
		return next, Carried{}, err
	}
	_, c.Entries = kept(next, made)
	if len(lost) > 0 && !a.Force {
		why := "the secret holds a single key, which leaves no room for them (an add, or a rotate with a grace period, with --convert makes it hold named keys)"
		if next.Format == apikey.FormatKeySet {
			why = "their names are too long to keep them as NAME.previous"
		}
		return next, c, fmt.Errorf("%w: the keys of %s in the AWSPREVIOUS version keep working until %s (the function's KEY_GRACE, %s, after version %s was created); a new version would cut them off, and %s. Run the command after %s, or pass --force to cut them off",
			ErrRotationGrace, quoteAll(lost), stamp(c.Until), short(grace), old.version, why, stamp(c.Until))
	}
	c.Dropped = lost
	return next, c, nil
}

// keyGrace is the function's KEY_GRACE, from Grace, else KeyGrace.
func (a *Admin) keyGrace(ctx context.Context) (time.Duration, error) {
	switch {
	case a.Grace != nil:
		return a.Grace(ctx)
	case a.KeyGrace > 0:
		return a.KeyGrace, nil
	}
	return 0, errors.New("no function was given to read it from")
}

// oldKeys are the keys of the AWSPREVIOUS version that the function may
// still accept and AWSCURRENT does not hold: those a change may carry over.
type oldKeys struct {
	prev    apikey.Document // the AWSPREVIOUS version
	names   []string        // its entries to carry: unexpired, not in AWSCURRENT
	created time.Time       // AWSCURRENT's creation: the grace counts from it
	version string          // AWSCURRENT's version ID, for messages
}

func (a *Admin) oldKeys(ctx context.Context, cur current, versions map[string][]string, now time.Time) (oldKeys, error) {
	old := oldKeys{created: cur.created, version: cur.versionID}
	if cur.created.IsZero() || !hasStage(versions, smapi.StagePrevious) {
		return old, nil // without a creation date the function gives no grace either
	}
	prev, err := a.read(ctx, smapi.StagePrevious)
	if errors.Is(err, errUnparsable) {
		return old, nil // the function ignores it too: no grace to keep
	}
	if err != nil {
		return old, err
	}
	held := digests(cur.doc)
	for _, name := range entryNames(prev.doc) {
		e, _ := prev.doc.Entry(name)
		if !e.Expired(now) && !held[e.Digest()] {
			old.names = append(old.names, name)
		}
	}
	old.prev = prev.doc
	return old, nil
}

// carriedKey is an old key copied into the new version: the AWSPREVIOUS
// entry it came from, and the entry that holds it now.
type carriedKey struct{ from, to string }

// apply runs edit on a copy of doc with the old keys of names carried over.
// They go in before the edit, so that the edit sees every key it may
// change: a revoke removes a client's carried key with the rest of it, and
// a set gives it the client's rules. A single-key document has no room for
// them: only an edit that converts it (--convert) makes some, so the edit
// runs first on the document as it is, and only if it converted it, again
// on the converted document with the old keys carried in. It returns the
// result, the keys carried, and the names that found no room.
func (old oldKeys) apply(doc apikey.Document, names []string, until, now time.Time, edit editFunc) (next apikey.Document, made []carriedKey, lost []string, err error) {
	next = doc.Clone()
	if next.Format != apikey.FormatKeySet {
		if next, err = edit(next, now); err != nil {
			return next, nil, nil, err
		}
		if next.Format != apikey.FormatKeySet || len(names) == 0 {
			made, lost = old.carry(next, names, until)
			return next, made, lost, nil
		}
		next = doc.ToKeySet()
	}
	made, lost = old.carry(next, names, until)
	if next, err = edit(next, now); err != nil {
		return next, nil, nil, err
	}
	return next, made, lost, nil
}

// carry copies the old keys of names into doc as hash-only entries
// expiring at until, or at their own earlier expiry (the zero until: at
// their own expiry only, for the first pass of carryGrace, never written).
func (old oldKeys) carry(doc apikey.Document, names []string, until time.Time) (made []carriedKey, lost []string) {
	held := digests(doc)
	for _, name := range names {
		e, _ := old.prev.Entry(name)
		if held[e.Digest()] {
			continue
		}
		expires := e.Expires
		if !until.IsZero() && (expires == nil || until.Before(*expires)) {
			expires = &until
		}
		target := freePreviousName(doc, baseName(name))
		if doc.Format != apikey.FormatKeySet || target == "" {
			lost = append(lost, name)
			continue
		}
		doc.Keys[target] = e.Hashed(expires)
		held[e.Digest()] = true
		made = append(made, carriedKey{name, target})
	}
	return made, lost
}

// kept names the carried keys the edit left in doc (a revoke removes its
// client's): by the AWSPREVIOUS entry they came from, and by the entry
// that holds them now.
func kept(doc apikey.Document, made []carriedKey) (from, to []string) {
	for _, k := range made {
		if _, ok := doc.Keys[k.to]; ok {
			from, to = append(from, k.from), append(to, k.to)
		}
	}
	return from, to
}

func digests(doc apikey.Document) map[[32]byte]bool {
	held := map[[32]byte]bool{}
	for _, n := range entryNames(doc) {
		e, _ := doc.Entry(n)
		held[e.Digest()] = true
	}
	return held
}

// pruneExpired drops the old keys whose grace has ended (NAME.previous and
// NAME.previous.N entries past their expiry) from doc, and names them: they
// can never work again, and changes inside grace periods would otherwise
// pile them up. A client's own entry stays, listed as expired, until it is
// revoked; and nothing is dropped that would leave doc empty.
func pruneExpired(doc apikey.Document, now time.Time) []string {
	var gone []string
	for n, e := range doc.Keys {
		if baseName(n) != n && e.Expired(now) {
			gone = append(gone, n)
		}
	}
	if len(gone) == len(doc.Keys) {
		return nil
	}
	for _, n := range gone {
		delete(doc.Keys, n)
	}
	slices.Sort(gone)
	return gone
}

// entryNames lists a document's entries; a single-key document has one,
// named "default".
func entryNames(doc apikey.Document) []string {
	if doc.Format != apikey.FormatKeySet {
		return []string{apikey.DefaultClient}
	}
	return doc.Names()
}

// previousNames are the entries that keep a client's old keys: NAME.previous
// and NAME.previous.2, .3, … (more than one when a change inside a
// rotation's grace period carried one over).
func previousNames(doc apikey.Document, name string) []string {
	var out []string
	for n := range doc.Keys {
		if baseName(n) == name && n != name {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// baseName is the client an entry belongs to: NAME for NAME, NAME.previous
// and NAME.previous.N.
func baseName(n string) string {
	if i := strings.LastIndex(n, PreviousSuffix); i > 0 {
		rest := n[i+len(PreviousSuffix):]
		if rest == "" {
			return n[:i]
		}
		if num, err := strconv.Atoi(strings.TrimPrefix(rest, ".")); err == nil && num >= 2 && rest == "."+strconv.Itoa(num) {
			return n[:i]
		}
	}
	return n
}

// freePreviousName is the first of NAME.previous, NAME.previous.2, … that
// doc does not use and is a valid name; "" if none is.
func freePreviousName(doc apikey.Document, name string) string {
	for i := 1; ; i++ {
		n := name + PreviousSuffix
		if i > 1 {
			n += "." + strconv.Itoa(i)
		}
		if !apikey.ValidClientName(n) {
			return ""
		}
		if _, taken := doc.Keys[n]; !taken {
			return n
		}
	}
}

func hasStage(versions map[string][]string, stage string) bool {
	for _, stages := range versions {
		if slices.Contains(stages, stage) {
			return true
		}
	}
	return false
}
