package e2e

import (
	"bytes"
	"context"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/keygate/keygate/internal/testsupport/doortest"
	"github.com/keygate/keygate/test/moto"
	"github.com/keygate/keygate/test/rie"
)

// standIn is Lambda, as far as a revoke is concerned: the function's
// configuration lives in an emulated Lambda API (moto), and one execution
// environment (the real bootstrap under the real emulator) serves it. When
// the configuration changes, the environment is replaced, and the next
// invocation is a cold start with the new variables, as Lambda does.
type standIn struct {
	t    *testing.T
	lam  *lambda.Client
	vars map[string]string
	fn   *rie.Function
	// starts counts the environments started.
	starts int
}

func (s *standIn) current() *rie.Function {
	s.t.Helper()
	cfg, err := s.lam.GetFunctionConfiguration(context.Background(), &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("keygate")})
	if err != nil {
		s.t.Fatalf("GetFunctionConfiguration: %v", err)
	}
	if s.fn != nil && maps.Equal(cfg.Environment.Variables, s.vars) {
		return s.fn
	}
	if s.fn != nil {
		s.fn.Stop()
	}
	s.vars = cfg.Environment.Variables
	var env []string
	for _, k := range slices.Sorted(maps.Keys(s.vars)) {
		env = append(env, k+"="+s.vars[k])
	}
	s.fn = startFunction(s.t, env...)
	s.starts++
	return s.fn
}

func (s *standIn) status(payload []byte) int {
	s.t.Helper()
	return invoke(s.t, s.current(), payload).StatusCode
}

// issue 11: `keygate keys revoke NAME --now` takes effect at once. Without
// --now, a warm environment accepts the revoked key until its next
// refresh; with it, the CLI changes the function's configuration, Lambda
// (the stand-in) replaces the environment, and the first request after the
// command is refused. The time from the command to that refusal is logged.
func TestRevokeNowTakesEffectAtOnce(t *testing.T) {
	const (
		keyPartner = "kgRevokeNowPartnerKey0123456789abcdef"
		keyOther   = "kgRevokeNowOtherKey0123456789abcdefgh"
		keyLegacy  = "kgRevokeNowLegacyKey0123456789abcdefg"
		secret     = "keygate/revoke-now"
	)
	endpoint := moto.Start(t)
	ctx := context.Background()
	sm := moto.Client(endpoint)
	if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name:         aws.String(secret),
		SecretString: aws.String(`{"api_keys":{"partner":"` + keyPartner + `","other":"` + keyOther + `","legacy":"` + keyLegacy + `"}}`),
	}); err != nil {
		t.Fatalf("CreateSecret: %v", err)
	}
	lam := moto.Function(t, endpoint, "keygate", map[string]string{
		"API_KEY_SECRET_ID": secret, "AWS_ENDPOINT_URL_SECRETS_MANAGER": endpoint, "KEY_REFRESH": "5m",
	})

	fn := &standIn{t: t, lam: lam}
	rest := loadEvents(t)[slices.IndexFunc(loadEvents(t), func(fx fixture) bool { return fx.Name == "rest-valid-key.json" })]
	with := func(key string) []byte { return bytes.ReplaceAll(rest.Payload, []byte(rightKey), []byte(key)) }
	for _, k := range []string{keyPartner, keyOther, keyLegacy} {
		if got := fn.status(with(k)); got != 200 {
			t.Fatalf("before any revoke: %d for a key in the secret", got)
		}
	}

	keygate := rie.Build(t, "./cmd/keygate", false)
	cli := func(args ...string) (string, error) {
		dir := t.TempDir()
		empty := filepath.Join(dir, "empty")
		os.WriteFile(empty, nil, 0o600)
		cmd := exec.Command(keygate, args...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "AWS_CONFIG_FILE=" + empty, "AWS_SHARED_CREDENTIALS_FILE=" + empty,
			"AWS_EC2_METADATA_DISABLED=true", "AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
			"AWS_ENDPOINT_URL=" + endpoint, "API_KEY_SECRET_ID=" + secret, "KEYGATE_FUNCTION=keygate"}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	// Without --now: the warm environment still takes the key.
	if out, err := cli("keys", "revoke", "legacy"); err != nil {
		t.Fatalf("revoke: %v\n%s", err, out)
	}
	if got := fn.status(with(keyLegacy)); got != 200 || fn.starts != 1 {
		t.Fatalf("a revoke without --now: %d on the warm environment (%d started), want 200 until its refresh", got, fn.starts)
	}

	// With --now: refused at the first request after the command.
	start := time.Now()
	out, err := cli("keys", "revoke", "partner", "--now")
	if err != nil {
		t.Fatalf("revoke --now: %v\n%s", err, out)
	}
	if !strings.Contains(out, "KEY_EPOCH set to") || strings.Contains(out, keyPartner) {
		t.Errorf("revoke --now said:\n%s", out)
	}
	a := invoke(t, fn.current(), with(keyPartner))
	took := time.Since(start)
	doortest.Check(t, "rest", true, "GET", a, 401)
	if fn.starts != 2 || len(fn.fn.InitDurations()) != 1 {
		t.Errorf("%d environments started, %d cold starts in the new one; want 2 and 1", fn.starts, len(fn.fn.InitDurations()))
	}
	if fn.vars["KEY_EPOCH"] == "" || fn.vars["KEY_REFRESH"] != "5m" {
		t.Errorf("the new environment's variables: %v", fn.vars)
	}
	for _, tc := range []struct {
		key  string
		want int
	}{{keyOther, 200}, {keyPartner, 401}, {keyLegacy, 401}} {
		if got := fn.status(with(tc.key)); got != tc.want {
			t.Errorf("after the restart: %d, want %d", got, tc.want)
		}
	}
	t.Logf("revoke --now: %s from the command to the first refused request (the CLI's writes and Lambda update, the environment replaced, one cold start)", took.Round(time.Millisecond))
}
