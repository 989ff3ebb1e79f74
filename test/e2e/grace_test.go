package e2e

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/keygate/keygate/internal/apikey"
	"github.com/keygate/keygate/internal/keyadmin"
	"github.com/keygate/keygate/internal/smapi"
	"github.com/keygate/keygate/test/internal/wait"
	"github.com/keygate/keygate/test/moto"
)

// The operator's replay of a security bug: the function's KEY_GRACE is 3s;
// a rotation gives client a a new key, and once those 3 s have passed the
// function refuses a's old key. Then an operator adds a client from a shell
// that names the function (KEYGATE_FUNCTION) and has no KEY_GRACE. The
// change must keep the function's grace, which is over: a's old key stays
// refused. (The CLI used to carry it into the new version as a.previous
// for a grace of its own, 24h by default, and the leaked key worked again.)
//
// moto holds the secret and the function's configuration; the real
// bootstrap under the emulator serves that configuration (standIn); the
// CLI's logic runs in process, with the real SDK clients against moto.
func TestCLIChangeKeepsTheFunctionsGrace(t *testing.T) {
	const (
		secret = "keygate/grace"
		grace  = 3 * time.Second
	)
	oldA, newA, keyB := apikey.Generate(), apikey.Generate(), apikey.Generate()
	endpoint := moto.Start(t)
	ctx := context.Background()
	sm := moto.Client(endpoint)
	if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name:         aws.String(secret),
		SecretString: aws.String(`{"api_keys":{"a":"` + oldA + `","b":"` + keyB + `"}}`),
	}); err != nil {
		t.Fatalf("CreateSecret: %v", err)
	}
	lam := moto.Function(t, endpoint, "keygate", map[string]string{
		"API_KEY_SECRET_ID": secret, "AWS_ENDPOINT_URL_SECRETS_MANAGER": endpoint,
		"KEY_GRACE": grace.String(), "KEY_REFRESH": "1s",
	})
	fn := &standIn{t: t, lam: lam}
	fxs := loadEvents(t)
	rest := fxs[slices.IndexFunc(fxs, func(fx fixture) bool { return fx.Name == "rest-valid-key.json" })]
	with := func(key string) []byte { return bytes.ReplaceAll(rest.Payload, []byte(rightKey), []byte(key)) }
	until := func(what, key string, want int) {
		t.Helper()
		wait.Until(t, time.Minute, what, func() (bool, string) {
			got := fn.status(with(key))
			return got == want, "status " + itoa(got)
		})
	}
	for _, k := range []string{oldA, keyB} {
		if got := fn.status(with(k)); got != 200 {
			t.Fatalf("before the rotation: %d for a key in the secret", got)
		}
	}

	// The rotation: a new AWSCURRENT, whose AWSPREVIOUS holds a's old key.
	if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId: aws.String(secret), SecretString: aws.String(`{"api_keys":{"a":"` + newA + `","b":"` + keyB + `"}}`),
	}); err != nil {
		t.Fatalf("PutSecretValue: %v", err)
	}
	until("a's new key after the rotation", newA, 200)
	until("a's old key once the function's KEY_GRACE has passed", oldA, 401)

	// The operator's change: KEYGATE_FUNCTION set, KEY_GRACE not.
	shell := map[string]string{"API_KEY_SECRET_ID": secret, "KEYGATE_FUNCTION": "keygate"}
	var stdout, stderr strings.Builder
	code := keyadmin.Run(ctx, []string{"keys", "add", "c"}, keyadmin.Env{
		Stdout: &stdout, Stderr: &stderr,
		Getenv: func(k string) string { return shell[k] },
		NewClient: func(context.Context, string) (smapi.Client, string, error) {
			return sm, "us-east-1", nil
		},
		NewLambda: func(context.Context, string) (keyadmin.LambdaClient, error) { return lam, nil },
	})
	if code != keyadmin.ExitOK {
		t.Fatalf("keygate keys add c: exit %d\n%s", code, stderr.String())
	}
	keyC := strings.TrimSpace(stdout.String())
	if len(keyC) != apikey.GeneratedLength {
		t.Fatalf("keys add printed %q, want only the new key", stdout.String())
	}
	for _, k := range []string{oldA, newA, keyB} {
		if strings.Contains(stdout.String()+stderr.String(), k) {
			t.Error("the CLI printed a stored key")
		}
	}
	if strings.Contains(stderr.String(), "grace period is running") {
		t.Errorf("the CLI carried old keys past the function's grace:\n%s", stderr.String())
	}

	// The function takes c's key once it has read the new version (at its
	// next refresh, KEY_REFRESH 1s, or at the key's first request); from
	// then on its set is that version's.
	until("c's key after keys add", keyC, 200)
	for i := 0; i < 3; i++ {
		for _, tc := range []struct {
			what string
			key  string
			want int
		}{{"a's old key", oldA, 401}, {"a's new key", newA, 200}, {"b's key", keyB, 200}, {"c's key", keyC, 200}} {
			if got := fn.status(with(tc.key)); got != tc.want {
				t.Errorf("after keys add: %s got %d, want %d", tc.what, got, tc.want)
			}
		}
	}
	if fn.starts != 1 {
		t.Errorf("%d environments started, want 1: the CLI must not change the function's configuration", fn.starts)
	}
	rotCheckOutput(t, fn.fn, oldA, newA, keyB, keyC)
}
