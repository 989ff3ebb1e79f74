package handler_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/handler"
	"github.com/keygate/keygate/internal/apikey"
	"github.com/keygate/keygate/internal/decision"
	"github.com/keygate/keygate/internal/keycache"
	"github.com/keygate/keygate/internal/keysource"
	"github.com/keygate/keygate/internal/requestid"
)

const (
	rightKey   = "kgRightKey0123456789abcdefABCDEF"
	wrongKey   = "kgWrongKey0000000000000000000000"
	expiredKey = "kgExpiredKey99887766"

	bodyOK           = `{"message":"OK: Authorized"}`
	bodyUnauthorized = `{"message":"ERROR: Unauthorized"}`
	bodyUnavailable  = `{"message":"ERROR: Service Unavailable"}`
	bodyNotFound     = `{"message":"ERROR: Not Found"}`
	bodyMethod       = `{"message":"ERROR: Method Not Allowed"}`
	challenge        = `ApiKey header="x-api-key"`
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// keys is a fake decision.Keys: it matches against set at now, or fails
// with err (or ErrUnavailable without a set).
type keys struct {
	set *apikey.Set
	err error
}

func (k keys) Match(_ context.Context, key string) (apikey.Entry, apikey.Result, error) {
	if k.err != nil {
		return apikey.Entry{}, apikey.Invalid, k.err
	}
	if k.set == nil {
		return apikey.Entry{}, apikey.Invalid, keycache.ErrUnavailable
	}
	e, res := k.set.Match(key, now)
	return e, res, nil
}

func testSet() *apikey.Set {
	return apikey.NewSet([]apikey.Entry{
		{Client: "alice", Digest: apikey.Digest(rightKey)},
		{Client: "old-bob", Digest: apikey.Digest(expiredKey), Expires: now.Add(-time.Second)},
	})
}

type fixture struct {
	h   *handler.Handler
	log *bytes.Buffer
}

// newFixture is the handler over the real decision, with keys k.
func newFixture(k decision.Keys) *fixture {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	return &fixture{h: handler.New(decision.New(k), log), log: &buf}
}

// request describes one call; hdr values are added in order with Add,
// as the front-door adapters and net/http do.
type request struct {
	method string
	target string
	hdr    [][2]string
	body   string
}

func (f *fixture) do(t *testing.T, rq request) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	method := rq.method
	if method == "" {
		method = http.MethodGet
	}
	target := rq.target
	if target == "" {
		target = "/"
	}
	r := httptest.NewRequest(method, target, strings.NewReader(rq.body))
	for _, kv := range rq.hdr {
		r.Header.Add(kv[0], kv[1])
	}
	r = r.WithContext(requestid.With(r.Context(), "req-123"))
	f.log.Reset()
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	return w, oneLine(t, f.log.String())
}

// oneLine parses the single log line a request must produce.
func oneLine(t *testing.T, logs string) map[string]any {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(logs), "\n")
	if len(lines) != 1 || lines[0] == "" {
		t.Fatalf("want exactly one log line, got %d:\n%s", len(lines), logs)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &m); err != nil {
		t.Fatalf("log line is not JSON: %q", lines[0])
	}
	return m
}

func key(v string) [2]string { return [2]string{"x-api-key", v} }

func TestAuthMatrix(t *testing.T) {
	f := newFixture(keys{set: testSet()})
	tests := []struct {
		name    string
		rq      request
		status  int
		outcome string
		client  string
	}{
		{"lower-case name", request{hdr: [][2]string{{"x-api-key", rightKey}}}, 200, "authorized", "alice"},
		{"canonical name", request{hdr: [][2]string{{"X-Api-Key", rightKey}}}, 200, "authorized", "alice"},
		{"upper-case name", request{hdr: [][2]string{{"X-API-KEY", rightKey}}}, 200, "authorized", "alice"},
		// Event adapters pass values untrimmed; HTTP's OWS is not part of the value.
		{"leading and trailing spaces", request{hdr: [][2]string{key("  " + rightKey + " ")}}, 200, "authorized", "alice"},
		{"surrounding tabs", request{hdr: [][2]string{key("\t" + rightKey + "\t")}}, 200, "authorized", "alice"},
		{"missing", request{}, 401, "missing", ""},
		{"empty", request{hdr: [][2]string{key("")}}, 401, "missing", ""},
		{"whitespace only", request{hdr: [][2]string{key(" \t ")}}, 401, "missing", ""},
		{"wrong", request{hdr: [][2]string{key(wrongKey)}}, 401, "invalid", ""},
		{"different case value", request{hdr: [][2]string{key(strings.ToLower(rightKey))}}, 401, "invalid", ""},
		{"prefix", request{hdr: [][2]string{key(rightKey[:10])}}, 401, "invalid", ""},
		{"key plus a byte", request{hdr: [][2]string{key(rightKey + "x")}}, 401, "invalid", ""},
		{"inner space", request{hdr: [][2]string{key(rightKey[:5] + " " + rightKey[5:])}}, 401, "invalid", ""},
		{"trailing newline", request{hdr: [][2]string{key(rightKey + "\n")}}, 401, "invalid", ""},
		{"long value", request{hdr: [][2]string{key(strings.Repeat("k", 10000))}}, 401, "invalid", ""},
		{"expired", request{hdr: [][2]string{key(expiredKey)}}, 401, "expired", "old-bob"},
		{"two headers, both right", request{hdr: [][2]string{key(rightKey), key(rightKey)}}, 401, "ambiguous", ""},
		{"two headers, right first", request{hdr: [][2]string{key(rightKey), key(wrongKey)}}, 401, "ambiguous", ""},
		{"two headers, right second", request{hdr: [][2]string{key(wrongKey), {"X-API-KEY", rightKey}}}, 401, "ambiguous", ""},
		{"comma list", request{hdr: [][2]string{key(rightKey + "," + wrongKey)}}, 401, "ambiguous", ""},
		{"comma list with spaces", request{hdr: [][2]string{key(wrongKey + ", " + rightKey)}}, 401, "ambiguous", ""},
		{"trailing comma", request{hdr: [][2]string{key(rightKey + ",")}}, 401, "ambiguous", ""},
		{"key in query", request{target: "/?x-api-key=" + rightKey}, 401, "missing", ""},
		{"key in api_key query", request{target: "/?api_key=" + rightKey + "&key=" + rightKey}, 401, "missing", ""},
		{"key in Authorization", request{hdr: [][2]string{{"Authorization", rightKey}}}, 401, "missing", ""},
		{"key as bearer", request{hdr: [][2]string{{"Authorization", "Bearer " + rightKey}}}, 401, "missing", ""},
		{"key as ApiKey scheme", request{hdr: [][2]string{{"Authorization", "ApiKey " + rightKey}}}, 401, "missing", ""},
		{"key in a cookie", request{hdr: [][2]string{{"Cookie", "x-api-key=" + rightKey}}}, 401, "missing", ""},
		{"key in a look-alike header", request{hdr: [][2]string{{"x-api-keys", rightKey}, {"api-key", rightKey}, {"x_api_key", rightKey}}}, 401, "missing", ""},
		{"key in JSON body", request{method: "POST", body: `{"x-api-key":"` + rightKey + `"}`, hdr: [][2]string{{"Content-Type", "application/json"}}}, 401, "missing", ""},
		{"key in form body", request{method: "POST", body: "x-api-key=" + rightKey, hdr: [][2]string{{"Content-Type", "application/x-www-form-urlencoded"}}}, 401, "missing", ""},
		{"key in GET body", request{body: rightKey}, 401, "missing", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, line := f.do(t, tt.rq)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d", w.Code, tt.status)
			}
			wantBody := bodyOK
			if tt.status == 401 {
				wantBody = bodyUnauthorized
			}
			if got := w.Body.String(); got != wantBody {
				t.Errorf("body %q, want %q", got, wantBody)
			}
			assertSecurityHeaders(t, w.Result())
			if got := w.Header().Get("WWW-Authenticate"); (tt.status == 401) != (got == challenge) {
				t.Errorf("WWW-Authenticate = %q for %d", got, tt.status)
			}
			if line["outcome"] != tt.outcome || line["status"] != float64(tt.status) {
				t.Errorf("log outcome %v status %v, want %s %d", line["outcome"], line["status"], tt.outcome, tt.status)
			}
			if got, _ := line["client"].(string); got != tt.client {
				t.Errorf("log client %q, want %q", got, tt.client)
			}
			assertNoKey(t, w.Body.String()+f.log.String())
		})
	}
}

// Every 401 is the same answer, so a caller learns nothing from which one.
func TestUnauthorizedIdentical(t *testing.T) {
	f := newFixture(keys{set: testSet()})
	var first *http.Response
	var firstBody string
	for _, rq := range []request{
		{},
		{hdr: [][2]string{key("")}},
		{hdr: [][2]string{key(wrongKey)}},
		{hdr: [][2]string{key(expiredKey)}},
		{hdr: [][2]string{key(rightKey), key(rightKey)}},
		{hdr: [][2]string{key(rightKey + "," + rightKey)}},
		{method: "DELETE", target: "/admin"},
	} {
		w, _ := f.do(t, rq)
		res := w.Result()
		if first == nil {
			first, firstBody = res, w.Body.String()
			continue
		}
		if res.StatusCode != first.StatusCode || w.Body.String() != firstBody || fmt.Sprint(res.Header) != fmt.Sprint(first.Header) {
			t.Errorf("%+v: %d %v %q differs from %d %v %q", rq, res.StatusCode, res.Header, w.Body.String(), first.StatusCode, first.Header, firstBody)
		}
	}
}

// Authentication comes before routing: without a valid key no path or
// method tells anything; with one, 404 and 405 (with Allow).
func TestAuthBeforeRouting(t *testing.T) {
	f := newFixture(keys{set: testSet()})
	right, wrong := [][2]string{key(rightKey)}, [][2]string{key(wrongKey)}
	tests := []struct {
		name   string
		rq     request
		status int
		body   string
		allow  string
		route  string
		method string
	}{
		{"unknown path, no key", request{target: "/nope"}, 401, bodyUnauthorized, "", "other", "GET"},
		{"unknown path, wrong key", request{target: "/admin/users", hdr: wrong}, 401, bodyUnauthorized, "", "other", "GET"},
		{"POST without key", request{method: "POST"}, 401, bodyUnauthorized, "", "/", "POST"},
		{"DELETE on unknown path, wrong key", request{method: "DELETE", target: "/x", hdr: wrong}, 401, bodyUnauthorized, "", "other", "DELETE"},
		{"unknown path with key", request{target: "/nope", hdr: right}, 404, bodyNotFound, "", "other", "GET"},
		{"trailing slash path with key", request{target: "//", hdr: right}, 404, bodyNotFound, "", "other", "GET"},
		{"index.html with key", request{target: "/index.html", hdr: right}, 404, bodyNotFound, "", "other", "GET"},
		{"POST with key", request{method: "POST", hdr: right}, 405, bodyMethod, "GET, HEAD", "/", "POST"},
		{"PUT with key", request{method: "PUT", hdr: right}, 405, bodyMethod, "GET, HEAD", "/", "PUT"},
		{"DELETE with key", request{method: "DELETE", hdr: right}, 405, bodyMethod, "GET, HEAD", "/", "DELETE"},
		{"OPTIONS with key", request{method: "OPTIONS", hdr: right}, 405, bodyMethod, "GET, HEAD", "/", "OPTIONS"},
		{"PATCH with key", request{method: "PATCH", hdr: right}, 405, bodyMethod, "GET, HEAD", "/", "PATCH"},
		{"custom method with key", request{method: "BREW", hdr: right}, 405, bodyMethod, "GET, HEAD", "/", "other"},
		{"POST to unknown path with key", request{method: "POST", target: "/nope", hdr: right}, 404, bodyNotFound, "", "other", "POST"},
		{"GET with key", request{hdr: right}, 200, bodyOK, "", "/", "GET"},
		{"GET with key and query", request{target: "/?a=b", hdr: right}, 200, bodyOK, "", "/", "GET"},
		{"HEAD with key", request{method: "HEAD", hdr: right}, 200, "", "", "/", "HEAD"},
		{"HEAD without key", request{method: "HEAD"}, 401, "", "", "/", "HEAD"},
		{"HEAD unknown path with key", request{method: "HEAD", target: "/nope", hdr: right}, 404, "", "", "other", "HEAD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, line := f.do(t, tt.rq)
			if w.Code != tt.status || w.Body.String() != tt.body {
				t.Fatalf("got %d %q, want %d %q", w.Code, w.Body.String(), tt.status, tt.body)
			}
			if got := w.Header().Get("Allow"); got != tt.allow {
				t.Errorf("Allow = %q, want %q", got, tt.allow)
			}
			assertSecurityHeaders(t, w.Result())
			if line["route"] != tt.route || line["method"] != tt.method {
				t.Errorf("log route %v method %v, want %s %s", line["route"], line["method"], tt.route, tt.method)
			}
		})
	}
}

// While no key set is loaded every request gets 503, with the right key or
// without one: the function fails closed and never authorizes.
func TestUnavailable(t *testing.T) {
	for name, k := range map[string]keys{
		"error":          {err: errors.New("no API key set is loaded")},
		"error with set": {set: testSet(), err: errors.New("stale")},
		"nil set":        {},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(k)
			for _, rq := range []request{
				{hdr: [][2]string{key(rightKey)}},
				{},
				{hdr: [][2]string{key(wrongKey)}},
				{method: "POST", target: "/nope", hdr: [][2]string{key(rightKey)}},
			} {
				w, line := f.do(t, rq)
				if w.Code != 503 || w.Body.String() != bodyUnavailable {
					t.Fatalf("%+v: got %d %q, want 503 %q", rq, w.Code, w.Body.String(), bodyUnavailable)
				}
				assertSecurityHeaders(t, w.Result())
				if line["outcome"] != "unavailable" || line["level"] != "ERROR" {
					t.Errorf("log = %v, want outcome unavailable at ERROR", line)
				}
				if w.Header().Get("WWW-Authenticate") != "" {
					t.Error("503 carries a WWW-Authenticate challenge")
				}
				assertNoKey(t, w.Body.String()+f.log.String())
			}
		})
	}
}

func TestLogLine(t *testing.T) {
	f := newFixture(keys{set: testSet()})
	_, line := f.do(t, request{hdr: [][2]string{key(rightKey)}})
	want := map[string]any{
		"msg": "request", "level": "INFO", "request_id": "req-123", "method": "GET",
		"route": "/", "status": 200.0, "outcome": "authorized", "client": "alice",
		"source_ip": "192.0.2.1", // httptest's peer
	}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("%s = %v, want %v (line %v)", k, line[k], v, line)
		}
	}
	_, line = f.do(t, request{hdr: [][2]string{key(wrongKey)}})
	if _, has := line["client"]; has {
		t.Errorf("a failed match names a client: %v", line)
	}
}

// Caller-controlled text stays out of logs: a key pasted into the path or
// the method must not be logged.
func TestNoKeyAnywhere(t *testing.T) {
	f := newFixture(keys{set: testSet()})
	for _, rq := range []request{
		{hdr: [][2]string{key(rightKey)}},
		{hdr: [][2]string{key(wrongKey)}},
		{target: "/" + rightKey, hdr: [][2]string{key(rightKey)}},
		{target: "/" + wrongKey},
		{target: "/?x-api-key=" + rightKey},
		{method: strings.ToUpper(wrongKey), hdr: [][2]string{key(rightKey)}},
		{hdr: [][2]string{key(rightKey + "," + wrongKey)}},
		{method: "POST", body: rightKey + wrongKey, hdr: [][2]string{key(wrongKey)}},
	} {
		w, _ := f.do(t, rq)
		all := w.Body.String() + f.log.String() + fmt.Sprint(w.Header())
		assertNoKey(t, all)
		if strings.Contains(all, strings.ToUpper(wrongKey)) {
			t.Errorf("%+v: the method reached the output:\n%s", rq, all)
		}
	}
}

// TestOverTheWire runs the handler behind a real net/http server and sends
// raw requests, so header-name case and HTTP's own whitespace stripping
// are net/http's, not the test's.
func TestOverTheWire(t *testing.T) {
	f := newFixture(keys{set: testSet()})
	srv := httptest.NewServer(f.h)
	t.Cleanup(srv.Close)
	tests := []struct {
		name    string
		headers string
		status  int
	}{
		{"lower-case name", "x-api-key: " + rightKey + "\r\n", 200},
		{"upper-case name", "X-API-KEY: " + rightKey + "\r\n", 200},
		{"mixed-case name", "X-aPi-KeY: " + rightKey + "\r\n", 200},
		{"no space after colon", "x-api-key:" + rightKey + "\r\n", 200},
		{"OWS around value", "x-api-key: \t " + rightKey + " \t \r\n", 200},
		{"two headers differing in case", "x-api-key: " + rightKey + "\r\nX-Api-Key: " + rightKey + "\r\n", 401},
		{"comma list", "x-api-key: " + rightKey + ", " + wrongKey + "\r\n", 401},
		{"empty", "x-api-key:\r\n", 401},
		{"wrong", "x-api-key: " + wrongKey + "\r\n", 401},
		{"missing", "", 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			defer conn.Close()
			fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: test\r\n%sConnection: close\r\n\r\n", tt.headers)
			res, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("read response: %v", err)
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tt.status {
				t.Fatalf("status %d %s, want %d", res.StatusCode, body, tt.status)
			}
			assertSecurityHeaders(t, res)
		})
	}
}

func assertSecurityHeaders(t *testing.T, res *http.Response) {
	t.Helper()
	want := map[string]string{
		"Content-Type":           "application/json",
		"Cache-Control":          "no-store",
		"X-Content-Type-Options": "nosniff",
	}
	for k, v := range want {
		if got := res.Header.Values(k); len(got) != 1 || got[0] != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
		if handler.SecurityHeaders[k] != v {
			t.Errorf("SecurityHeaders[%s] = %q, want %q", k, handler.SecurityHeaders[k], v)
		}
	}
}

func assertNoKey(t *testing.T, s string) {
	t.Helper()
	for _, k := range []string{rightKey, wrongKey, expiredKey} {
		if strings.Contains(s, k) {
			t.Fatalf("output holds a presented or configured key:\n%s", s)
		}
	}
}

func TestRequestIDAbsent(t *testing.T) {
	// Without an ID the line still has the field, empty.
	f := newFixture(keys{set: testSet()})
	f.h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if line := oneLine(t, f.log.String()); line["request_id"] != "" {
		t.Errorf("request_id = %v, want empty", line["request_id"])
	}
}

func TestMsgBadRequest(t *testing.T) {
	var m map[string]string
	if err := json.Unmarshal(handler.MsgBadRequest, &m); err != nil || m["message"] != "ERROR: Bad Request" || len(m) != 1 {
		t.Errorf("MsgBadRequest = %s (%v)", handler.MsgBadRequest, err)
	}
}

func TestNewDefaults(t *testing.T) {
	// A nil logger: no panic. With the real cache and its default clock,
	// an entry that expired in the past is expired now.
	src := keysource.NewStatic("env", `{"api_keys":{"alice":"`+rightKey+`","old":{"key":"`+expiredKey+`","expires":"2000-01-01T00:00:00Z"}}}`)
	cache := keycache.New(src, keycache.Options{})
	h := handler.New(decision.New(cache), nil)
	for k, want := range map[string]int{rightKey: 200, expiredKey: 401} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("x-api-key", k)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != want {
			t.Errorf("status %d, want %d", w.Code, want)
		}
	}
}

// Serve decides on what the front door says the request presents, not on
// the request's own headers: a door sees more than the request it builds
// (two header maps, say).
func TestServeDecidesOnWhatTheDoorPresents(t *testing.T) {
	f := newFixture(keys{set: testSet()})
	tests := []struct {
		name    string
		hdr     string // the request's own x-api-key
		in      decision.Request
		status  int
		outcome string
	}{
		{"the door's key, none in the request", "", decision.Request{Keys: []string{rightKey}}, 200, "authorized"},
		{"the request's key, none from the door", rightKey, decision.Request{}, 401, "missing"},
		{"the door's maps disagree", rightKey, decision.Request{Keys: []string{rightKey}, Conflict: true}, 401, "ambiguous"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			if tt.hdr != "" {
				r.Header.Set("x-api-key", tt.hdr)
			}
			f.log.Reset()
			w := httptest.NewRecorder()
			f.h.Serve(w, r, tt.in)
			if line := oneLine(t, f.log.String()); w.Code != tt.status || line["outcome"] != tt.outcome {
				t.Errorf("status %d, outcome %v; want %d, %s", w.Code, line["outcome"], tt.status, tt.outcome)
			}
		})
	}
}

// A valid key outside its rules gets 403 with the same hygiene as every
// answer, before routing (so a forbidden key learns nothing of the
// routes), logged forbidden with the reason; the local server's request
// comes from its connection's peer.
func TestForbidden(t *testing.T) {
	scoped, sourced := apikey.Generate(), apikey.Generate()
	doc, err := apikey.Parse(`{"api_keys":{"reports":{"key":"` + scoped + `","allow":["GET /reports/*"]},` +
		`"office":{"key":"` + sourced + `","sources":["203.0.113.0/24","2001:db8::/32"]},"alice":"` + rightKey + `"}}`)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(keys{set: apikey.NewSet(doc.Entries(""))})
	for _, tt := range []struct {
		name, method, target, key, peer string
		status                          int
		reason, client                  string
	}{
		{"scoped key, its route (unknown here)", "GET", "/reports/7", scoped, "198.51.100.1:4000", 404, "", "reports"},
		{"scoped key, another route", "GET", "/", scoped, "198.51.100.1:4000", 403, "route", "reports"},
		{"scoped key, another method", "DELETE", "/reports/7", scoped, "198.51.100.1:4000", 403, "route", "reports"},
		{"scoped key, dot segments", "GET", "/reports/../", scoped, "198.51.100.1:4000", 403, "route", "reports"},
		{"sourced key from its network", "GET", "/", sourced, "203.0.113.9:4000", 200, "", "office"},
		{"sourced key over IPv6", "GET", "/", sourced, "[2001:db8::7]:4000", 200, "", "office"},
		{"sourced key from elsewhere", "GET", "/", sourced, "198.51.100.1:4000", 403, "source", "office"},
		{"sourced key, no usable address", "GET", "/", sourced, "pipe", 403, "source", "office"},
		{"plain key anywhere", "GET", "/", rightKey, "198.51.100.1:4000", 200, "", "alice"},
		{"authentication first", "GET", "/", wrongKey, "203.0.113.9:4000", 401, "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, tt.target, nil)
			r.RemoteAddr = tt.peer
			r.Header.Set("x-api-key", tt.key)
			f.log.Reset()
			w := httptest.NewRecorder()
			f.h.ServeHTTP(w, r)
			res := w.Result()
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, tt.status, w.Body)
			}
			line := oneLine(t, f.log.String())
			if tt.status == 403 {
				assertSecurityHeaders(t, res)
				if w.Body.String() != `{"message":"ERROR: Forbidden"}` || res.Header.Get("WWW-Authenticate") != "" {
					t.Errorf("403 body %q, challenge %q", w.Body, res.Header.Get("WWW-Authenticate"))
				}
				if line["outcome"] != "forbidden" || line["reason"] != tt.reason {
					t.Errorf("log line %v, want forbidden, reason %s", line, tt.reason)
				}
			} else if line["reason"] != nil {
				t.Errorf("log line %v has a reason", line)
			}
			if tt.client != "" && line["client"] != tt.client {
				t.Errorf("log line %v, want client %s", line, tt.client)
			}
			if tt.peer == "pipe" && line["source_address"] != "none" {
				t.Errorf("log line %v, want source_address none", line)
			}
			assertNoKey(t, f.log.String()+w.Body.String())
		})
	}
}
