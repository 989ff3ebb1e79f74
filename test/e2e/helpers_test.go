package e2e

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/internal/testsupport/doortest"

	samples "github.com/keygate/keygate/events"
	"github.com/keygate/keygate/internal/frontdoor"
	"github.com/keygate/keygate/test/rie"
)

// The keys the files in events/ carry (see events/env.json).
const (
	rightKey = samples.RightKey
	wrongKey = samples.WrongKey
)

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
	}
	for _, line := range f.Unstructured() {
		t.Errorf("the function wrote a line that is not a JSON log record: %q", line)
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

// loadEvents reads every sample event of the four front doors (events.All
// without the authorizers' events: authorizerEvents).
func loadEvents(t *testing.T) []fixture {
	t.Helper()
	evs, err := samples.All()
	if err != nil {
		t.Fatal(err)
	}
	fxs := make([]fixture, 0, len(evs))
	for _, ev := range evs {
		if frontdoor.Kind(ev.Door).Authorizer() {
			continue
		}
		fx := fixture{Event: ev}
		if fx.Method, fx.MultiValue, err = ev.Request(); err != nil {
			t.Fatal(err)
		}
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

func invoke(t *testing.T, f *rie.Function, payload []byte) doortest.Answer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := f.Invoke(ctx, payload)
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	return doortest.Decode(t, out)
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

// authorizerEvents reads the sample events of the Lambda authorizers.
func authorizerEvents(t *testing.T) []samples.Event {
	t.Helper()
	evs, err := samples.All()
	if err != nil {
		t.Fatal(err)
	}
	var out []samples.Event
	for _, ev := range evs {
		if frontdoor.Kind(ev.Door).Authorizer() {
			out = append(out, ev)
		}
	}
	return out
}

// invokeAuthorizer runs an authorizer event and returns the answer and the
// invocation's failure message (the emulator, as Lambda, reports a
// handler's error as {"errorMessage": …} with X-Amz-Function-Error).
func invokeAuthorizer(t *testing.T, f *rie.Function, payload []byte) (body []byte, failure string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := f.Invoke(ctx, payload)
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	var e struct {
		ErrorMessage *string `json:"errorMessage"`
	}
	if json.Unmarshal(out, &e) == nil && e.ErrorMessage != nil {
		return nil, *e.ErrorMessage
	}
	return out, ""
}
