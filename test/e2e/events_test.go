package e2e

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/test/internal/wait"

	samples "github.com/keygate/keygate/events"
	"github.com/keygate/keygate/internal/testsupport/doortest"

	"github.com/aws/aws-lambda-go/events"
)

// Every event in events/ through the real bootstrap and emulator, with the
// variables of events/env.json, as `sam local invoke --env-vars
// events/env.json -e <event>` runs it (the key from API_KEY). One execution
// environment serves them all: the cold start is not the point here, and
// one process keeps the suite fast.
func TestEventsWithKeyFromEnvironment(t *testing.T) {
	fxs := loadEvents(t)
	env := envFile(t)
	for _, k := range []string{rightKey, samples.ScopedKey, samples.SourcedKey} {
		if !slices.ContainsFunc(env, func(v string) bool { return strings.HasPrefix(v, "API_KEY=") && strings.Contains(v, k) }) {
			t.Errorf("events/env.json's API_KEY does not hold the events' keys: %q", env)
		}
	}
	f := startFunction(t, env...)
	for _, fx := range fxs {
		t.Run(fx.Name, func(t *testing.T) {
			r := invoke(t, f, fx.Payload)
			doortest.Check(t, fx.Door, fx.MultiValue, fx.Method, r, fx.Want.Status)
		})
	}
	// One log line per request, and a warning that API_KEY is for local use.
	wait.Until(t, 10*time.Second, "request log lines", func() (bool, string) {
		n := strings.Count(f.Logs(), `"msg":"request"`)
		return n == len(fxs), "lines: " + itoa(n)
	})
	if !strings.Contains(f.Logs(), "production should keep the key in Secrets Manager") {
		t.Errorf("no warning that API_KEY is for local development:\n%s", f.Logs())
	}
	if n := initCount(f); n != 1 {
		t.Errorf("%d cold starts for %d invocations of one environment, want 1", n, len(fxs))
	}
}

// The authorizer sample events through the real bootstrap and emulator
// (the keys of events/env.json's API_KEY): each is
// decided as events/expected.json says, a REST refusal being the
// invocation failure Unauthorized that API Gateway turns into its 401.
func TestAuthorizerEventsUnderEmulator(t *testing.T) {
	evs := authorizerEvents(t)
	if len(evs) == 0 {
		t.Fatal("no authorizer sample events")
	}
	f := startFunction(t, envFile(t)...)
	for _, ev := range evs {
		t.Run(ev.Name, func(t *testing.T) {
			body, failure := invokeAuthorizer(t, f, ev.Payload)
			doortest.Decision(t, ev, body, failure)
		})
	}
	wait.Until(t, 10*time.Second, "decision log lines", func() (bool, string) {
		n := strings.Count(f.Logs(), `"msg":"authorization"`)
		return n == len(evs), "lines: " + itoa(n)
	})
}

// pick returns the first fixture of door that expects want, with or
// without multiValueHeaders as multi says (nil: either).
func pick(t *testing.T, fxs []fixture, door string, want int, multi *bool) fixture {
	t.Helper()
	for _, fx := range fxs {
		// The default client's key: the one every test's function holds.
		if fx.Door == door && fx.Want.Status == want && fx.Want.Client == "" && (multi == nil || fx.MultiValue == *multi) {
			return fx
		}
	}
	t.Fatalf("events/ has no %s event expecting %d (multi-value %v)", door, want, multi)
	return fixture{}
}

// mutate decodes fx as a generic JSON object, lets edit change it, and
// re-encodes it: malformed events are built from the real fixtures.
func mutate(t *testing.T, fx fixture, edit func(ev map[string]any)) []byte {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(fx.Payload, &ev); err != nil {
		t.Fatalf("%s: %v", fx.Name, err)
	}
	edit(ev)
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatalf("%s: %v", fx.Name, err)
	}
	return b
}

func marshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return b
}

// A malformed or unknown event gets a JSON 400 in its door's shape (the
// REST shape when the door is unknown), and the same environment serves
// the next event normally: no crash, no restart.
func TestMalformedEvents(t *testing.T) {
	fxs := loadEvents(t)
	yes, no := true, false
	rest := pick(t, fxs, doorREST, http.StatusOK, nil)
	v2 := pick(t, fxs, doorHTTPAPI, http.StatusOK, nil)
	alb := pick(t, fxs, doorALB, http.StatusOK, &no)
	albMulti := pick(t, fxs, doorALB, http.StatusOK, &yes)
	badBase64 := func(ev map[string]any) {
		ev["isBase64Encoded"] = true
		ev["body"] = "%%% not base64 %%%"
	}

	cases := []struct {
		name    string
		payload []byte
		door    string // the shape of the 400
		multi   bool
	}{
		{"not JSON", []byte("this is not JSON"), doorREST, false},
		{"JSON array", []byte("[1,2,3]"), doorREST, false},
		{"empty object", []byte("{}"), doorREST, false},
		{"S3 event", marshal(t, events.S3Event{Records: []events.S3EventRecord{{
			EventSource: "aws:s3", EventName: "ObjectCreated:Put", AWSRegion: "us-east-1",
			S3: events.S3Entity{Bucket: events.S3Bucket{Name: "bucket"}, Object: events.S3Object{Key: "key"}},
		}}}), doorREST, false},
		{"REST, invalid base64 body", mutate(t, rest, badBase64), doorREST, false},
		{"REST, headers not an object", mutate(t, rest, func(ev map[string]any) { ev["headers"] = "x-api-key" }), doorREST, false},
		{"REST, invalid method", mutate(t, rest, func(ev map[string]any) { ev["httpMethod"] = "GE T" }), doorREST, false},
		{"HTTP API, invalid base64 body", mutate(t, v2, badBase64), doorHTTPAPI, false},
		{"ALB, invalid base64 body", mutate(t, alb, badBase64), doorALB, false},
		{"ALB multi-value, invalid base64 body", mutate(t, albMulti, badBase64), doorALB, true},
	}

	f := startFunction(t, "API_KEY="+rightKey)
	bad := 0
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bad++
			r := invoke(t, f, tc.payload)
			doortest.Check(t, tc.door, tc.multi, "", r, http.StatusBadRequest)
			// The same environment goes on serving.
			r = invoke(t, f, rest.Payload)
			doortest.Check(t, rest.Door, rest.MultiValue, rest.Method, r, http.StatusOK)
		})
	}
	wait.Until(t, 10*time.Second, "bad event log lines", func() (bool, string) {
		n := strings.Count(f.Logs(), `"msg":"bad event"`)
		return n == bad, "lines: " + itoa(n)
	})
	if n := initCount(f); n != 1 {
		t.Errorf("%d cold starts, want 1: a malformed event restarted the runtime\n%s", n, f.Logs())
	}
}
