// Package handler is keygate's HTTP logic: an ordinary http.Handler that
// asks the key decision (package decision) about every request before it
// routes it. Every front door (API Gateway, Function URL, ALB, the local
// server) reaches this same handler.
package handler

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/netip"

	"github.com/keygate/keygate/internal/decision"
	"github.com/keygate/keygate/internal/requestid"
)

// Decider makes the key decision; *decision.Decider is one.
type Decider interface {
	Decide(ctx context.Context, req decision.Request) decision.Result
}

var _ Decider = (*decision.Decider)(nil)

// HeaderName is the header that carries the key.
const HeaderName = "X-Api-Key"

// Handler decides, then routes. Create it with New.
type Handler struct {
	decide Decider
	log    *slog.Logger
}

// New returns the handler; log may be nil (no logging).
func New(d Decider, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{decide: d, log: log}
}

// ServeHTTP serves a request that came over HTTP itself (the local
// server): what it presents is in its own headers, and it comes from its
// connection's peer.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.Serve(w, r, decision.Request{Keys: r.Header.Values(HeaderName), Source: peer(r.RemoteAddr)})
}

// Serve answers r, built by a front door from an event, with what the
// event presents for the decision (which the door read from the event
// itself, where it can see more than r shows: two header maps, or the
// address an ALB appended to X-Forwarded-For). The request line is r's.
func (h *Handler) Serve(w http.ResponseWriter, r *http.Request, in decision.Request) {
	ctx := r.Context()
	in.Method, in.Path = r.Method, r.URL.Path
	d := h.decide.Decide(ctx, in)
	status := h.answer(w, r, d)
	attrs := []slog.Attr{
		slog.String("request_id", requestid.From(ctx)),
		slog.String("method", logMethod(r.Method)),
		slog.String("route", route(r.URL.Path)),
		slog.Int("status", status),
		slog.String("outcome", string(d.Outcome)),
	}
	if c := d.Client(); c != "" {
		attrs = append(attrs, slog.String("client", c))
	}
	attrs = append(attrs, decision.LogSource(in)...)
	attrs = append(attrs, decision.LogReason(in, d)...)
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	h.log.LogAttrs(ctx, level, "request", attrs...)
}

// answer writes the response to decision d and returns its status.
func (h *Handler) answer(w http.ResponseWriter, r *http.Request, d decision.Result) int {
	switch {
	case d.Outcome == decision.Unavailable:
		return writeJSON(w, r, http.StatusServiceUnavailable, msgUnavailable)
	case d.Outcome == decision.Forbidden:
		// Authenticated, but not for this route or from this address:
		// the routes it may call are not for others to learn either, so
		// the 403 comes before routing too.
		return writeJSON(w, r, http.StatusForbidden, msgForbidden)
	case !d.Allowed():
		// RFC 9110 requires a challenge with 401; there is no registered
		// scheme for API keys, so name the header in a custom one.
		w.Header().Set("WWW-Authenticate", `ApiKey header="x-api-key"`)
		return writeJSON(w, r, http.StatusUnauthorized, msgUnauthorized)
	}
	// Authenticated: only now does the route matter, so that probing paths
	// without a key learns nothing.
	switch {
	case r.URL.Path != "/":
		return writeJSON(w, r, http.StatusNotFound, msgNotFound)
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		w.Header().Set("Allow", "GET, HEAD")
		return writeJSON(w, r, http.StatusMethodNotAllowed, msgMethod)
	}
	return writeJSON(w, r, http.StatusOK, msgOK)
}

// peer is the address of a connection's far end ("host:port"); the zero
// Addr when it has none.
func peer(remoteAddr string) netip.Addr {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	a, _ := netip.ParseAddr(host)
	return a
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
