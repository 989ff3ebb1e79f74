package bench_test

import (
	"crypto/subtle"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/keygate/keygate/handler"
	"github.com/keygate/keygate/internal/decision"
	"github.com/keygate/keygate/internal/keycache"
	"github.com/keygate/keygate/internal/keysource"
	"github.com/keygate/keygate/internal/requestid"
	"github.com/keygate/keygate/test/bench"
)

// BenchmarkServeHTTP times the handler alone, as the local server runs it
// (no Lambda event), with the production logger writing to io.Discard,
// against a minimal handler doing only the seed's check (one constant-time
// comparison, a fixed body): the price of keygate's key sets, headers and
// log line.
func BenchmarkServeHTTP(b *testing.B) {
	log := bench.Logger()
	keys := keycache.New(keysource.NewStatic("env", bench.ExampleKey), keycache.Options{Log: log})
	if err := keys.Load(b.Context()); err != nil {
		b.Fatal(err)
	}
	keygate := handler.New(decision.New(keys), log)
	tests := []struct {
		name   string
		key    string
		status int
	}{
		{name: "authorized", key: bench.ExampleKey, status: http.StatusOK},
		{name: "wrong key", key: "kgWrongKey0000000000000000000000", status: http.StatusUnauthorized},
		{name: "no key", status: http.StatusUnauthorized},
	}
	for _, tt := range tests {
		for _, h := range []struct {
			name string
			h    http.Handler
		}{{"keygate", keygate}, {"minimal", minimal(bench.ExampleKey)}} {
			b.Run(tt.name+"/"+h.name, func(b *testing.B) {
				r := httptest.NewRequest(http.MethodGet, "/", nil)
				if tt.key != "" {
					r.Header.Set("X-Api-Key", tt.key)
				}
				r = r.WithContext(requestid.With(r.Context(), "bench"))
				w := httptest.NewRecorder()
				h.h.ServeHTTP(w, r)
				if w.Code != tt.status {
					b.Fatalf("status = %d, want %d", w.Code, tt.status)
				}
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					h.h.ServeHTTP(discard{hdr: http.Header{}}, r)
				}
			})
		}
	}
}

// minimal is the seed's logic in Go: one comparison, one fixed body.
func minimal(key string) http.Handler {
	ok := []byte(`{"message":"OK: Authorized"}`)
	no := []byte(`{"message":"ERROR: Unauthorized"}`)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("X-Api-Key")), []byte(key)) == 1 {
			w.Write(ok)
			return
		}
		w.WriteHeader(http.StatusUnauthorized)
		w.Write(no)
	})
}

// discard is a ResponseWriter that keeps nothing, so the loop times the
// handler rather than a recorder's buffers.
type discard struct{ hdr http.Header }

func (d discard) Header() http.Header       { return d.hdr }
func (discard) Write(p []byte) (int, error) { return len(p), nil }
func (discard) WriteHeader(int)             {}
