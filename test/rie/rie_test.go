package rie_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/keygate/keygate/test/internal/proc"
	"github.com/keygate/keygate/test/rie"
)

const probePkg = "./test/rie/testdata/probe"

func invokeJSON(t *testing.T, f *rie.Function, in any, out any) {
	t.Helper()
	payload, err := json.Marshal(in)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	body, err := f.Invoke(context.Background(), payload)
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	if err := json.Unmarshal(body, out); err != nil {
		t.Fatalf("decoding %s: %v", body, err)
	}
}

func TestBuildIsCached(t *testing.T) {
	a := rie.Build(t, probePkg, false)
	b := rie.Build(t, probePkg, false)
	if a != b {
		t.Errorf("second Build = %q, want the cached %q", b, a)
	}
	if st, err := os.Stat(a); err != nil || st.Mode()&0o111 == 0 {
		t.Errorf("Build result %q is not an executable file: %v", a, err)
	}
	if e := rie.Emulator(t); e == a {
		t.Errorf("Emulator and Build share the path %q", e)
	}
}

// The function sees a controlled environment: defaults, Options.Env, and
// nothing of the test process's own (real AWS settings must not leak in).
func TestEnvironment(t *testing.T) {
	t.Setenv("KEYGATE_RIE_LEAK_CHECK", "leaked")
	f := rie.Start(t, rie.Build(t, probePkg, false), rie.Options{
		Env: []string{"AWS_REGION=eu-west-3", "EXTRA=1"},
	})
	var env map[string]string
	invokeJSON(t, f, "env", &env)

	for k, want := range map[string]string{
		"AWS_REGION":                "eu-west-3", // Options.Env wins
		"EXTRA":                     "1",
		"AWS_LAMBDA_FUNCTION_NAME":  "keygate",
		"AWS_EC2_METADATA_DISABLED": "true",
	} {
		if env[k] != want {
			t.Errorf("%s = %q, want %q", k, env[k], want)
		}
	}
	if v, ok := env["KEYGATE_RIE_LEAK_CHECK"]; ok {
		t.Errorf("the test's environment leaked into the function: KEYGATE_RIE_LEAK_CHECK=%q", v)
	}
	for _, k := range []string{"AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"} {
		st, err := os.Stat(env[k])
		if err != nil || st.Size() != 0 {
			t.Errorf("%s = %q is not an empty file (%v)", k, env[k], err)
		}
	}
	if env["AWS_ACCESS_KEY_ID"] == "" || env["AWS_SECRET_ACCESS_KEY"] == "" {
		t.Error("dummy credentials missing: the SDK would look for real ones")
	}
	if env["AWS_LAMBDA_RUNTIME_API"] == "" {
		t.Error("AWS_LAMBDA_RUNTIME_API not set by the emulator")
	}
}

// One Start is one execution environment: one cold start, then warm
// invocations, and the real bootstrap answers through it.
func TestKeygateBootstrapWarmInvocations(t *testing.T) {
	const key = "rieHarnessKey0123456789abcdef"
	f := rie.Start(t, rie.Build(t, "./cmd/api", false), rie.Options{Env: []string{"API_KEY=" + key}})
	ev := events.APIGatewayProxyRequest{
		HTTPMethod: "GET", Path: "/",
		Headers:        map[string]string{"x-api-key": key},
		RequestContext: events.APIGatewayProxyRequestContext{DomainName: "example.com"},
	}
	for i := 0; i < 3; i++ {
		var resp events.APIGatewayProxyResponse
		invokeJSON(t, f, ev, &resp)
		if resp.StatusCode != 200 {
			t.Fatalf("invocation %d: status %d, body %s", i, resp.StatusCode, resp.Body)
		}
	}
	if err := f.WaitLog(context.Background(), `"msg":"request"`); err != nil {
		t.Fatal(err)
	}
	if n := len(f.InitDurations()); n != 1 {
		t.Errorf("%d INIT REPORTs for 3 invocations of one environment, want 1:\n%s", n, f.Logs())
	}
	if strings.Contains(f.Logs(), key) {
		t.Error("the key appears in the function's output")
	}
}

// A stuck invocation must not keep any process alive after Stop, in either
// of the emulator's modes.
func TestStopKillsHungBootstrap(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  rie.Options
	}{
		{"classic", rie.Options{}},
		{"multi-concurrency", rie.Options{MaxConcurrency: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := rie.Start(t, rie.Build(t, probePkg, false), tc.opt)
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			if _, err := f.Invoke(ctx, []byte(`"hang"`)); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("invoke of a hung function: err = %v, want a deadline error", err)
			}
			if err := f.WaitLog(context.Background(), "START RequestId"); err != nil {
				t.Fatal(err)
			}
			pids := f.Pids()
			if len(pids) != 2 {
				t.Fatalf("processes before Stop = %v, want the emulator and the bootstrap", pids)
			}
			f.Stop()
			if left := f.Pids(); len(left) != 0 {
				t.Fatalf("processes still alive after Stop: %v", left)
			}
			for _, pid := range pids {
				if err := syscall.Kill(pid, 0); err == nil && !zombie(pid) {
					t.Errorf("process %d survived Stop", pid)
				}
			}
			f.Stop() // idempotent
		})
	}
}

func zombie(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] == 'Z'
}

// The multi-concurrency mode serves parallel invocations from one
// initialized runtime.
func TestMaxConcurrency(t *testing.T) {
	const n = 3
	f := rie.Start(t, rie.Build(t, probePkg, false), rie.Options{MaxConcurrency: n})
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() {
			body, err := f.Invoke(context.Background(), []byte(`"ping"`))
			if err == nil && string(body) != `"ping"` {
				err = errors.New("unexpected answer " + string(body))
			}
			errs <- err
		}()
	}
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if n := len(f.InitDurations()); n != 1 {
		t.Errorf("%d INIT REPORTs, want 1:\n%s", n, f.Logs())
	}
}

// A race-detector build runs under the emulator too (it is linked
// dynamically, against the host's libc).
func TestRaceBuild(t *testing.T) {
	boot := rie.Build(t, probePkg, true)
	if boot == rie.Build(t, probePkg, false) {
		t.Fatal("race and plain builds share one binary")
	}
	f := rie.Start(t, boot, rie.Options{})
	body, err := f.Invoke(context.Background(), []byte(`"ping"`))
	if err != nil || string(body) != `"ping"` {
		t.Fatalf("invoke = %s, %v; want \"ping\"", body, err)
	}
}

// recorder is a testing.TB whose failures and cleanups the test inspects.
type recorder struct {
	testing.TB
	errs     []string
	cleanups []func()
}

func (r *recorder) Helper()             {}
func (r *recorder) Cleanup(f func())    { r.cleanups = append(r.cleanups, f) }
func (r *recorder) Failed() bool        { return len(r.errs) > 0 }
func (r *recorder) Logf(string, ...any) {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// A data race in a race-detector build of the function fails the test that
// ran it, even though the invocation itself may look fine.
func TestRaceReportFailsTheTest(t *testing.T) {
	boot := rie.Build(t, probePkg, true)
	rec := &recorder{TB: t}
	f := rie.Start(rec, boot, rie.Options{})
	_, _ = f.Invoke(context.Background(), []byte(`"race"`))
	if err := f.WaitLog(context.Background(), "WARNING: DATA RACE"); err != nil {
		t.Fatalf("the race-detector build reported no race: %v\n%s", err, f.Logs())
	}
	for i := len(rec.cleanups) - 1; i >= 0; i-- {
		rec.cleanups[i]()
	}
	if len(rec.errs) == 0 || !strings.Contains(rec.errs[0], "data race") {
		t.Errorf("the harness did not fail the test on a data race: %q", rec.errs)
	}
}

// Options.Output gets the output as it comes (the emulator's REPORT lines
// here), and Logs still holds its start.
func TestOutput(t *testing.T) {
	var out proc.Output
	f := rie.Start(t, rie.Build(t, probePkg, false), rie.Options{Output: &out})
	var echo string
	invokeJSON(t, f, "hello", &echo)
	if err := f.WaitLog(context.Background(), "REPORT RequestId"); err != nil {
		t.Fatal(err)
	}
	f.Stop()
	if !strings.Contains(out.String(), "REPORT RequestId") || out.String() != f.Logs() {
		t.Errorf("Output holds %q, Logs %q: want both the whole (short) output", out.String(), f.Logs())
	}
}
