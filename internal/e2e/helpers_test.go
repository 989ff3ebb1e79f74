package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/keygate/keygate/internal/rie"
	"github.com/keygate/keygate/internal/samcheck"
)

// The keys the files in events/ carry (see events/env.json).
const (
	rightKey = samcheck.RightKey
	wrongKey = samcheck.WrongKey
)

// The only bodies keygate sends, as the requirements spell them.
var bodies = map[int]string{
	http.StatusOK:                 `{"message":"OK: Authorized"}`,
	http.StatusBadRequest:         `{"message":"ERROR: Bad Request"}`,
	http.StatusUnauthorized:       `{"message":"ERROR: Unauthorized"}`,
	http.StatusNotFound:           `{"message":"ERROR: Not Found"}`,
	http.StatusMethodNotAllowed:   `{"message":"ERROR: Method Not Allowed"}`,
	http.StatusServiceUnavailable: `{"message":"ERROR: Service Unavailable"}`,
}

// Front doors, as events/<door>-<case>.json names them.
const (
	doorREST        = "rest"
	doorHTTPAPI     = "httpapi"
	doorFunctionURL = "functionurl"
	doorALB         = "alb"
)

// bootstrap is the Lambda bootstrap as `make build` makes it (static, no
// race detector: the race-built one has its own test), built once.
func bootstrap(t *testing.T) string {
	t.Helper()
	return rie.Build(t, "./cmd/api", false)
}

// startFunction runs the bootstrap in a new execution environment with env
// added to the harness defaults. When the test ends it checks the
// function's output (checkLogs).
func startFunction(t *testing.T, env ...string) *rie.Function {
	t.Helper()
	f := rie.Start(t, bootstrap(t), rie.Options{Env: env})
	t.Cleanup(func() { checkLogs(t, f) })
	return f
}

// emulatorLine matches the lines the emulator itself writes (its own log,
// in its classic and multi-concurrency formats, and the START/END/REPORT
// lines Lambda writes around each invocation).
var emulatorLine = regexp.MustCompile(`^(\d{2} \w{3} \d{4} [\d:,]+ \[\w+\] \(rapid\) |time=\S+ level=\w+ |(START|END|REPORT) RequestId: )`)

// checkLogs checks that no line of output holds a key (neither the
// configured one nor one a request presented), and that every line the
// function writes is a structured JSON log record.
func checkLogs(t *testing.T, f *rie.Function) {
	t.Helper()
	f.Stop() // all output is in
	for _, line := range strings.Split(f.Logs(), "\n") {
		for _, key := range []string{rightKey, wrongKey} {
			if strings.Contains(line, key) {
				t.Errorf("a log line holds a key: %s", line)
			}
		}
		if line == "" || emulatorLine.MatchString(line) {
			continue
		}
		var rec struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil || rec.Level == "" || rec.Msg == "" {
			t.Errorf("the function wrote a line that is not a JSON log record: %q", line)
		}
	}
}

// fixture is one file of events/.
type fixture struct {
	Name    string // file name
	Door    string
	Payload []byte
	Method  string
	Path    string
	// MultiValue: the event carries multiValueHeaders (for an ALB, a
	// target group with multi-value headers enabled).
	MultiValue bool
	// Keys holds every x-api-key value the request carries.
	Keys []string
}

// loadEvents reads every event file of events/ (all but env.json).
func loadEvents(t *testing.T) []fixture {
	t.Helper()
	root, err := samcheck.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	paths, err := samcheck.EventFiles(root)
	if err != nil {
		t.Fatal(err)
	}
	fxs := make([]fixture, 0, len(paths))
	for _, p := range paths {
		fxs = append(fxs, readFixture(t, p))
	}
	return fxs
}

// envFile returns the variables events/env.json sets for the function, as
// `sam local invoke --env-vars events/env.json` would.
func envFile(t *testing.T) []string {
	t.Helper()
	root, err := samcheck.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "events", samcheck.EnvFile))
	if err != nil {
		t.Fatalf("reading the env-vars file: %v", err)
	}
	var byFunction map[string]map[string]string
	if err := json.Unmarshal(b, &byFunction); err != nil {
		t.Fatalf("events/%s: %v", samcheck.EnvFile, err)
	}
	vars, ok := byFunction["KeygateFunction"]
	if !ok {
		t.Fatalf("events/%s has no KeygateFunction entry", samcheck.EnvFile)
	}
	var env []string
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		env = append(env, k+"="+vars[k])
	}
	return env
}

func readFixture(t *testing.T, path string) fixture {
	t.Helper()
	payload, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading event: %v", err)
	}
	fx := fixture{Name: filepath.Base(path), Payload: payload}
	fx.Door, _, _ = strings.Cut(fx.Name, "-")
	var hdr map[string]string
	var mhdr map[string][]string
	switch fx.Door {
	case doorREST:
		var ev events.APIGatewayProxyRequest
		decodeFixture(t, fx.Name, payload, &ev)
		fx.Method, fx.Path, hdr, mhdr = ev.HTTPMethod, ev.Path, ev.Headers, ev.MultiValueHeaders
	case doorHTTPAPI, doorFunctionURL:
		var ev events.APIGatewayV2HTTPRequest
		decodeFixture(t, fx.Name, payload, &ev)
		fx.Method, fx.Path, hdr = ev.RequestContext.HTTP.Method, ev.RawPath, ev.Headers
	case doorALB:
		var ev events.ALBTargetGroupRequest
		decodeFixture(t, fx.Name, payload, &ev)
		fx.Method, fx.Path, hdr, mhdr = ev.HTTPMethod, ev.Path, ev.Headers, ev.MultiValueHeaders
	default:
		t.Fatalf("%s: the name does not start with a front door (rest-, httpapi-, functionurl-, alb-)", fx.Name)
	}
	fx.MultiValue = mhdr != nil
	// API Gateway REST sends both maps; an ALB one of them. Prefer the
	// multi-value one, which keeps repeated headers apart.
	if len(mhdr) > 0 {
		for k, vs := range mhdr {
			if strings.EqualFold(k, "x-api-key") {
				fx.Keys = append(fx.Keys, vs...)
			}
		}
	} else {
		for k, v := range hdr {
			if strings.EqualFold(k, "x-api-key") {
				fx.Keys = append(fx.Keys, v)
			}
		}
	}
	return fx
}

func decodeFixture(t *testing.T, name string, payload []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(payload, v); err != nil {
		t.Fatalf("%s does not decode as its front door's event: %v", name, err)
	}
}

// impliedStatus is what the requirements say the event must get, from its
// content alone: it cross-checks the expectation table, so a fixture whose
// name and content disagree is caught.
func (fx fixture) impliedStatus() int {
	authorized := len(fx.Keys) == 1 && strings.Trim(fx.Keys[0], " \t") == rightKey
	switch {
	case !authorized:
		return http.StatusUnauthorized
	case fx.Path != "/":
		return http.StatusNotFound
	case fx.Method != http.MethodGet && fx.Method != http.MethodHead:
		return http.StatusMethodNotAllowed
	}
	return http.StatusOK
}

// response is the union of the front doors' response shapes; fields keeps
// which JSON fields were present.
type response struct {
	StatusCode        int                 `json:"statusCode"`
	StatusDescription string              `json:"statusDescription"`
	Headers           map[string]string   `json:"headers"`
	MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
	Body              string              `json:"body"`
	IsBase64Encoded   bool                `json:"isBase64Encoded"`
	fields            map[string]json.RawMessage
	raw               string
}

func invoke(t *testing.T, f *rie.Function, payload []byte) response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := f.Invoke(ctx, payload)
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	return decodeResponse(t, out)
}

func decodeResponse(t *testing.T, out []byte) response {
	t.Helper()
	r := response{raw: string(out)}
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("the function's answer is not a JSON response: %v: %s", err, out)
	}
	if err := json.Unmarshal(out, &r.fields); err != nil {
		t.Fatalf("the function's answer is not a JSON object: %v: %s", err, out)
	}
	return r
}

// The fields each door's response may carry (aws-lambda-go's
// APIGatewayProxyResponse, APIGatewayV2HTTPResponse, ALBTargetGroupResponse).
var allowedFields = map[string][]string{
	doorREST:        {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"},
	doorHTTPAPI:     {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded", "cookies"},
	doorFunctionURL: {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded", "cookies"},
	doorALB:         {"statusCode", "statusDescription", "headers", "multiValueHeaders", "body", "isBase64Encoded"},
}

// checkResponse checks status, body, the headers every answer carries, and
// the response shape of door (multiValue: the request carried
// multiValueHeaders, which an ALB answer must mirror).
func checkResponse(t *testing.T, door string, multiValue bool, method string, r response, wantStatus int) {
	t.Helper()
	if r.StatusCode != wantStatus {
		t.Errorf("status %d, want %d (answer %s)", r.StatusCode, wantStatus, r.raw)
	}
	wantBody := bodies[wantStatus]
	if method == http.MethodHead {
		wantBody = ""
	}
	if r.Body != wantBody || r.IsBase64Encoded {
		t.Errorf("body %q (base64 %v), want %q", r.Body, r.IsBase64Encoded, wantBody)
	}
	for _, f := range []string{"statusCode", "body"} {
		if _, ok := r.fields[f]; !ok {
			t.Errorf("answer lacks %q: %s", f, r.raw)
		}
	}
	for f := range r.fields {
		if !slices.Contains(allowedFields[door], f) {
			t.Errorf("field %q is not part of the %s response shape: %s", f, door, r.raw)
		}
	}

	// Which header map the front door reads.
	var hdr map[string][]string
	switch door {
	case doorREST:
		// API Gateway merges both.
		hdr = merge(r.Headers, r.MultiValueHeaders)
		if len(hdr) == 0 {
			t.Errorf("REST answer without headers: %s", r.raw)
		}
	case doorHTTPAPI, doorFunctionURL:
		// Payload 2.0 has no multiValueHeaders: anything there is lost.
		if len(r.MultiValueHeaders) > 0 {
			t.Errorf("payload 2.0 answer puts headers in multiValueHeaders, which %s ignores: %s", door, r.raw)
		}
		hdr = merge(r.Headers, nil)
	case doorALB:
		if want := fmt.Sprintf("%d %s", r.StatusCode, http.StatusText(r.StatusCode)); r.StatusDescription != want {
			t.Errorf("statusDescription %q, want %q", r.StatusDescription, want)
		}
		// The ALB reads the map the target group's setting selects,
		// and the request shows which one that is.
		if multiValue {
			if len(r.Headers) > 0 {
				t.Errorf("multi-value ALB answer also sets headers: %s", r.raw)
			}
			hdr = merge(nil, r.MultiValueHeaders)
		} else {
			if len(r.MultiValueHeaders) > 0 {
				t.Errorf("single-value ALB answer sets multiValueHeaders: %s", r.raw)
			}
			hdr = merge(r.Headers, nil)
		}
	default:
		t.Fatalf("unknown door %q", door)
	}
	want := map[string]string{
		"Content-Type":           "application/json",
		"Cache-Control":          "no-store",
		"X-Content-Type-Options": "nosniff",
	}
	switch wantStatus {
	case http.StatusUnauthorized:
		want["WWW-Authenticate"] = `ApiKey header="x-api-key"`
	case http.StatusMethodNotAllowed:
		want["Allow"] = "GET, HEAD"
	}
	for name, v := range want {
		got := hdr[http.CanonicalHeaderKey(name)]
		if len(got) != 1 || got[0] != v {
			t.Errorf("header %s = %q, want exactly %q", name, got, v)
		}
	}
}

// merge canonicalizes header names and unions the two maps, dropping a
// single value the multi-value map repeats.
func merge(single map[string]string, multi map[string][]string) map[string][]string {
	out := map[string][]string{}
	for k, vs := range multi {
		k = http.CanonicalHeaderKey(k)
		out[k] = append(out[k], vs...)
	}
	for k, v := range single {
		k = http.CanonicalHeaderKey(k)
		if !slices.Contains(out[k], v) {
			out[k] = append(out[k], v)
		}
	}
	return out
}

// eventually calls check until it reports done, at most for bound: a
// guard against a hang, not a timing assertion (the cache retries every
// 200ms..5s, so recovery takes a few seconds at most).
func eventually(t *testing.T, bound time.Duration, what string, check func() (done bool, state string)) {
	t.Helper()
	deadline := time.Now().Add(bound)
	var state string
	for {
		var done bool
		done, state = check()
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %s after %s", what, state, bound)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// logLines returns the lines of logs that contain substr, joined.
func logLines(logs, substr string) string {
	var out []string
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, substr) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

func itoa(n int) string { return strconv.Itoa(n) }

// initCount is how many cold starts the environment has had.
func initCount(f *rie.Function) int { return len(f.InitDurations()) }
