// Package decision is keygate's key decision: given what a request presents
// (its x-api-key values, and whether its front door described them
// consistently), which client is it, and may it proceed.
//
// It knows neither HTTP nor Lambda. The HTTP handler, the Lambda
// authorizers and the local server each translate their request into a
// Request, ask a Decider, and act on the Result.
package decision

import (
	"context"
	"strings"

	"github.com/keygate/keygate/internal/apikey"
)

// Keys is the key set in force; keycache.Cache is one.
type Keys interface {
	// Match returns the entry key matches and whether it authorizes. The
	// empty key (none presented) only asks whether a set is loaded. An
	// error means none is: nothing is authorized.
	Match(ctx context.Context, key string) (apikey.Entry, apikey.Result, error)
}

// Outcome is what the decision found, as logged. Callers of a refused
// request never learn which refusal applied.
type Outcome string

const (
	Authorized  Outcome = "authorized"
	Missing     Outcome = "missing"     // no x-api-key value, or only blanks
	Invalid     Outcome = "invalid"     // no key in force is equal to it
	Ambiguous   Outcome = "ambiguous"   // more than one value, a list, or maps that disagree
	Expired     Outcome = "expired"     // equal to a key whose expiry has passed
	Unavailable Outcome = "unavailable" // no key set is loaded: fail closed
)

// Request is what a request presents for the decision.
type Request struct {
	// Keys are the request's x-api-key values, one per value its front
	// door kept apart, as sent.
	Keys []string
	// Conflict reports that the front door described the request more
	// than once (two header maps), in ways that disagree about its key:
	// which key the caller meant is unclear.
	Conflict bool
}

// Result is the decision.
type Result struct {
	Outcome Outcome
	// Entry is the entry the key matched (for an expired key too: the
	// operator needs to know who still uses it); zero otherwise.
	Entry apikey.Entry
}

// Allowed reports whether the request may proceed.
func (r Result) Allowed() bool { return r.Outcome == Authorized }

// Client names the key's holder, or "" when the key matched no entry.
func (r Result) Client() string { return r.Entry.Client }

// Decider decides with the key set in force. Create it with New.
type Decider struct{ keys Keys }

// New returns a Decider over keys.
func New(keys Keys) *Decider { return &Decider{keys: keys} }

// Decide returns the decision for req: authorized only for exactly one
// x-api-key value equal to a key in force, and never while no key set is
// loaded.
func (d *Decider) Decide(ctx context.Context, req Request) Result {
	key, refused := presented(req)
	entry, res, err := d.keys.Match(ctx, key)
	switch {
	case err != nil:
		// The key store comes first: while no set is loaded every
		// request, with or without a key, is refused as unavailable, so
		// that callers can tell an outage from a bad key. The cause was
		// logged where the load failed.
		return Result{Outcome: Unavailable}
	case refused != "":
		return Result{Outcome: refused}
	}
	switch res {
	case apikey.OK:
		return Result{Outcome: Authorized, Entry: entry}
	case apikey.Expired:
		return Result{Outcome: Expired, Entry: entry}
	}
	return Result{Outcome: Invalid}
}

// presented returns the single key value req presents, or why there is
// none. The value must be exactly one: two values, or a comma-joined list
// (API Gateway joins repeated headers with commas), leave it unclear which
// key the caller meant.
func presented(req Request) (string, Outcome) {
	switch {
	case req.Conflict:
		return "", Ambiguous
	case len(req.Keys) == 0:
		return "", Missing
	case len(req.Keys) > 1:
		return "", Ambiguous
	}
	// HTTP ignores optional whitespace around a value; net/http strips
	// it, event maps keep it.
	v := strings.Trim(req.Keys[0], " \t")
	switch {
	case v == "":
		return "", Missing
	case strings.IndexByte(v, ',') >= 0:
		return "", Ambiguous
	}
	return v, ""
}
