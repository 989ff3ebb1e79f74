package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/test/internal/wait"

	"github.com/keygate/keygate/internal/testsupport/doortest"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/keygate/keygate/test/moto"
	"github.com/keygate/keygate/test/rie"
)

// apiEvents are the REST (payload 1.0) and HTTP API (payload 2.0) events
// with the right key and with a wrong one.
func apiEvents(t *testing.T) []fixture {
	t.Helper()
	fxs := loadEvents(t)
	var out []fixture
	for _, name := range []string{"rest-valid-key.json", "rest-wrong-key.json", "httpapi-valid-key.json", "httpapi-wrong-key.json"} {
		i := slices.IndexFunc(fxs, func(fx fixture) bool { return fx.Name == name })
		if i < 0 {
			t.Fatalf("events/%s is missing", name)
		}
		out = append(out, fxs[i])
	}
	return out
}

// checkEvents invokes each event and checks the answer; unavailable: the
// key store is down, so every event must get 503.
func checkEvents(t *testing.T, f *rie.Function, fxs []fixture, unavailable bool) {
	t.Helper()
	for _, fx := range fxs {
		t.Run(fx.Name, func(t *testing.T) {
			want := fx.Want.Status
			if unavailable {
				want = http.StatusServiceUnavailable
			}
			doortest.Check(t, fx.Door, fx.MultiValue, fx.Method, invoke(t, f, fx.Payload), want)
		})
	}
}

// waitForStatus invokes fx until it gets want: the key cache retries a
// failed load with backoff (at most 5s apart), and this is that retry
// seen from outside.
func waitForStatus(t *testing.T, f *rie.Function, fx fixture, want int) {
	t.Helper()
	wait.Until(t, 30*time.Second, "waiting for "+fx.Name+" to get "+itoa(want), func() (bool, string) {
		r := invoke(t, f, fx.Payload)
		return r.StatusCode == want, "status " + itoa(r.StatusCode)
	})
}

func motoEnv(endpoint, secretID string) []string {
	return append(moto.Env(endpoint), "API_KEY_SECRET_ID="+secretID)
}

// Issue 3: the real bootstrap, under the real emulator, reads its key from
// moto (a Secrets Manager emulator that is not keygate's own fake) through
// the SDK's standard endpoint setting.
func TestMotoSecretsManager(t *testing.T) {
	fxs := apiEvents(t)
	endpoint := moto.Start(t)
	sm := moto.Client(endpoint)
	ctx := context.Background()
	create := func(t *testing.T, name, value string) {
		t.Helper()
		if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
			Name: aws.String(name), SecretString: aws.String(value),
		}); err != nil {
			t.Fatalf("CreateSecret %s: %v", name, err)
		}
	}
	jsonSecret, err := json.Marshal(map[string]string{"api_key": rightKey})
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct{ name, secret, endpointVar string }{
		{"plain secret", rightKey, "AWS_ENDPOINT_URL_SECRETS_MANAGER"},
		{"JSON secret", string(jsonSecret), "AWS_ENDPOINT_URL_SECRETS_MANAGER"},
		// The SDK's service-agnostic variable works as well.
		{"plain secret, AWS_ENDPOINT_URL", rightKey, "AWS_ENDPOINT_URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := "keygate/" + strings.NewReplacer(" ", "-", ",", "").Replace(tc.name)
			create(t, id, tc.secret)
			f := startFunction(t, "API_KEY_SECRET_ID="+id, tc.endpointVar+"="+endpoint)
			checkEvents(t, f, fxs, false)
			if err := f.WaitLog(ctx, `"source":"secretsmanager"`); err != nil {
				t.Errorf("no key-load log line naming the source: %v", err)
			}
		})
	}

	t.Run("deleted then restored", func(t *testing.T) {
		const id = "keygate/lifecycle"
		create(t, id, rightKey)
		if _, err := sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{
			SecretId: aws.String(id), ForceDeleteWithoutRecovery: aws.Bool(true),
		}); err != nil {
			t.Fatalf("DeleteSecret: %v", err)
		}
		// A cold start without the secret fails closed, and says why.
		f := startFunction(t, motoEnv(endpoint, id)...)
		t.Run("missing", func(t *testing.T) { checkEvents(t, f, fxs, true) })
		for _, want := range []string{"key load failed", id, "was not found", "check the name or region"} {
			if err := f.WaitLog(ctx, want); err != nil {
				t.Errorf("the log does not name the cause: %v", err)
			}
		}
		// Restored, the same running environment recovers on its own.
		create(t, id, rightKey)
		waitForStatus(t, f, fxs[0], http.StatusOK)
		t.Run("restored", func(t *testing.T) { checkEvents(t, f, fxs, false) })
		if n := initCount(f); n != 1 {
			t.Errorf("%d cold starts, want 1: recovery must not need a restart", n)
		}
	})
}
