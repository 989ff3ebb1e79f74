package keyadmin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/keygate/keygate/internal/apikey"
)

// Listing is what `keys list` shows: names, metadata and access rules,
// never a key or a hash.
type Listing struct {
	SecretID  string    `json:"secret_id"`
	VersionID string    `json:"version_id"`
	Format    string    `json:"format"`
	Entries   []Listed  `json:"entries"`
	Created   time.Time `json:"created"`
	// Logs is where each entry's LastSeen comes from, when a function was
	// given (--function); LogsError says why they could not be read: then
	// LastSeen is unknown, not absent.
	Logs      *LogWindow `json:"logs,omitempty"`
	LogsError string     `json:"logs_error,omitempty"`
}

// Listed is one entry. Created is the creation date of the secret version
// that holds it: Secrets Manager keeps no date per entry.
type Listed struct {
	Name    string     `json:"name"`
	Kind    string     `json:"kind"`
	Created time.Time  `json:"created"`
	Expires *time.Time `json:"expires,omitempty"`
	Expired bool       `json:"expired"`
	// Short: the secret holds the key itself, and it is shorter than
	// apikey.MinKeyLength (hand-written; generated keys never are).
	Short bool `json:"short,omitempty"`
	// Allow, Sources and Meta are the entry's access rules as the secret
	// holds them: nil when absent (every route, anywhere, none), and an
	// empty list (none) is written as [].
	Allow   []string          `json:"allow,omitempty"`
	Sources []string          `json:"sources,omitempty"`
	Meta    map[string]string `json:"meta,omitempty"`
	// Plan is the usage plan the client is in (keys set --plan).
	Plan string `json:"plan,omitempty"`
	// LastSeen is the last request that presented the key, within
	// Listing.Logs (absent: none there).
	LastSeen *time.Time `json:"last_seen,omitempty"`
}

// MarshalJSON writes an empty allow or sources list (none), and leaves an
// absent one (any) out, as the secret does.
func (l Listed) MarshalJSON() ([]byte, error) {
	type fields Listed // without this method
	out := struct {
		fields
		Allow   *[]string         `json:"allow,omitempty"`
		Sources *[]string         `json:"sources,omitempty"`
		Meta    map[string]string `json:"meta,omitempty"` // after them
	}{fields: fields(l), Meta: l.Meta}
	if l.Allow != nil {
		out.Allow = &l.Allow
	}
	if l.Sources != nil {
		out.Sources = &l.Sources
	}
	return json.Marshal(out)
}

// List reads the current version's entries; a single-key secret shows one
// entry named "default".
func (a *Admin) List(ctx context.Context) (Listing, error) {
	cur, err := a.readCurrent(ctx)
	if err != nil {
		return Listing{}, err
	}
	l := Listing{SecretID: a.SecretID, VersionID: cur.versionID, Format: cur.doc.Format.String(), Created: cur.created}
	now := a.now()
	for _, n := range entryNames(cur.doc) {
		e, _ := cur.doc.Entry(n)
		r := rulesOf(e)
		ls := Listed{Name: n, Kind: e.Kind(), Created: cur.created, Expires: e.Expires, Expired: e.Expired(now),
			Short: e.Key != "" && len(e.Key) < apikey.MinKeyLength, Allow: r.Allow, Sources: r.Sources, Meta: r.Meta}
		if e.Usage != nil {
			ls.Plan = e.Usage.Plan
		}
		l.Entries = append(l.Entries, ls)
	}
	return l, nil
}

// AddOptions shape a new entry.
type AddOptions struct {
	// StoreKey stores the key itself rather than its SHA-256.
	StoreKey bool
	// Expires, if set, is when the key stops working.
	Expires *time.Time
	// Rules are the entry's access rules (allow, sources, meta).
	Rules RuleChange
	// Convert allows rewriting a single-key secret in the api_keys
	// format, its key kept as the entry "default".
	Convert bool
	// Plan, if set, puts the client in that usage plan of Plans: an API
	// key is made for it there first, and deleted again if the secret is
	// not written.
	Plan  string
	Plans Plans
}

// Added is the outcome of Add.
type Added struct {
	Written
	// EntrySize is how many bytes the new entry takes in the secret: a
	// measure of how many more such clients fit (MaxSecretSize).
	EntrySize int
	// Rules are the new entry's access rules.
	Rules Rules
}

// Add generates a key for a new client and writes it. The key is returned
// (to be shown once) only if the new version was written.
func (a *Admin) Add(ctx context.Context, name string, opt AddOptions) (string, Added, error) {
	if err := checkName(name); err != nil {
		return "", Added{}, err
	}
	key := a.generate()
	var usage *apikey.Usage
	if opt.Plan != "" {
		u, err := opt.Plans.NewKey(ctx, name, opt.Plan)
		if err != nil {
			return "", Added{}, err
		}
		usage = &u
	}
	var r Added
	w, err := a.change(ctx, func(doc apikey.Document, now time.Time) (apikey.Document, error) {
		doc, err := a.keySet(doc, opt.Convert, "add "+name)
		if err != nil {
			return doc, err
		}
		if _, ok := doc.Keys[name]; ok {
			return doc, fmt.Errorf("%w: secret %q already has an entry %q: pick another name, or use `keygate keys rotate %s` to give it a new key", ErrEntryExists, a.SecretID, name, name)
		}
		e := opt.Rules.Apply(newEntry(key, opt.StoreKey, opt.Expires))
		if usage != nil {
			u := *usage
			e.Usage = &u
		}
		doc.Keys[name] = e
		r.EntrySize, r.Rules = entrySize(name, e), rulesOf(e)
		return doc, nil
	})
	r.Written = w
	if w.VersionID == "" {
		key = ""
		if usage != nil {
			err = errors.Join(err, opt.Plans.Delete(ctx, usage.KeyID))
		}
	}
	return key, r, err
}

// Revoked is the outcome of Revoke.
type Revoked struct {
	Written
	// Removed lists the entries removed: NAME, and NAME.previous (.2, …)
	// if rotations left them (a revoked client keeps no key in a grace
	// period).
	Removed []string
	// UsageKeys are the IDs of the API Gateway API keys that stood for
	// the removed entries in usage plans and that no remaining entry
	// uses: to delete (Plans.Delete).
	UsageKeys []string
}

// Revoke removes a client's entry, and the old keys a rotation kept for it.
// It refuses to remove the last entry that still works.
func (a *Admin) Revoke(ctx context.Context, name string) (Revoked, error) {
	if err := checkName(name); err != nil {
		return Revoked{}, err
	}
	var removed, usageKeys []string
	w, err := a.change(ctx, func(doc apikey.Document, now time.Time) (apikey.Document, error) {
		// A client a put-secret-value dropped may still hold a key in a
		// rotation's grace period: carried over, it is revoked here too.
		removed, usageKeys = nil, nil
		_, ok := doc.Entry(name)
		old := previousNames(doc, name)
		if !ok && len(old) == 0 {
			return doc, a.noEntry(doc, name)
		}
		if doc.Format != apikey.FormatKeySet {
			return doc, fmt.Errorf("%w: %q is the only key of secret %q: add another client first (`keygate keys add NAME --convert`), or delete the secret", ErrLastKey, name, a.SecretID)
		}
		if ok {
			removed = []string{name}
		}
		removed = append(removed, old...)
		for _, n := range removed {
			if u := doc.Keys[n].Usage; u != nil && !slices.Contains(usageKeys, u.KeyID) {
				usageKeys = append(usageKeys, u.KeyID)
			}
			delete(doc.Keys, n)
		}
		for _, e := range doc.Keys {
			if e.Usage != nil {
				usageKeys = slices.DeleteFunc(usageKeys, func(id string) bool { return id == e.Usage.KeyID })
			}
		}
		for _, e := range doc.Keys {
			if !e.Expired(now) {
				return doc, nil
			}
		}
		return doc, fmt.Errorf("%w: %q is the last unexpired key of secret %q, and without it every request gets 401: add a key first (`keygate keys add NAME`)", ErrLastKey, name, a.SecretID)
	})
	if w.VersionID == "" {
		usageKeys = nil
	}
	return Revoked{Written: w, Removed: removed, UsageKeys: usageKeys}, err
}

// RotateOptions shape a rotation.
type RotateOptions struct {
	// Grace is how long the old key keeps working, as NAME.previous.
	// Zero replaces the key at once.
	Grace time.Duration
	// Expires, if set, replaces the entry's expiry; otherwise it is kept.
	Expires *time.Time
	// Convert allows rewriting a single-key secret in the api_keys
	// format (needed to keep the old key alongside the new one).
	Convert bool
}

// Rotated is the outcome of Rotate.
type Rotated struct {
	Written
	// Previous names the entry holding the old key ("" with no grace),
	// until PreviousExpires.
	Previous        string
	PreviousExpires time.Time
}

// Rotate gives a client a new key. With a grace period the old key stays
// valid as NAME.previous (its hash) until now+grace (or its own expiry, if
// sooner); an earlier NAME.previous is replaced. The entry keeps its kind
// (key or sha256). The key is returned only if the new version was written.
func (a *Admin) Rotate(ctx context.Context, name string, opt RotateOptions) (string, Rotated, error) {
	if err := checkName(name); err != nil {
		return "", Rotated{}, err
	}
	prevName := name + PreviousSuffix
	if opt.Grace > 0 && !apikey.ValidClientName(prevName) {
		return "", Rotated{}, fmt.Errorf("%w: %q is too long to keep its old key as %q (names are at most 64 characters): rotate with --grace 0, or revoke it and add a shorter name", ErrInvalidName, name, prevName)
	}
	key := a.generate()
	var r Rotated
	w, err := a.change(ctx, func(doc apikey.Document, now time.Time) (apikey.Document, error) {
		r = Rotated{}
		old, ok := doc.Entry(name)
		if !ok {
			return doc, a.noEntry(doc, name)
		}
		expires := old.Expires
		if opt.Expires != nil {
			expires = opt.Expires
		}
		if expires != nil && !now.Before(*expires) {
			return doc, fmt.Errorf("%w: %q expired at %s, so its new key would not work either: pass --expires or --ttl", ErrEntryExpired, name, stamp(*expires))
		}
		if doc.Format != apikey.FormatKeySet && opt.Grace == 0 && opt.Expires == nil {
			// Same format, new key, old one gone: no conversion needed.
			doc.Key = key
			return doc, nil
		}
		doc, err := a.keySet(doc, opt.Convert, "rotate "+name+" with a grace period")
		if err != nil {
			return doc, err
		}
		// The new key keeps the entry's kind and access rules.
		doc.Keys[name] = old.WithKey(key, old.HashOnly(), expires)
		if opt.Grace <= 0 {
			return doc, nil
		}
		until := now.Add(opt.Grace).Truncate(time.Second)
		if old.Expires != nil && old.Expires.Before(until) {
			until = *old.Expires
		}
		// An older key still in its grace (an earlier rotate, or one a
		// rotation's grace period carried over) keeps it: the key rotated
		// away takes the next free NAME.previous.N.
		target := prevName
		if e, taken := doc.Keys[prevName]; taken && !e.Expired(now) {
			if target = freePreviousName(doc, name); target == "" {
				return doc, fmt.Errorf("%w: %q has no free name to keep its old key under (NAME.previous.N would pass 64 characters): rotate with --grace 0, or revoke %q first", ErrInvalidName, name, prevName)
			}
		}
		// Only the hash: the old key need not be readable any more, and a
		// rotation (which regenerates the keys a secret holds) leaves a
		// hash-only entry as it is, so the old key keeps its grace.
		doc.Keys[target] = old.Hashed(&until)
		r.Previous, r.PreviousExpires = target, until
		return doc, nil
	})
	r.Written = w
	if w.VersionID == "" {
		key = ""
	}
	return key, r, err
}

// keySet returns doc in the api_keys format, converting a single-key
// document only when allowed.
func (a *Admin) keySet(doc apikey.Document, convert bool, what string) (apikey.Document, error) {
	if doc.Format == apikey.FormatKeySet {
		return doc, nil
	}
	if !convert {
		return doc, fmt.Errorf("%w: secret %q is in the %s format, which holds one key; to %s it must hold named keys. Pass --convert to rewrite it as {\"api_keys\": {\"default\": <its key>, …}}: the current key keeps working as the client \"default\", but anything else that reads this secret must understand the api_keys format. (To replace the single key in place, use `keygate keys rotate default --grace 0`, or `aws secretsmanager rotate-secret`, whose old key works for KEY_GRACE.)",
			ErrSingleKey, a.SecretID, doc.Format, what)
	}
	return doc.ToKeySet(), nil
}

func (a *Admin) noEntry(doc apikey.Document, name string) error {
	if doc.Format != apikey.FormatKeySet {
		return fmt.Errorf("%w: secret %q holds a single key, listed as %q, and no entry %q", ErrNoEntry, a.SecretID, apikey.DefaultClient, name)
	}
	return fmt.Errorf("%w: secret %q has no entry %q: see `keygate keys list`", ErrNoEntry, a.SecretID, name)
}

func newEntry(key string, storeKey bool, expires *time.Time) apikey.KeyEntry {
	if storeKey {
		return apikey.KeyEntry{Key: key, Expires: expires}
	}
	return apikey.HashEntry(key, expires)
}

func checkName(name string) error {
	if !apikey.ValidClientName(name) {
		return fmt.Errorf("%w %q: use 1-64 of A-Z a-z 0-9 . _ @ -, starting with a letter or digit", ErrInvalidName, name)
	}
	return nil
}
