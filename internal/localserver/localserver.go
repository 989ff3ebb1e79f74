// Package localserver runs keygate's handler as a plain HTTP server, with
// the limits a public-facing server needs and a request ID per request, so
// that local runs and load tests see the same handler as Lambda does.
package localserver

import (
	"net/http"
	"time"

	"github.com/keygate/keygate/internal/requestid"
)

// New returns a server for h. Timeouts bound slow clients; the header limit
// is far above any real key but below net/http's 1 MB default.
func New(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           WithRequestID(h),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    64 << 10,
		// net/http answers "OPTIONS *" itself (200, empty, no log line)
		// unless told not to: every request must reach the handler.
		DisableGeneralOptionsHandler: true,
	}
}

// WithRequestID gives each request a random ID for its log line, as the
// Lambda runtime does.
func WithRequestID(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := requestid.New()
		w.Header().Set("X-Request-Id", id)
		h.ServeHTTP(w, r.WithContext(requestid.With(r.Context(), id)))
	})
}
