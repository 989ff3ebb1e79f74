package handler

import "net/http"

// The only bodies keygate ever sends: fixed, so nothing a caller sent and
// no internal detail can be echoed back.
var (
	msgOK           = []byte(`{"message":"OK: Authorized"}`)
	msgUnauthorized = []byte(`{"message":"ERROR: Unauthorized"}`)
	msgForbidden    = []byte(`{"message":"ERROR: Forbidden"}`)
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

func writeJSON(w http.ResponseWriter, r *http.Request, status int, body []byte) int {
	h := w.Header()
	for k, v := range SecurityHeaders {
		h[k] = []string{v}
	}
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
	return status
}
