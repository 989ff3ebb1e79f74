package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/test/internal/wait"

	samples "github.com/keygate/keygate/events"
	"github.com/keygate/keygate/internal/testsupport/doortest"

	"github.com/keygate/keygate/internal/testsupport/smfake"
	"github.com/keygate/keygate/test/rie"
)

const secretName = "keygate/api-key"

// newStore starts a wire-level fake Secrets Manager for this test.
func newStore(t *testing.T) *smfake.Server {
	t.Helper()
	srv := smfake.New()
	t.Cleanup(srv.Close)
	return srv
}

// startWithSecret runs the bootstrap with API_KEY_SECRET_ID = id, reaching
// srv through the SDK's standard variables.
func startWithSecret(t *testing.T, srv *smfake.Server, id string, env ...string) *rie.Function {
	t.Helper()
	return startFunction(t, append(append(srv.Env(), "API_KEY_SECRET_ID="+id), env...)...)
}

// Every event, the key read from Secrets Manager at cold start, in both
// secret formats and with the secret named by name or by ARN.
func TestEventsWithKeyFromSecretsManager(t *testing.T) {
	fxs := loadEvents(t)
	jsonSecret, err := json.Marshal(map[string]string{"api_key": rightKey})
	if err != nil {
		t.Fatal(err)
	}
	env, err := samples.Env()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, secret string
		byARN        bool
		// all: the secret holds every key of the events (env.json's
		// clients); else only the default client's, whose events run.
		all bool
	}{
		{"plain secret", rightKey, false, false},
		{"JSON secret", string(jsonSecret), false, false},
		{"plain secret by ARN", rightKey, true, false},
		{"api_keys secret with rules (env.json's)", env["KeygateFunction"]["API_KEY"], false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newStore(t)
			version := srv.Put(secretName, tc.secret)
			id := secretName
			if tc.byARN {
				id = srv.ARN(secretName)
			}
			f := startWithSecret(t, srv, id)
			for _, fx := range fxs {
				if fx.Want.Client != "" && !tc.all {
					continue // a key this secret does not hold
				}
				t.Run(fx.Name, func(t *testing.T) {
					doortest.Check(t, fx.Door, fx.MultiValue, fx.Method, invoke(t, f, fx.Payload), fx.Want.Status)
				})
			}
			// One key-load line naming the source and the version.
			if err := f.WaitLog(context.Background(), `"version_id":"`+version+`"`); err != nil {
				t.Errorf("no key-load log line with the version ID: %v", err)
			}
			if n := srv.Calls("GetSecretValue"); n < 1 {
				t.Errorf("GetSecretValue called %d times", n)
			}
			if n := initCount(f); n != 1 {
				t.Errorf("%d cold starts, want 1", n)
			}
		})
	}
}

// A key store that fails at cold start: the function does not crash, never
// authorizes, answers 503 to everything and logs the cause with the fix;
// once the fault is cleared the same environment recovers on its own.
func TestStoreFaultsAtColdStart(t *testing.T) {
	fxs := apiEvents(t)
	cases := []struct {
		name string
		// fault breaks the store before the cold start; fix mends it.
		fault, fix func(srv *smfake.Server)
		env        []string
		// logs are substrings the failure's log must hold.
		logs []string
	}{
		{
			name:  "secret missing",
			fault: func(srv *smfake.Server) {},
			fix:   func(srv *smfake.Server) { srv.Put(secretName, rightKey) },
			logs:  []string{"API_KEY_SECRET_ID is set but the secret", secretName, "was not found in us-east-1", "check the name or region"},
		},
		{
			name: "access denied",
			fault: func(srv *smfake.Server) {
				srv.Put(secretName, rightKey)
				srv.Deny(secretName, true)
			},
			fix:  func(srv *smfake.Server) { srv.Deny(secretName, false) },
			logs: []string{"access to secret", "was denied", "grant the function's role secretsmanager:GetSecretValue"},
		},
		{
			name: "store down (503)",
			fault: func(srv *smfake.Server) {
				srv.Put(secretName, rightKey)
				srv.Fail("GetSecretValue", smfake.UnavailableFault)
			},
			fix:  func(srv *smfake.Server) { srv.Clear() },
			logs: []string{"reading secret", secretName, "503"},
		},
		{
			name: "store hangs",
			fault: func(srv *smfake.Server) {
				srv.Put(secretName, rightKey)
				srv.Fail("GetSecretValue", smfake.HangFault)
			},
			fix:  func(srv *smfake.Server) { srv.Clear() },
			env:  []string{"KEY_LOAD_TIMEOUT=500ms"},
			logs: []string{"timed out", "check that Secrets Manager is reachable from the function"},
		},
		{
			name: "connection reset",
			fault: func(srv *smfake.Server) {
				srv.Put(secretName, rightKey)
				srv.Fail("GetSecretValue", smfake.ConnectionResetFault)
			},
			fix: func(srv *smfake.Server) { srv.Clear() },
			// A reset, like a timeout, is a network path problem: the
			// line should say where to look, as it does for a timeout.
			logs: []string{"reading secret", secretName, "connection reset", "check that Secrets Manager is reachable from the function"},
		},
		{
			// Not a key: a configuration error, never an open door.
			name:  "JSON secret without api_key",
			fault: func(srv *smfake.Server) { srv.Put(secretName, `{"apikey":"`+rightKey+`"}`) },
			fix:   func(srv *smfake.Server) { srv.Put(secretName, rightKey) },
			logs:  []string{"secret", secretName, "api_key"},
		},
		{
			name:  "whitespace-only secret",
			fault: func(srv *smfake.Server) { srv.Put(secretName, " \t ") },
			fix:   func(srv *smfake.Server) { srv.Put(secretName, rightKey) },
			logs:  []string{"secret", secretName},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // most of the time is the cache's backoff
			srv := newStore(t)
			tc.fault(srv)
			f := startWithSecret(t, srv, secretName, tc.env...)
			t.Run("while failing", func(t *testing.T) { checkEvents(t, f, fxs, true) })
			if err := f.WaitLog(context.Background(), "key load failed"); err != nil {
				t.Fatal(err)
			}
			failure := logLines(f.Logs(), "key load failed")
			t.Logf("the log says:\n%s", failure)
			for _, want := range tc.logs {
				if !strings.Contains(failure, want) {
					t.Errorf("no \"key load failed\" line names the cause (%q):\n%s", want, failure)
				}
			}

			tc.fix(srv)
			waitForStatus(t, f, fxs[0], http.StatusOK)
			t.Run("recovered", func(t *testing.T) { checkEvents(t, f, fxs, false) })
			if n := initCount(f); n != 1 {
				t.Errorf("%d cold starts, want 1: recovery must not need a restart", n)
			}
			if err := f.WaitLog(context.Background(), `"msg":"key set loaded"`); err != nil {
				t.Errorf("no key-load line after recovery: %v", err)
			}
		})
	}
}

// A store outage after a successful load: the warm environment keeps
// serving the key it has (stale-if-error), says so in the log, and never
// answers 503 for it.
func TestStoreOutageWhileWarm(t *testing.T) {
	fxs := apiEvents(t)
	srv := newStore(t)
	srv.Put(secretName, rightKey)
	// A short refresh, so the outage is noticed within seconds (0 would
	// mean never re-read); the request that refreshes waits for the load,
	// so bound it tighter than the default 3s to keep the test short.
	f := startWithSecret(t, srv, secretName, "KEY_REFRESH=1s", "KEY_LOAD_TIMEOUT=300ms")
	checkEvents(t, f, fxs, false)

	srv.Fail("GetSecretValue", smfake.UnavailableFault)
	failedBefore := srv.Calls("GetSecretValue")
	wait.Until(t, 30*time.Second, "a failed refresh", func() (bool, string) {
		doortest.Check(t, fxs[0].Door, false, fxs[0].Method, invoke(t, f, fxs[0].Payload), http.StatusOK)
		n := srv.Calls("GetSecretValue") - failedBefore
		return n > 0 && strings.Contains(f.Logs(), `"serving_stale":true`), "failed reads: " + itoa(n)
	})
	t.Run("during the outage", func(t *testing.T) { checkEvents(t, f, fxs, false) })
	srv.Clear()
	t.Run("after the outage", func(t *testing.T) { checkEvents(t, f, fxs, false) })
	if n := initCount(f); n != 1 {
		t.Errorf("%d cold starts, want 1", n)
	}
}
