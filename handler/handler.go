// Package handler is keygate's HTTP logic: an ordinary http.Handler that
// authenticates every request by its x-api-key header before routing it.
// Every front door (API Gateway, Function URL, ALB, the local server)
// reaches this same handler.
package handler

import (
	"context"
	"log/slog"
	"net/http"
	"strings"

	"github.com/keygate/keygate/internal/apikey"
)

// Keys decides whether a presented key authorizes (keycache.Cache does).
type Keys interface {
	// Match returns the entry key matches and whether it authorizes. The
	// empty key (none presented) only asks whether a set is loaded. An
	// error means none is, and the handler answers 503: it never
	// authorizes without a set.
	Match(ctx context.Context, key string) (apikey.Entry, apikey.Result, error)
}

// HeaderName is the header that carries the key.
const HeaderName = "X-Api-Key"

// Handler authenticates, then routes. Create it with New.
type Handler struct {
	keys Keys
	log  *slog.Logger
}

// New returns the handler; log may be nil (no logging).
func New(keys Keys, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{keys: keys, log: log}
}

// Outcomes, as logged. Callers never see which one applied to a 401.
const (
	outcomeAuthorized  = "authorized"
	outcomeMissing     = "missing"
	outcomeAmbiguous   = "ambiguous"
	outcomeUnavailable = "unavailable"
)

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	status, outcome, client := h.serve(w, r)
	attrs := []slog.Attr{
		slog.String("request_id", RequestID(ctx)),
		slog.String("method", logMethod(r.Method)),
		slog.String("route", route(r.URL.Path)),
		slog.Int("status", status),
		slog.String("outcome", outcome),
	}
	if client != "" {
		attrs = append(attrs, slog.String("client", client))
	}
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	h.log.LogAttrs(ctx, level, "request", attrs...)
}

// Decision is what the key check decided about a request, before any
// routing.
type Decision struct {
	// Outcome is authorized, missing, invalid, ambiguous, expired or
	// unavailable (no key set is loaded), as logged.
	Outcome string
	// Client names the key's holder when the key matched an entry (an
	// expired one too: the operator needs to know who still uses it, and
	// the name is not secret).
	Client string
}

// Authorized reports whether the request may proceed.
func (d Decision) Authorized() bool { return d.Outcome == outcomeAuthorized }

// Unavailable reports that no key set is loaded: nothing is authorized.
func (d Decision) Unavailable() bool { return d.Outcome == outcomeUnavailable }

// Authenticate is the check ServeHTTP makes before it routes: exactly one
// x-api-key value in hdr, equal to a key in force. Front doors that answer
// with a decision rather than a response (Lambda authorizers) call it
// directly. A context marked WithConflictingKeys is ambiguous whatever hdr
// holds.
func (h *Handler) Authenticate(ctx context.Context, hdr http.Header) Decision {
	key, outcome := presentedKey(hdr)
	if conflictingKeys(ctx) {
		key, outcome = "", outcomeAmbiguous
	}
	entry, res, err := h.keys.Match(ctx, key)
	switch {
	case err != nil:
		// The key store comes first: while no key set is loaded every
		// request, with or without a key, is refused as unavailable
		// (fail closed, and callers can tell an outage from a bad key).
		// The cause was logged where the load failed.
		return Decision{Outcome: outcomeUnavailable}
	case outcome != "":
		return Decision{Outcome: outcome}
	}
	return Decision{Outcome: res.String(), Client: entry.Client}
}

// serve writes the answer and reports what it decided, for the log line.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request) (status int, outcome, client string) {
	d := h.Authenticate(r.Context(), r.Header)
	switch {
	case d.Outcome == outcomeUnavailable:
		writeJSON(w, r, http.StatusServiceUnavailable, msgUnavailable)
		return http.StatusServiceUnavailable, d.Outcome, ""
	case !d.Authorized():
		unauthorized(w, r)
		return http.StatusUnauthorized, d.Outcome, d.Client
	}
	// Authenticated: only now does the route matter, so that probing paths
	// without a key learns nothing.
	switch {
	case r.URL.Path != "/":
		writeJSON(w, r, http.StatusNotFound, msgNotFound)
		return http.StatusNotFound, outcomeAuthorized, d.Client
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		w.Header().Set("Allow", "GET, HEAD")
		writeJSON(w, r, http.StatusMethodNotAllowed, msgMethod)
		return http.StatusMethodNotAllowed, outcomeAuthorized, d.Client
	}
	writeJSON(w, r, http.StatusOK, msgOK)
	return http.StatusOK, outcomeAuthorized, d.Client
}

// presentedKey returns the single x-api-key value, or the reason there is
// none. Header names are case-insensitive (http.Header canonicalises them);
// the value must be exactly one, since two values or a comma-joined list
// leave it unclear which key the caller meant.
func presentedKey(hdr http.Header) (string, string) {
	vals := hdr.Values(HeaderName)
	switch {
	case len(vals) == 0:
		return "", outcomeMissing
	case len(vals) > 1:
		return "", outcomeAmbiguous
	}
	// net/http already strips optional whitespace; event adapters do not.
	v := strings.Trim(vals[0], " \t")
	switch {
	case v == "":
		return "", outcomeMissing
	case strings.IndexByte(v, ',') >= 0:
		return "", outcomeAmbiguous
	}
	return v, ""
}

func unauthorized(w http.ResponseWriter, r *http.Request) {
	// RFC 9110 requires a challenge with 401; there is no registered
	// scheme for API keys, so name the header in a custom one.
	w.Header().Set("WWW-Authenticate", `ApiKey header="x-api-key"`)
	writeJSON(w, r, http.StatusUnauthorized, msgUnauthorized)
}

// route and logMethod keep caller-controlled text out of logs: a key pasted
// into a URL must not end up in a log line.
func route(path string) string {
	if path == "/" {
		return "/"
	}
	return "other"
}

func logMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "other"
}
