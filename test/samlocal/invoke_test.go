//go:build samlocal

package samlocal

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	samples "github.com/keygate/keygate/events"
	"github.com/keygate/keygate/internal/frontdoor"
	"github.com/keygate/keygate/internal/testsupport/doortest"
	"github.com/keygate/keygate/test/internal/engine"
	"github.com/keygate/keygate/test/internal/recorder"
)

// parallel is how many `sam local invoke` run at once: each is mostly the
// SAM CLI's Python starting up (CPU) and a container starting (waiting);
// on 2 cores, 40 events take 30 s at 2, 3, 4 or 6 at once, and more at
// once means more of SAM's lost logs (see invoked).
var parallel = max(2, runtime.NumCPU())

// onARM64 says which events run on the deployed architecture, arm64
// (under qemu on another machine): every door's valid-key and no-key
// events. The others run on this machine's architecture.
func onARM64(name string) bool {
	return strings.HasSuffix(name, "-valid-key.json") || strings.HasSuffix(name, "-no-key.json")
}

// invocations caches each event's run, so that the checks of a broken
// table reuse the answers of the real one.
var invocations sync.Map // event name → *invocation

type invocation struct {
	once sync.Once
	arch engine.Arch
	res  result
}

// invoked runs ev once per test process, on the architecture onARM64
// gives it.
func invoked(ev samples.Event) *invocation {
	v, _ := invocations.LoadOrStore(ev.Name, &invocation{})
	inv := v.(*invocation)
	inv.once.Do(func() {
		inv.arch = native
		if onARM64(ev.Name) {
			inv.arch = engine.ARM64
		}
		inv.res = invoke(context.Background(), builds[inv.arch], filepath.Join(root, "events", ev.Name))
		// SAM CLI waits at most 1 s after the answer for the container's
		// output to arrive (Container.wait_for_result), then stops the
		// container: under load the output, and with it the function's
		// log line the checks read, can be lost, the answer intact. Such
		// an invocation runs again, three times at most.
		for try := 0; try < 3 && inv.res.err == nil && decisionLine(inv.res.stderr) == ""; try++ {
			logf("%s: SAM printed the answer but not the function's log line; running it again", ev.Name)
			inv.res = invoke(context.Background(), builds[inv.arch], filepath.Join(root, "events", ev.Name))
		}
	})
	return inv
}

// Every file in events/ through `sam local invoke`, answered as
// events/expected.json says: a front door's status, fixed body, response
// shape and headers (doortest.Check), an authorizer's decision
// (doortest.Decision), and the outcome of the function's log line.
func TestInvokeEveryEvent(t *testing.T) {
	evs, err := samples.All()
	if err != nil {
		t.Fatal(err)
	}
	sem := make(chan struct{}, parallel)
	for _, ev := range evs {
		t.Run(ev.Name, func(t *testing.T) {
			t.Parallel()
			sem <- struct{}{}
			inv := invoked(ev)
			<-sem
			t.Logf("%s (%s, %s): %s", ev.Name, inv.arch, inv.res.took.Round(1e7), strings.TrimSpace(inv.res.stdout))
			checkAnswer(t, ev, inv.res)
		})
	}
}

// checkAnswer compares one `sam local invoke` of ev with ev.Want.
func checkAnswer(t testing.TB, ev samples.Event, res result) {
	t.Helper()
	if res.err != nil {
		t.Fatalf("%v\nstdout:\n%s\nstderr:\n%s", res.err, res.stdout, res.stderr)
	}
	out := []byte(strings.TrimSpace(res.stdout))
	if frontdoor.Kind(ev.Door).Authorizer() {
		body, failure := out, ""
		var e struct {
			ErrorMessage *string `json:"errorMessage"`
		}
		if json.Unmarshal(out, &e) == nil && e.ErrorMessage != nil {
			body, failure = nil, *e.ErrorMessage
		}
		doortest.Decision(t, ev, body, failure)
	} else {
		method, multi := request(t, ev)
		doortest.Check(t, ev.Door, multi, method, doortest.Decode(t, out), ev.Want.Status)
	}
	// The function's own line for this request, and no key anywhere. The
	// emulator's START line comes before the function's lines: without
	// it, SAM lost the start of the output (see invoked), and the line
	// cannot be checked here (e2e checks it under the emulator).
	outcome := decisionLine(res.stderr)
	if outcome == "" && !strings.Contains(res.stderr, "START RequestId") {
		t.Logf("SAM CLI lost the start of the container's output: the log line's outcome is not checked for %s", ev.Name)
	} else if outcome != ev.Want.Outcome {
		t.Errorf("log outcome %q, want %q\nstderr:\n%s", outcome, ev.Want.Outcome, res.stderr)
	}
	for _, key := range []string{samples.RightKey, samples.WrongKey} {
		if strings.Contains(res.stderr, key) || strings.Contains(res.stdout, key) {
			t.Errorf("the output holds a key:\nstdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
		}
	}
}

// decisionLine returns the outcome of the function's log line for a
// request or an authorizer decision in out ("" without one).
func decisionLine(out string) string {
	outcome := ""
	for _, line := range strings.Split(out, "\n") {
		var rec struct{ Msg, Outcome string }
		if json.Unmarshal([]byte(line), &rec) == nil && (rec.Msg == "request" || rec.Msg == "authorization") {
			outcome = rec.Outcome
		}
	}
	return outcome
}

// request returns a front door event's method, and whether it carries
// multiValueHeaders (for an ALB: multi-value headers enabled).
func request(t testing.TB, ev samples.Event) (string, bool) {
	t.Helper()
	m, multi, err := ev.Request()
	if err != nil {
		t.Fatal(err)
	}
	return m, multi
}

// A copy of the event table with wrong expectations (a status, a
// decision, an outcome, one of each door kind) against the real answers:
// the comparison reports every one of them. events/ itself is untouched.
func TestBrokenTableFails(t *testing.T) {
	evs, err := samples.All()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]samples.Event{}
	for _, ev := range evs {
		byName[ev.Name] = ev
	}
	cases := []struct {
		name  string
		event string
		edit  func(*samples.Want)
	}{
		{"valid key expected to be refused", "rest-valid-key.json", func(w *samples.Want) { w.Status = 401 }},
		{"no key expected to pass", "httpapi-no-key.json", func(w *samples.Want) { w.Status = 200 }},
		{"unknown path expected to be 405", "rest-unknown-path.json", func(w *samples.Want) { w.Status = 405 }},
		{"ALB two keys with the wrong outcome", "alb-multivalue-two-keys.json", func(w *samples.Want) { w.Outcome = "invalid" }},
		{"TOKEN authorizer allow expected to deny", "tokenauthorizer-valid-key.json", func(w *samples.Want) { w.Decision = "deny" }},
		{"REQUEST authorizer deny expected to allow", "requestauthorizer-wrong-key.json", func(w *samples.Want) { w.Decision = "allow" }},
		{"HTTP API authorizer deny expected to allow", "httpauthorizer-no-key.json", func(w *samples.Want) { w.Decision = "allow" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ev, ok := byName[tc.event]
			if !ok {
				t.Fatalf("events/ has no %s", tc.event)
			}
			inv := invoked(ev)
			res := inv.res
			// A wrong outcome shows only in the log line SAM may lose.
			for try := 0; try < 3 && res.err == nil && decisionLine(res.stderr) == ""; try++ {
				res = invoke(context.Background(), builds[inv.arch], filepath.Join(root, "events", ev.Name))
			}
			if errs := recorder.Failures(t, func(tb testing.TB) { checkAnswer(tb, ev, res) }); len(errs) > 0 {
				t.Fatalf("the true table reports failures for %s: %q", ev.Name, errs)
			}
			broken := ev
			tc.edit(&broken.Want)
			errs := recorder.Failures(t, func(tb testing.TB) { checkAnswer(tb, broken, res) })
			if len(errs) == 0 {
				t.Errorf("%s expected %+v instead of %+v, and the comparison reported nothing", ev.Name, broken.Want, ev.Want)
			}
			t.Logf("%s with %+v: %d failures reported, the first: %s", ev.Name, broken.Want, len(errs), firstLine(errs))
		})
	}
}

// A copy of template.yaml without `API_KEY: ""` in the function's
// variables (it looks unused in the cloud): sam local can then no longer
// set the key from events/env.json, the function fails closed, and the
// comparison reports it.
func TestBrokenTemplateFails(t *testing.T) {
	dir, err := build(context.Background(), native, func(s string) (string, error) {
		const line = "          API_KEY: \"\" # local development only (events/env.json)\n"
		if !strings.Contains(s, line) {
			return "", fmt.Errorf("template.yaml has no line %q to drop", strings.TrimSpace(line))
		}
		return strings.Replace(s, line, "", 1), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := samples.All()
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if ev.Name != "rest-valid-key.json" && ev.Name != "requestauthorizer-valid-key.json" {
			continue
		}
		res := invoke(context.Background(), dir, filepath.Join(root, "events", ev.Name))
		t.Logf("%s under the broken template: %s", ev.Name, strings.TrimSpace(res.stdout))
		errs := recorder.Failures(t, func(tb testing.TB) { checkAnswer(tb, ev, res) })
		if len(errs) == 0 {
			t.Errorf("%s under a template without API_KEY: the comparison reported nothing\nstdout:\n%s", ev.Name, res.stdout)
		}
		t.Logf("%s: %d failures reported, the first: %s", ev.Name, len(errs), firstLine(errs))
	}
}

func firstLine(errs []string) string {
	if len(errs) == 0 {
		return ""
	}
	s, _, _ := strings.Cut(errs[0], "\n")
	return s
}
