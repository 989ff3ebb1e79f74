package localserver_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/keygate/keygate/handler"
	"github.com/keygate/keygate/internal/decision"
	"github.com/keygate/keygate/internal/keycache"
	"github.com/keygate/keygate/internal/keysource"
	"github.com/keygate/keygate/internal/localserver"
	"github.com/keygate/keygate/internal/requestid"
	"github.com/keygate/keygate/internal/testsupport/doortest"
	"github.com/keygate/keygate/internal/testsupport/logtest"
)

// serve runs the server from New on a free loopback port until the test ends.
func serve(t *testing.T, h http.Handler) (*http.Server, string) {
	t.Helper()
	srv := localserver.New(h)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		if err := srv.Shutdown(context.Background()); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return srv, "http://" + ln.Addr().String()
}

func TestLimits(t *testing.T) {
	srv := localserver.New(http.NotFoundHandler())
	if srv.ReadHeaderTimeout <= 0 || srv.ReadTimeout <= 0 || srv.WriteTimeout <= 0 || srv.IdleTimeout <= 0 {
		t.Errorf("timeouts not all set: header %v read %v write %v idle %v", srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout)
	}
	if srv.ReadHeaderTimeout > srv.ReadTimeout {
		t.Errorf("ReadHeaderTimeout %v exceeds ReadTimeout %v", srv.ReadHeaderTimeout, srv.ReadTimeout)
	}
	if srv.MaxHeaderBytes < 8<<10 || srv.MaxHeaderBytes >= http.DefaultMaxHeaderBytes {
		t.Errorf("MaxHeaderBytes = %d, want at least 8 KiB and below net/http's 1 MiB default", srv.MaxHeaderBytes)
	}
}

func TestHeaderLimitEnforced(t *testing.T) {
	_, url := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	req, _ := http.NewRequest("GET", url+"/", nil)
	req.Header.Set("X-Big", strings.Repeat("a", 256<<10))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("256 KiB of headers: status %d, want 431", res.StatusCode)
	}
}

var idPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

// TestRequestID: each request gets a fresh random ID, in the X-Request-Id
// response header and in the context the handler logs from.
func TestRequestID(t *testing.T) {
	var mu sync.Mutex
	seenInHandler := map[string]bool{}
	_, url := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seenInHandler[requestid.From(r.Context())] = true
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	const n = 200
	ids := map[string]bool{}
	for range n {
		res, err := http.Get(url + "/")
		if err != nil {
			t.Fatalf("request: %v", err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		id := res.Header.Get("X-Request-Id")
		if !idPattern.MatchString(id) {
			t.Fatalf("X-Request-Id = %q, want 32 hex digits", id)
		}
		if ids[id] {
			t.Fatalf("X-Request-Id %q repeated", id)
		}
		ids[id] = true
	}
	mu.Lock()
	defer mu.Unlock()
	for id := range ids {
		if !seenInHandler[id] {
			t.Fatalf("ID %s in the response was not the one in the handler's context", id)
		}
	}
	if len(seenInHandler) != n {
		t.Errorf("handler saw %d IDs, want %d", len(seenInHandler), n)
	}
}

// WithRequestID alone (as a test server would use it): the header and the
// context carry the same ID.
func TestWithRequestID(t *testing.T) {
	h := localserver.WithRequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Seen", requestid.From(r.Context()))
	}))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	res, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if id := res.Header.Get("X-Request-Id"); !idPattern.MatchString(id) || res.Header.Get("X-Seen") != id {
		t.Errorf("X-Request-Id %q, handler saw %q", id, res.Header.Get("X-Seen"))
	}
}

// "OPTIONS * HTTP/1.1" reaches keygate's handler like every other request
// (net/http would answer it itself: 200, empty, no log line): 401 without
// a key, 404 with one (the route is not /), JSON and hygiene headers both
// times, and one log line each.
func TestOptionsAsteriskReachesHandler(t *testing.T) {
	const key = "kgLocalServerKey0123456789"
	var logs logtest.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	cache := keycache.New(keysource.NewStatic("env", key), keycache.Options{Log: log})
	if err := cache.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, url := serve(t, handler.New(decision.New(cache), log))
	for _, tc := range []struct {
		name, header string
		status       int
	}{{"no key", "", 401}, {"right key", "X-Api-Key: " + key + "\r\n", 404}} {
		t.Run(tc.name, func(t *testing.T) {
			logs.Reset()
			conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprintf(conn, "OPTIONS * HTTP/1.1\r\nHost: keygate\r\n%sConnection: close\r\n\r\n", tc.header)
			res, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			doortest.CheckHygiene(t, tc.status, res.Header, string(body), false)
			if res.StatusCode != tc.status {
				t.Errorf("status %d, want %d", res.StatusCode, tc.status)
			}
			recs := logs.Records(t)
			if len(recs) != 1 || recs[0]["msg"] != "request" || recs[0]["route"] != "other" || recs[0]["method"] != "OPTIONS" {
				t.Errorf("log %v, want one request line for OPTIONS on route other", recs)
			}
		})
	}
}
