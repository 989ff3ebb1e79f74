package keyadmin_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/keygate/keygate/internal/keyadmin"
)

// fnName is the function the fake Lambda API knows.
const fnName = "keygate-fn"

// lambdaFake speaks the two Lambda API calls a restart makes (REST-JSON,
// as the service does), so that the real SDK client runs.
type lambdaFake struct {
	mu       sync.Mutex
	vars     map[string]string
	revision int
	calls    int // requests of any kind
	updates  int
	polls    int // GETs answered InProgress since the last update
	// failure, if set, is the LastUpdateStatusReason of every update:
	// after one InProgress, it is reported Failed.
	failure string
}

func (f *lambdaFake) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if r.URL.Path != "/2015-03-31/functions/"+fnName+"/configuration" {
		w.Header().Set("X-Amzn-Errortype", "ResourceNotFoundException")
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"Type":"User","Message":"Function not found"}`))
		return
	}
	status := "Successful"
	switch r.Method {
	case http.MethodPut:
		var in struct {
			Environment struct{ Variables map[string]string }
			RevisionId  string
		}
		json.NewDecoder(r.Body).Decode(&in)
		if in.RevisionId != f.rev() {
			w.Header().Set("X-Amzn-Errortype", "PreconditionFailedException")
			w.WriteHeader(http.StatusPreconditionFailed)
			w.Write([]byte(`{"Type":"User","message":"The Revision Id provided does not match the latest Revision Id."}`))
			return
		}
		f.vars, f.updates, f.polls = in.Environment.Variables, f.updates+1, 0
		f.revision++
		status = "InProgress"
	case http.MethodGet:
		switch {
		case f.updates > 0 && f.polls < 1:
			f.polls++
			status = "InProgress"
		case f.updates > 0 && f.failure != "":
			status = "Failed"
		}
	}
	out := map[string]any{
		"FunctionName":     fnName,
		"Environment":      map[string]any{"Variables": f.vars},
		"RevisionId":       f.rev(),
		"LastUpdateStatus": status,
	}
	if status == "Failed" {
		out["LastUpdateStatusReason"] = f.failure
	}
	json.NewEncoder(w).Encode(out)
}

func (f *lambdaFake) rev() string { return "rev-" + string(rune('a'+f.revision)) }

func (f *lambdaFake) env() map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.vars
}

func (f *lambdaFake) requests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// withFunction gives the tool a fake Lambda function keygate-fn whose
// environment is vars, named by KEYGATE_FUNCTION as an operator would.
func (tl *tool) withFunction(t *testing.T, vars map[string]string) *lambdaFake {
	t.Helper()
	tl.env["KEYGATE_FUNCTION"] = fnName
	return tl.withLambda(t, vars)
}

// withLambda gives the tool a fake Lambda function reading vars.
func (tl *tool) withLambda(t *testing.T, vars map[string]string) *lambdaFake {
	f := &lambdaFake{vars: vars}
	srv := httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(srv.Close)
	tl.lambda = lambda.New(lambda.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
	})
	return f
}

// revoke --now writes the secret, then changes the function's
// configuration (KEY_EPOCH, every other variable kept, against the revision
// it read) and waits until Lambda has applied it.
func TestRevokeNowRestartsTheFunction(t *testing.T) {
	tl := newTool(t, `{"api_keys":{"alice":"`+keyA+`","bob":"`+keyB+`"}}`)
	f := tl.withLambda(t, map[string]string{"API_KEY_SECRET_ID": tl.sm.ARN(secretID), "KEY_REFRESH": "5m"})
	r := tl.run(t, "keys", "revoke", "bob", "--now", "--function", "keygate-fn")
	wantCode(t, r, keyadmin.ExitOK, `revoked "bob"`, `function "keygate-fn": KEY_EPOCH set to`, "cold start")
	vars := f.env()
	if vars["KEY_EPOCH"] == "" || vars["KEY_REFRESH"] != "5m" || vars["API_KEY_SECRET_ID"] != tl.sm.ARN(secretID) {
		t.Errorf("function environment after the restart: %v", vars)
	}
	if f.updates != 1 || f.polls != 1 {
		t.Errorf("%d updates, %d polls while in progress; want 1 and 1 (it waits until the update is applied)", f.updates, f.polls)
	}
	if accepts(tl.keys(t), keyB, now) {
		t.Error("the revoked key is still in the secret")
	}
	checkQuiet(t, r, "", keyA, keyB)
}

// An update Lambda fails to apply is reported with Lambda's reason (the
// SDK waiter's own error does not say it).
func TestRevokeNowReportsAFailedUpdate(t *testing.T) {
	tl := newTool(t, `{"api_keys":{"alice":"`+keyA+`","bob":"`+keyB+`"}}`)
	f := tl.withLambda(t, map[string]string{"API_KEY_SECRET_ID": secretID})
	f.failure = "The function's role cannot be assumed"
	r := tl.run(t, "keys", "revoke", "bob", "--now", "--function", fnName)
	wantCode(t, r, keyadmin.ExitError, `revoked "bob"`, "was not restarted", `function "keygate-fn" failed to apply its new configuration: The function's role cannot be assumed`)
	if f.polls != 1 {
		t.Errorf("%d polls answered InProgress, want 1 before the failure", f.polls)
	}
}

// A function that takes its key from API_KEY, or reads another secret,
// cannot be revoked this way: the secret is changed, the function is not
// touched, and the message says why and that the key still works there.
func TestRevokeNowRefusesFunctionsNotReadingTheSecret(t *testing.T) {
	for name, vars := range map[string]map[string]string{
		"API_KEY":      {"API_KEY": keyB},
		"other secret": {"API_KEY_SECRET_ID": "some/other-secret"},
	} {
		t.Run(name, func(t *testing.T) {
			tl := newTool(t, `{"api_keys":{"alice":"`+keyA+`","bob":"`+keyB+`"}}`)
			f := tl.withLambda(t, vars)
			r := tl.run(t, "keys", "revoke", "bob", "--now", "--function", "keygate-fn")
			wantCode(t, r, keyadmin.ExitError, "was not restarted", "until their next refresh", "does not read this secret")
			if f.updates != 0 {
				t.Error("the function was updated")
			}
			if name == "API_KEY" && !strings.Contains(r.stderr, "change API_KEY instead") {
				t.Errorf("stderr does not say what to do:\n%s", r.stderr)
			}
			checkQuiet(t, r, "", keyA, keyB)
		})
	}
}

// --now needs a function; the message says that a local server cannot be
// reached this way. Nothing is written.
func TestRevokeNowNeedsAFunction(t *testing.T) {
	tl := newTool(t, `{"api_keys":{"alice":"`+keyA+`","bob":"`+keyB+`"}}`)
	before := tl.value(t)
	r := tl.run(t, "keys", "revoke", "bob", "--now")
	wantCode(t, r, keyadmin.ExitUsage, "--function", "KEYGATE_FUNCTION", "local server (make run) cannot be reached")
	if tl.value(t) != before {
		t.Error("a usage error wrote the secret")
	}
	r = tl.run(t, "keys", "list", "--now")
	wantCode(t, r, keyadmin.ExitUsage, "-now") // list takes no --now
}

// revoke --now --rest-api also flushes the guarded REST API's cached
// decisions (API Gateway's FlushStageAuthorizersCache: DELETE
// /restapis/{id}/stages/{stage}/cache/authorizers), so that the key stops
// there at once too; without --rest-api the message says what bounds it.
func TestRevokeNowFlushesTheGuardedAPICache(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		flushed []string
		says    string
	}{
		{[]string{"--rest-api", "a1b2c3d4e5"}, []string{"a1b2c3d4e5/Prod"}, "authorizer's cached decisions are flushed"},
		{[]string{"--rest-api", "a1b2c3d4e5", "--stage", "live"}, []string{"a1b2c3d4e5/live"}, "stage live"},
		{nil, nil, "until their TTL (AuthorizerCacheTtl) runs out"},
	} {
		tl := newTool(t, `{"api_keys":{"alice":"`+keyA+`","bob":"`+keyB+`"}}`)
		tl.withLambda(t, map[string]string{"API_KEY_SECRET_ID": secretID})
		tl.withGateway(t)
		delete(tl.env, "KEYGATE_REST_API")
		r := tl.run(t, append([]string{"keys", "revoke", "bob", "--now", "--function", "keygate-fn"}, tc.args...)...)
		wantCode(t, r, keyadmin.ExitOK, tc.says)
		if got := tl.gw.Flushed(); !slices.Equal(got, tc.flushed) {
			t.Errorf("%v: flushed %v, want %v", tc.args, got, tc.flushed)
		}
	}
	tl := newTool(t, `{"api_keys":{"alice":"`+keyA+`","bob":"`+keyB+`"}}`)
	wantCode(t, tl.run(t, "keys", "revoke", "bob", "--rest-api", "a1b2c3d4e5"), keyadmin.ExitUsage, "--rest-api goes with --now")
}
