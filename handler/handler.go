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

// serve writes the answer and reports what it decided, for the log line.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request) (status int, outcome, client string) {
	key, outcome := presentedKey(r.Header)
	if conflictingKeys(r.Context()) {
		key, outcome = "", outcomeAmbiguous
	}
	entry, res, err := h.keys.Match(r.Context(), key)
	// The key store comes first: while no key set is loaded every request,
	// with or without a key, gets 503 (fail closed, and callers can tell an
	// outage from a bad key).
	if err != nil {
		// The cause was logged where the load failed.
		writeJSON(w, r, http.StatusServiceUnavailable, msgUnavailable)
		return http.StatusServiceUnavailable, outcomeUnavailable, ""
	}
	if outcome != "" {
		unauthorized(w, r)
		return http.StatusUnauthorized, outcome, ""
	}
	if res != apikey.OK {
		unauthorized(w, r)
		// An expired key names its client: the operator needs to know
		// who still uses it, and the name is not secret.
		return http.StatusUnauthorized, res.String(), entry.Client
	}
	// Authenticated: only now does the route matter, so that probing paths
	// without a key learns nothing.
	switch {
	case r.URL.Path != "/":
		writeJSON(w, r, http.StatusNotFound, msgNotFound)
		return http.StatusNotFound, outcomeAuthorized, entry.Client
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		w.Header().Set("Allow", "GET, HEAD")
		writeJSON(w, r, http.StatusMethodNotAllowed, msgMethod)
		return http.StatusMethodNotAllowed, outcomeAuthorized, entry.Client
	}
	writeJSON(w, r, http.StatusOK, msgOK)
	return http.StatusOK, outcomeAuthorized, entry.Client
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
