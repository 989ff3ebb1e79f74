package proof

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	samples "github.com/keygate/keygate/events"
	"github.com/keygate/keygate/handler"
	"github.com/keygate/keygate/internal/config"
	"github.com/keygate/keygate/internal/decision"
	"github.com/keygate/keygate/internal/keycache"
	"github.com/keygate/keygate/internal/keysource"
	"github.com/keygate/keygate/internal/localserver"
	"github.com/keygate/keygate/internal/smclient/envclient"
	"github.com/keygate/keygate/internal/testsupport/smfake"
)

// Keys of these tests: recognisable, so a leak is easy to spot.
const (
	keyA       = "kgProofKeyA0123456789abcdefABCDEF"
	keyB       = "kgProofKeyB0123456789abcdefABCDEF"
	keyExpired = "kgProofExpiredKey0123456789abcdef"
	keyWrong   = "kgProofWrongKey00000000000000000"
)

var proofKeys = []string{keyA, keyB, keyExpired, keyWrong}

// secretFor is an api_keys secret with key as client "proof" and an
// expired key as client "retired".
func secretFor(t *testing.T, key string) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{"api_keys": map[string]any{
		"proof":   key,
		"retired": map[string]string{"key": keyExpired, "expires": "2020-01-01T00:00:00Z"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// presented is what a request carries in x-api-key.
type presented struct {
	name string
	keys []string // none: no header; two: an ambiguous request
}

var (
	presentA         = presented{"key A", []string{keyA}}
	presentB         = presented{"key B", []string{keyB}}
	presentWrong     = presented{"wrong key", []string{keyWrong}}
	presentMissing   = presented{"no key", nil}
	presentExpired   = presented{"expired key", []string{keyExpired}}
	presentAmbiguous = presented{"two keys", []string{keyA, keyA}}
)

// door is one front door's sample event (events/<door>-valid-key.json).
type door struct {
	name string // rest, httpapi, functionurl, alb, alb-multivalue
	base []byte
}

// doors returns every door's valid-key event.
func doors(t *testing.T) []door {
	t.Helper()
	evs, err := samples.All()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string][]byte{}
	for _, ev := range evs {
		byName[ev.Name] = ev.Payload
	}
	var out []door
	for _, name := range []string{"rest", "httpapi", "functionurl", "alb", "alb-multivalue"} {
		b, ok := byName[name+"-valid-key.json"]
		if !ok {
			t.Fatalf("events/%s-valid-key.json is missing", name)
		}
		out = append(out, door{name, b})
	}
	return out
}

// event returns d's event carrying p, for method and path ("" keeps the
// sample's GET /). It decodes the sample into aws-lambda-go's type, sets
// the fields and encodes it again.
func (d door) event(t testing.TB, p presented, method, path string) []byte {
	t.Helper()
	var (
		v   any
		err error
	)
	switch d.name {
	case "rest":
		var ev events.APIGatewayProxyRequest
		mustDecode(t, d.base, &ev)
		dropKey(ev.Headers)
		dropKey(ev.MultiValueHeaders)
		if len(p.keys) > 0 {
			// API Gateway REST: every value in multiValueHeaders, the
			// last one in headers.
			ev.Headers["x-api-key"] = p.keys[len(p.keys)-1]
			ev.MultiValueHeaders["x-api-key"] = p.keys
		}
		ev.HTTPMethod = or(method, ev.HTTPMethod)
		ev.Path = or(path, ev.Path)
		v = ev
	case "httpapi", "functionurl":
		var ev events.APIGatewayV2HTTPRequest
		mustDecode(t, d.base, &ev)
		dropKey(ev.Headers)
		if len(p.keys) > 0 {
			// Payload 2.0 joins repeated headers with commas.
			ev.Headers["x-api-key"] = strings.Join(p.keys, ",")
		}
		ev.RequestContext.HTTP.Method = or(method, ev.RequestContext.HTTP.Method)
		ev.RawPath = or(path, ev.RawPath)
		ev.RequestContext.HTTP.Path = or(path, ev.RequestContext.HTTP.Path)
		v = ev
	case "alb", "alb-multivalue":
		var ev events.ALBTargetGroupRequest
		mustDecode(t, d.base, &ev)
		dropKey(ev.Headers)
		dropKey(ev.MultiValueHeaders)
		if len(p.keys) > 0 {
			if ev.MultiValueHeaders != nil {
				ev.MultiValueHeaders["x-api-key"] = p.keys
			} else {
				ev.Headers["x-api-key"] = strings.Join(p.keys, ",")
			}
		}
		ev.HTTPMethod = or(method, ev.HTTPMethod)
		ev.Path = or(path, ev.Path)
		v = ev
	default:
		t.Fatalf("unknown door %q", d.name)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustDecode(t testing.TB, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decoding a sample event: %v", err)
	}
}

func dropKey[V any](m map[string]V) {
	for k := range m {
		if strings.EqualFold(k, "x-api-key") {
			delete(m, k)
		}
	}
}

func or(s, def string) string {
	if s != "" {
		return s
	}
	return def
}

// logSink takes log output from many goroutines: it counts lines and
// request lines, spots any of the tests' keys in them, and keeps the text
// only when keep is set (a load test must not grow its own heap with the
// log).
type logSink struct {
	keep     bool
	mu       sync.Mutex
	buf      bytes.Buffer
	lines    int
	requests int // lines of the handler's per-request record
	leaks    int
}

func (b *logSink) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lines += bytes.Count(p, []byte("\n"))
	b.requests += bytes.Count(p, []byte(`"msg":"request"`))
	for _, k := range proofKeys {
		if bytes.Contains(p, []byte(k)) {
			b.leaks++
		}
	}
	if b.keep {
		b.buf.Write(p)
	}
	return len(p), nil
}

func (b *logSink) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logSink) counts() (lines, requests, leaks int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.lines, b.requests, b.leaks
}

// checkNoKeys fails if the output holds any of the tests' keys.
func checkNoKeys(t testing.TB, what, out string) {
	t.Helper()
	for _, k := range proofKeys {
		if strings.Contains(out, k) {
			t.Errorf("%s holds a key (%s…)", what, k[:10])
		}
	}
}

// stack is keygate's in-process stack wired exactly as cmd/api wires it
// (config.FromEnv, the Lambda client built from the environment, the key
// cache), against a fake Secrets Manager.
type stack struct {
	srv   *smfake.Server
	cfg   config.Config
	cache *keycache.Cache
	h     *handler.Handler
	logs  *logSink
	log   *slog.Logger
	env   func(string) string
}

// client is the Secrets Manager client the bootstrap would build from the
// stack's environment.
func (s *stack) client(t *testing.T) keysource.GetSecretValueAPI {
	t.Helper()
	c, _, err := envclient.NewFromEnv(context.Background(), s.env)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const secretID = "keygate/proof"

// newStack builds the stack with env (NAME=value) added to the fake's
// environment and API_KEY_SECRET_ID. Nothing is loaded yet. Its log is
// kept (newStackLog to choose).
func newStack(t *testing.T, env ...string) *stack {
	t.Helper()
	return newStackLog(t, &logSink{keep: true}, env...)
}

func newStackLog(t *testing.T, logs *logSink, env ...string) *stack {
	t.Helper()
	srv := smfake.New()
	t.Cleanup(srv.Close)
	vars := map[string]string{"API_KEY_SECRET_ID": secretID}
	for _, kv := range append(srv.Env(), env...) {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	getenv := func(k string) string { return vars[k] }
	cfg, err := config.FromEnv(getenv)
	if err != nil {
		t.Fatal(err)
	}
	log := config.NewLogger(logs, 0)
	newClient := func(ctx context.Context) (keysource.GetSecretValueAPI, string, error) {
		return envclient.NewFromEnv(ctx, getenv)
	}
	cache := cfg.Keys(context.Background(), newClient, log)
	t.Cleanup(func() {
		if _, _, leaks := logs.counts(); leaks > 0 {
			t.Errorf("%d log lines hold a key", leaks)
		}
	})
	return &stack{srv: srv, cfg: cfg, cache: cache, h: handler.New(decision.New(cache), log), logs: logs, log: log, env: getenv}
}

// serve sends one GET / with p to the handler and returns the answer and
// how long the caller waited.
func (s *stack) serve(p presented) (*http.Response, string, time.Duration) {
	req, _ := http.NewRequest(http.MethodGet, "https://keygate.example.com/", nil)
	for _, k := range p.keys {
		req.Header.Add("X-Api-Key", k)
	}
	rec := httptest.NewRecorder()
	start := time.Now()
	s.h.ServeHTTP(rec, req)
	took := time.Since(start)
	res := rec.Result()
	return res, rec.Body.String(), took
}

func countLines(logs, msg string) int {
	return strings.Count(logs, fmt.Sprintf(`"msg":%q`, msg))
}

// listen serves the stack's handler through the local server on a free
// loopback port until the test ends, and returns its base URL.
func (s *stack) listen(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	server := localserver.New(s.h)
	go server.Serve(ln)
	t.Cleanup(func() { server.Close() })
	return "http://" + ln.Addr().String()
}
