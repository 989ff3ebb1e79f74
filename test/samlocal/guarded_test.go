//go:build samlocal

package samlocal

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	samples "github.com/keygate/keygate/events"
	"github.com/keygate/keygate/internal/frontdoor"
	"github.com/keygate/keygate/test/internal/engine"
	"github.com/keygate/keygate/test/internal/repo"
	"github.com/keygate/keygate/test/internal/wait"
)

// chainDir assembles the directory `sam local start-api` runs an
// authorizer chain in: testdata/<template> as template.yaml, keygate's
// bootstrap from the arm64 sam build in keygate/, and the backend
// (package backend), built for arm64, in backend/.
func chainDir(t *testing.T, template string) string {
	t.Helper()
	dir, err := os.MkdirTemp(work, "chain-")
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := os.ReadFile(filepath.Join(root, "test", "samlocal", "testdata", template))
	if err != nil {
		t.Fatal(err)
	}
	boot, err := os.ReadFile(filepath.Join(builds[engine.ARM64], "KeygateFunction", "bootstrap"))
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string][]byte{"template.yaml": tpl, "keygate/bootstrap": boot} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, body, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	modDir, rel, err := repo.GoPackage("./test/samlocal/backend")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "build", "-trimpath", "-tags", "lambda.norpc", "-o", filepath.Join(dir, "backend", "bootstrap"), rel)
	cmd.Dir = modDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the backend: %v\n%s", err, out)
	}
	return dir
}

// backendAnswer is package backend's body.
type backendAnswer struct {
	Backend, Door, Client, Meta, Method, Path, Error string
	KeyHeader                                        bool
}

// chainCase is a request to a guarded API and what SAM's local gateway
// must answer: the backend's 200 for the client, or SAM's refusal, body
// exact.
type chainCase struct {
	call
	status int
	body   string // SAM's exact body for a refusal
	path   string // for a 200: the path the backend saw
	// client and meta: for a 200, what keygate told the backend ("" is
	// env.json's default client, without meta)
	client, meta string
}

// keygate as the REQUEST authorizer (identity source: the x-api-key
// header) of a REST API and of an HTTP API (payload 2.0, simple
// responses), in front of a Lambda backend, under `sam local start-api`
// on arm64: request → SAM's local gateway → keygate → backend. With the
// key, the backend answers for the client keygate named in its context;
// without it SAM refuses before asking keygate (identity source missing:
// 401); with a wrong or doubled key keygate refuses, and SAM answers as
// its local gateway does:
//
//   - REST: keygate's refusal is the error "Unauthorized", which API
//     Gateway turns into 401 (the deployed template's gateway response
//     then answers keygate's own 401 body). SAM CLI 1.170.0's local
//     gateway treats any error of a Lambda authorizer as an unhandled
//     exception: 502 {"message":"Internal server error"}.
//   - HTTP API: isAuthorized false. API Gateway answers 403
//     {"message":"Forbidden"}; SAM answers 403 {"message":"User is not
//     authorized to access this resource"}.
//
// Either way the backend is never reached. A key's rules hold there too:
// env.json's read-only key (GET / and HEAD / only) reaches the backend on
// its routes, with its meta, and gets SAM's 403 on the others (REST: its
// Allow lists those two routes and SAM applies the policy; HTTP API:
// keygate decides the route itself); the key limited to 192.0.2.0/24 is
// refused from the loopback address (REST: a Deny policy; HTTP API:
// isAuthorized false).
func TestAuthorizerChain(t *testing.T) {
	key := samples.RightKey
	const notAuthorized = `{"message":"User is not authorized to access this resource"}`
	const readonlyMeta = `{"plan":"gold","tenant":"t-42"}`
	refusals := func(wrongStatus int, wrongBody string) []chainCase {
		return []chainCase{
			{call{"no key", "GET", "/orders/7", nil, ""}, 401, `{"message":"Unauthorized"}`, "", "", ""},
			{call{"wrong key", "GET", "/orders/7", [][2]string{{"x-api-key", samples.WrongKey}}, ""}, wrongStatus, wrongBody, "", "", ""},
			{call{"two keys", "GET", "/", [][2]string{{"x-api-key", key}, {"x-api-key", key}}, ""}, wrongStatus, wrongBody, "", "", ""},
			{call{"key in the query string", "GET", "/?x-api-key=" + key, nil, ""}, 401, `{"message":"Unauthorized"}`, "", "", ""},
		}
	}
	allowed := []chainCase{
		{call{"valid key", "GET", "/", [][2]string{{"x-api-key", key}}, ""}, 200, "", "/", "", ""},
		{call{"valid key, another path", "GET", "/orders/7", [][2]string{{"x-api-key", key}}, ""}, 200, "", "/orders/7", "", ""},
		{call{"valid key, POST", "POST", "/orders", [][2]string{{"x-api-key", key}}, `{"item":7}`}, 200, "", "/orders", "", ""},
		{call{"read-only key, GET /", "GET", "/", [][2]string{{"x-api-key", samples.ScopedKey}}, ""}, 200, "", "/", "readonly", readonlyMeta},
	}
	// Decided by keygate (the key is valid), refused for its rules.
	forbidden := []chainCase{
		{call{"read-only key, another path", "GET", "/orders/7", [][2]string{{"x-api-key", samples.ScopedKey}}, ""}, 403, notAuthorized, "", "", ""},
		{call{"read-only key, POST /", "POST", "/", [][2]string{{"x-api-key", samples.ScopedKey}}, ""}, 403, notAuthorized, "", "", ""},
		{call{"office key from the loopback address", "GET", "/", [][2]string{{"x-api-key", samples.SourcedKey}}, ""}, 403, notAuthorized, "", "", ""},
	}
	chains := []struct {
		name, template, door string
		cases                []chainCase
		kind                 string // keygate's log kind
	}{
		{"REST API", "guarded-rest.yaml", "rest",
			slices.Concat(allowed, forbidden, refusals(502, `{"message":"Internal server error"}`)), string(frontdoor.RequestAuthorizer)},
		{"HTTP API", "guarded-http.yaml", "httpapi",
			slices.Concat(allowed, forbidden, refusals(403, notAuthorized)), string(frontdoor.HTTPAuthorizer)},
	}
	for _, ch := range chains {
		t.Run(ch.name, func(t *testing.T) {
			t.Parallel()
			dir := chainDir(t, ch.template)
			a := startAPI(t, dir, "--env-vars", filepath.Join(root, "events", "env.json"), "--warm-containers", "LAZY")
			backendCalls := 0
			for _, tc := range ch.cases {
				t.Run(tc.name, func(t *testing.T) {
					x := a.do(t, tc.call)
					record(t, tc.call, x)
					if x.status != tc.status {
						t.Errorf("status %d, want %d: %s", x.status, tc.status, x.body)
					}
					var b backendAnswer
					reached := json.Unmarshal([]byte(x.body), &b) == nil && b.Backend == "reached"
					if reached {
						backendCalls++
					}
					if tc.status != 200 {
						if reached || x.body != tc.body+"\n" && x.body != tc.body {
							t.Errorf("body %q, want SAM's refusal %s", x.body, tc.body)
						}
						return
					}
					client, meta := tc.client, tc.meta
					if client == "" {
						client, meta = "default", "{}"
					}
					want := backendAnswer{Backend: "reached", Door: ch.door, Client: client, Meta: meta, Method: tc.method, Path: tc.path, KeyHeader: true}
					if b != want {
						t.Errorf("backend answered %+v, want %+v", b, want)
					}
				})
			}
			if backendCalls != len(allowed) {
				t.Errorf("the backend answered %d requests, want %d (the allowed ones)", backendCalls, len(allowed))
			}
			// keygate decided every request that carried an x-api-key
			// header (SAM itself refuses those without one).
			wait.Until(t, 15*time.Second, "keygate's decision log lines", func() (bool, string) {
				n, want := strings.Count(a.p.Out.String(), `"kind":"`+ch.kind+`"`), len(allowed)+len(forbidden)+2
				return n == want, fmt.Sprintf("%d decisions logged, want %d", n, want)
			})
			out := a.p.Out.String()
			for _, k := range []string{samples.RightKey, samples.WrongKey, samples.ScopedKey, samples.SourcedKey} {
				for _, line := range strings.Split(out, "\n") {
					if strings.Contains(line, `"msg":`) && strings.Contains(line, k) {
						t.Errorf("a function's log line holds a key: %s", line)
					}
				}
			}
			stopAndCheck(t, a, dir)
		})
	}
}
