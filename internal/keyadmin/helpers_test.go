package keyadmin_test

import (
	"bytes"
	"context"
	"errors"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/internal/apikey"
	"github.com/keygate/keygate/internal/keyadmin"
	"github.com/keygate/keygate/internal/keysource"
	"github.com/keygate/keygate/internal/smapi"
	"github.com/keygate/keygate/internal/testsupport/apigwfake"
	"github.com/keygate/keygate/internal/testsupport/logsfake"
	"github.com/keygate/keygate/internal/testsupport/smfake"
)

const secretID = "keygate/admin-test"

// Keys the test secrets hold; output must never show them.
const (
	keyA = "kgAdminTestKeyAlpha000000000000000000001"
	keyB = "kgAdminTestKeyBravo000000000000000000002"
	keyC = "kgAdminTestKeyCharlie0000000000000000003"
)

var hashC = apikey.HashEntry(keyC, nil).SHA256

// now is the tool's clock in these tests: whole seconds, so expiries
// derived from it are exact.
var now = time.Now().UTC().Truncate(time.Second)

// result is one run of the command line.
type result struct {
	code           int
	stdout, stderr string
}

// tool runs keygate against one fake Secrets Manager.
type tool struct {
	sm  *smfake.Server
	env map[string]string
	// client, if set, replaces the SDK client (to interpose on calls).
	client func(smapi.Client) smapi.Client
	// lambda is the Lambda client revoke --now gets (withLambda).
	lambda keyadmin.LambdaClient
	// apigateway is the API Gateway client the tool gets (withGateway).
	apigateway keyadmin.APIGateway
	gw         *apigwfake.Server
	// logs is the CloudWatch Logs that list and usage query; logsBuilt
	// counts the clients built for it.
	logs      *logsfake.Server
	logsBuilt int
	// ctx, if set, is the command's context (to interrupt it).
	ctx context.Context
}

func newTool(t *testing.T, secret string) *tool {
	t.Helper()
	sm := smfake.Start(t)
	if secret != "" {
		sm.Put(secretID, secret)
	}
	return &tool{sm: sm, logs: logsfake.Start(t), env: map[string]string{"API_KEY_SECRET_ID": secretID}}
}

func (tl *tool) run(t *testing.T, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	ctx := tl.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	code := keyadmin.Run(ctx, args, keyadmin.Env{
		Stdout: &stdout,
		Stderr: &stderr,
		Getenv: func(k string) string { return tl.env[k] },
		NewClient: func(_ context.Context, region string) (smapi.Client, string, error) {
			// The SDK's standard retries, as the CLI has them (smclient):
			// a fake's one-attempt client fails, a few times in a
			// thousand on a busy machine, on a response of the 64 KB a
			// secret may hold (net/http closes the connection when it
			// finds the request body the SDK already closed, while the
			// response is still being read), which the SDK retries.
			var c smapi.Client = tl.sm.Client(func(o *secretsmanager.Options) { o.RetryMaxAttempts = 3 })
			if tl.client != nil {
				c = tl.client(c)
			}
			return c, tl.sm.Region, nil
		},
		NewLambda: func(context.Context, string) (keyadmin.LambdaClient, error) {
			if tl.lambda == nil {
				return nil, errors.New("no Lambda in this test")
			}
			return tl.lambda, nil
		},
		NewAPIGateway: func(context.Context, string) (keyadmin.APIGateway, error) {
			if tl.apigateway == nil {
				return nil, errors.New("no API Gateway in this test")
			}
			return tl.apigateway, nil
		},
		NewLogs: func(context.Context, string) (keyadmin.LogsClient, error) {
			tl.logsBuilt++
			return tl.logs.Client(), nil
		},
		Now: func() time.Time { return now },
	})
	return result{code, stdout.String(), stderr.String()}
}

// restAPI is the REST API guarded by keygate in these tests.
const restAPI = "a1b2c3d4e5"

// withGateway gives the tool a fake API Gateway whose REST API restAPI
// has, on its stage Prod, the usage plans basic and gold (tagged as the
// stack tags them), and one of another REST API tagged basic too; the
// tool finds the REST API by KEYGATE_REST_API. It returns the plans' IDs
// by name.
func (tl *tool) withGateway(t *testing.T) map[string]string {
	t.Helper()
	tl.gw = apigwfake.Start(t)
	tl.apigateway = tl.gw.Client()
	tl.env["KEYGATE_REST_API"] = restAPI
	ids := map[string]string{}
	for _, p := range []string{"basic", "gold"} {
		ids[p] = tl.gw.AddPlan("stack-"+p, restAPI, "Prod", map[string]string{keyadmin.PlanTag: p})
	}
	ids["other"] = tl.gw.AddPlan("other-basic", "zzzzzzzzzz", "Prod", map[string]string{keyadmin.PlanTag: "basic"})
	ids["untagged"] = tl.gw.AddPlan("hand-made", restAPI, "Prod", nil)
	return ids
}

// current parses the AWSCURRENT version.
func (tl *tool) current(t *testing.T) apikey.Document {
	t.Helper()
	v, ok := tl.sm.Value(secretID, "AWSCURRENT")
	if !ok {
		t.Fatal("no AWSCURRENT version")
	}
	doc, err := apikey.Parse(v)
	if err != nil {
		t.Fatalf("AWSCURRENT does not parse: %v", err)
	}
	return doc
}

// keys loads the secret the way the function does (AWSCURRENT, and
// AWSPREVIOUS for grace after a rotation) with a day's KEY_GRACE.
func (tl *tool) keys(t *testing.T) *apikey.Set {
	t.Helper()
	src := &keysource.SecretsManager{Client: tl.sm.Client(), SecretID: secretID, Grace: 24 * time.Hour}
	// The full set, as the function's cache reads it after its cold
	// start (at the first miss, or any refresh).
	snap, err := src.Load(context.Background(), true)
	if err != nil {
		t.Fatalf("the function could not load the secret: %v", err)
	}
	return snap.Set
}

// accepts reports whether the function would take key at the given time.
func accepts(set *apikey.Set, key string, at time.Time) bool {
	_, r := set.Match(key, at)
	return r == apikey.OK
}

// checkWritten: the change became AWSCURRENT, and the version before it
// lost its labels (no AWSPREVIOUS keeps old keys alive).
func (tl *tool) checkWritten(t *testing.T, before map[string][]string) {
	t.Helper()
	after := tl.sm.Stages(secretID)
	if len(after) != 1 {
		t.Fatalf("staging labels %v, want only the new AWSCURRENT", after)
	}
	for id, st := range after {
		if _, old := before[id]; old || len(st) != 1 || st[0] != "AWSCURRENT" {
			t.Fatalf("staging labels %v (before %v), want a new version with AWSCURRENT alone", after, before)
		}
	}
}

// checkQuiet fails if output holds any key or hash the secret ever held,
// except printed (the one new key, which must be all of stdout).
func checkQuiet(t *testing.T, r result, printed string, secrets ...string) {
	t.Helper()
	if printed != "" && r.stdout != printed+"\n" {
		t.Errorf("stdout %q, want only the new key", r.stdout)
	}
	if printed != "" && strings.Contains(r.stderr, printed) {
		t.Error("the new key appears on stderr too")
	}
	for _, s := range secrets {
		for _, k := range material(s) {
			if k == printed {
				continue
			}
			if strings.Contains(r.stdout, k) || strings.Contains(r.stderr, k) {
				t.Errorf("output holds a stored key or hash:\nstdout: %s\nstderr: %s", r.stdout, r.stderr)
				return
			}
		}
	}
}

// material is every key and hash a secret value holds (the value itself
// when it does not parse).
func material(secret string) []string {
	doc, err := apikey.Parse(secret)
	if err != nil {
		return []string{strings.TrimSpace(secret)}
	}
	if doc.Format != apikey.FormatKeySet {
		d := apikey.HashEntry(doc.Key, nil).SHA256
		return []string{doc.Key, d}
	}
	var out []string
	for _, e := range doc.Keys {
		for _, k := range []string{e.Key, e.SHA256} {
			if k != "" {
				out = append(out, k)
			}
		}
		if e.Key != "" {
			out = append(out, apikey.HashEntry(e.Key, nil).SHA256)
		}
		if e.Usage != nil {
			out = append(out, e.Usage.Key) // never shown either
		}
	}
	return out
}

func (tl *tool) value(t *testing.T) string {
	t.Helper()
	v, _ := tl.sm.Value(secretID, "AWSCURRENT")
	return v
}

func wantCode(t *testing.T, r result, code int, stderrHas ...string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, code, r.stdout, r.stderr)
	}
	for _, s := range stderrHas {
		if !strings.Contains(r.stderr, s) {
			t.Errorf("stderr lacks %q:\n%s", s, r.stderr)
		}
	}
}
