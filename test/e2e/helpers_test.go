package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	samples "github.com/keygate/keygate/events"
	"github.com/keygate/keygate/test/rie"
)

// The keys the files in events/ carry (see events/env.json).
const (
	rightKey = samples.RightKey
	wrongKey = samples.WrongKey
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

// fixture is one file of events/, with what the checks of its answer need.
type fixture struct {
	samples.Event
	Method string
	// MultiValue: the event carries multiValueHeaders (for an ALB, a
	// target group with multi-value headers enabled).
	MultiValue bool
}

// loadEvents reads every sample event (events.All).
func loadEvents(t *testing.T) []fixture {
	t.Helper()
	evs, err := samples.All()
	if err != nil {
		t.Fatal(err)
	}
	fxs := make([]fixture, 0, len(evs))
	for _, ev := range evs {
		fx := fixture{Event: ev}
		var probe struct {
			HTTPMethod        string              `json:"httpMethod"`
			MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
			RequestContext    struct {
				HTTP struct {
					Method string `json:"method"`
				} `json:"http"`
			} `json:"requestContext"`
		}
		if err := json.Unmarshal(ev.Payload, &probe); err != nil {
			t.Fatalf("%s: %v", ev.Name, err)
		}
		fx.Method = probe.HTTPMethod
		if fx.Method == "" {
			fx.Method = probe.RequestContext.HTTP.Method
		}
		fx.MultiValue = probe.MultiValueHeaders != nil
		fxs = append(fxs, fx)
	}
	return fxs
}

// envFile returns the variables events/env.json sets for the function, as
// `sam local invoke --env-vars events/env.json` would.
func envFile(t *testing.T) []string {
	t.Helper()
	byFunction, err := samples.Env()
	if err != nil {
		t.Fatal(err)
	}
	vars, ok := byFunction["KeygateFunction"]
	if !ok {
		t.Fatalf("events/%s has no KeygateFunction entry", samples.EnvFile)
	}
	var env []string
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		env = append(env, k+"="+vars[k])
	}
	return env
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
