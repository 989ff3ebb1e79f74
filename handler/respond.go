package handler

import (
	"context"
	"net/http"
)

// The only bodies keygate ever sends: fixed, so nothing a caller sent and
// no internal detail can be echoed back.
var (
	msgOK           = []byte(`{"message":"OK: Authorized"}`)
	msgUnauthorized = []byte(`{"message":"ERROR: Unauthorized"}`)
	msgUnavailable  = []byte(`{"message":"ERROR: Service Unavailable"}`)
	msgNotFound     = []byte(`{"message":"ERROR: Not Found"}`)
	msgMethod       = []byte(`{"message":"ERROR: Method Not Allowed"}`)
	// MsgBadRequest is for front doors that cannot even build a request.
	MsgBadRequest = []byte(`{"message":"ERROR: Bad Request"}`)
)

// SecurityHeaders are set on every answer: responses about credentials
// must not be cached, and the JSON must not be sniffed into something else.
var SecurityHeaders = map[string]string{
	"Content-Type":           "application/json",
	"Cache-Control":          "no-store",
	"X-Content-Type-Options": "nosniff",
}

func writeJSON(w http.ResponseWriter, r *http.Request, status int, body []byte) {
	h := w.Header()
	for k, v := range SecurityHeaders {
		h[k] = []string{v}
	}
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

type requestIDKey struct{}

// WithRequestID attaches the ID that log lines carry (the Lambda request ID,
// or one the local server makes).
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the ID set by WithRequestID, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

type conflictKey struct{}

// WithConflictingKeys marks a request whose front door described it more
// than once, in ways that disagree about x-api-key (two header maps): its
// key is ambiguous, and the handler answers 401 whatever the headers hold.
func WithConflictingKeys(ctx context.Context) context.Context {
	return context.WithValue(ctx, conflictKey{}, true)
}

func conflictingKeys(ctx context.Context) bool {
	v, _ := ctx.Value(conflictKey{}).(bool)
	return v
}
