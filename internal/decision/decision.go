// Package decision is keygate's key decision: given what a request presents
// (its x-api-key values, and whether its front door described them
// consistently), its request line and where it comes from, which client is
// it, and may it proceed.
//
// It knows neither HTTP nor Lambda. The HTTP handler, the Lambda
// authorizers and the local server each translate their request into a
// Request, ask a Decider, and act on the Result.
package decision

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"

	"github.com/keygate/keygate/internal/access"
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
	Forbidden   Outcome = "forbidden"   // a valid key, outside its allow or its sources
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
	// Method and Path are the request line, for the key's allow.
	Method, Path string
	// Source is the caller's address, for the key's sources; the zero
	// Addr when the request carries none (a key with sources is then
	// forbidden).
	Source netip.Addr
	// RoutesByPolicy says the caller enforces the key's allow itself (a
	// REST authorizer, whose policy hands the routes on to API Gateway):
	// Method and Path are not checked.
	RoutesByPolicy bool
}

// Result is the decision.
type Result struct {
	Outcome Outcome
	// Reason says why a valid key was forbidden: access.ReasonRoute or
	// access.ReasonSource.
	Reason string
	// Entry is the entry the key matched (for an expired or forbidden key
	// too: the operator needs to know who uses it); zero otherwise.
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
// x-api-key value equal to a key in force, used on a route and from an
// address its entry allows; never while no key set is loaded.
//
// A kg_ key whose checksum does not match (see apikey.Generate) is invalid
// without a look-up: a mistyped or made-up key never costs the store a
// read, nor takes the turn that lets a key rotated in moments ago work.
func (d *Decider) Decide(ctx context.Context, req Request) Result {
	key, refused := presented(req)
	if refused == "" && apikey.Minted(key) && !apikey.WellFormed(key) {
		key, refused = "", Invalid
	}
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
	case apikey.Expired:
		return Result{Outcome: Expired, Entry: entry}
	default:
		return Result{Outcome: Invalid}
	}
	if why := entry.Policy.Check(req.Method, req.Path, req.Source, !req.RoutesByPolicy); why != "" {
		return Result{Outcome: Forbidden, Reason: why, Entry: entry}
	}
	return Result{Outcome: Authorized, Entry: entry}
}

// LogReason is what a log line says of a forbidden request: the reason,
// and for a key with sources, when the request came with no address (a
// TOKEN authorizer's event carries none: such keys are refused there).
func LogReason(req Request, r Result) []slog.Attr {
	switch {
	case r.Reason == "":
		return nil
	case r.Reason == access.ReasonSource && !req.Source.IsValid():
		return []slog.Attr{slog.String("reason", r.Reason), slog.String("source_address", "none")}
	}
	return []slog.Attr{slog.String("reason", r.Reason)}
}

// LogSource is what a log line says of where a request came from: its
// address as the front door gave it (source_ip), when it has a valid one.
// The zone of an IPv6 address (fe80::1%eth0) is left out: it is text the
// event carries, and could hold anything.
func LogSource(req Request) []slog.Attr {
	if !req.Source.IsValid() {
		return nil
	}
	return []slog.Attr{slog.String("source_ip", req.Source.WithZone("").String())}
}

// Meta is what the key's entry tells its backend (nil for none).
func (r Result) Meta() map[string]string {
	if r.Entry.Policy == nil {
		return nil
	}
	return r.Entry.Policy.Meta
}

// Allow lists the routes the key may call (nil: every route).
func (r Result) Allow() []access.Pattern {
	if r.Entry.Policy == nil {
		return nil
	}
	return r.Entry.Policy.Allow
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
