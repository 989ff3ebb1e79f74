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
}

// carryGrace keeps a rotation's grace period through a change.
//
// The function accepts the AWSPREVIOUS version's keys until KEY_GRACE after
// AWSCURRENT was created. A new version would end that at the next refresh:
// Secrets Manager moves AWSPREVIOUS to the version being replaced, and the
// new AWSCURRENT restarts the clock. So the AWSPREVIOUS keys the document
// does not hold are copied into it, as hash-only NAME.previous entries that
// expire when the grace would have ended (or at their own expiry, if
// sooner): every caller keeps exactly the grace it had, and `keys revoke
// NAME` removes them with NAME, which is what makes an emergency revoke
// inside a grace period possible without cutting everyone else off.
//
// Keys that cannot be carried (the document holds a single key, or a name
// would pass 64 characters) refuse the change unless Force, which drops
// them.
func (a *Admin) carryGrace(ctx context.Context, doc apikey.Document, cur current, versions map[string][]string) (apikey.Document, Carried, error) {
	var c Carried
	if a.KeyGrace <= 0 || cur.created.IsZero() || !hasStage(versions, smapi.StagePrevious) {
		return doc, c, nil
	}
	c.Until = cur.created.Add(a.KeyGrace)
	now := a.now()
	if !now.Before(c.Until) {
		return doc, c, nil
	}
	prev, err := a.read(ctx, smapi.StagePrevious)
	if errors.Is(err, errUnparsable) {
		return doc, c, nil // the function ignores it too: no grace to keep
	}
	if err != nil {
		return doc, c, err
	}
	held := map[[32]byte]bool{}
	for _, n := range entryNames(doc) {
		e, _ := doc.Entry(n)
		held[e.Digest()] = true
	}
	var lost []string
	for _, name := range entryNames(prev.doc) {
		e, _ := prev.doc.Entry(name)
		if e.Expired(now) || held[e.Digest()] {
			continue
		}
		until := c.Until
		if e.Expires != nil && e.Expires.Before(until) {
			until = *e.Expires
		}
		target := freePreviousName(doc, baseName(name))
		if doc.Format != apikey.FormatKeySet || target == "" {
			lost = append(lost, name)
			continue
		}
		doc.Keys[target] = e.Hashed(&until)
		held[e.Digest()] = true
		c.Entries = append(c.Entries, target)
	}
	if len(lost) > 0 && !a.Force {
		why := "the secret holds a single key, which leaves no room for them (an add, or a rotate with a grace period, with --convert makes it hold named keys)"
		if doc.Format == apikey.FormatKeySet {
			why = "their names are too long to keep them as NAME.previous"
		}
		return doc, c, fmt.Errorf("%w: the keys of %s in the AWSPREVIOUS version keep working until %s (KEY_GRACE %s after version %s was created); a new version would cut them off, and %s. Run the command after %s, or pass --force to cut them off",
			ErrRotationGrace, quoteAll(lost), stamp(c.Until), a.KeyGrace, cur.versionID, why, stamp(c.Until))
	}
	return doc, c, nil
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
