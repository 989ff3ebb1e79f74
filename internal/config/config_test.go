package config_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/keygate/keygate/internal/apikey"
	"github.com/keygate/keygate/internal/config"
	"github.com/keygate/keygate/internal/keycache"
	"github.com/keygate/keygate/internal/keysource"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestFromEnvDefaults(t *testing.T) {
	c, err := config.FromEnv(env(nil))
	if err != nil {
		t.Fatalf("FromEnv: %v", err)
	}
	want := config.Config{Refresh: 5 * time.Minute, Grace: 24 * time.Hour, LoadTimeout: 3 * time.Second, LogLevel: slog.LevelInfo, MetricsNamespace: "Keygate"}
	if c != want {
		t.Errorf("defaults = %+v, want %+v", c, want)
	}
	if config.DefaultRefresh != want.Refresh || config.DefaultGrace != want.Grace || keycache.DefaultLoadTimeout != want.LoadTimeout || config.DefaultMetricsNamespace != want.MetricsNamespace {
		t.Error("exported defaults differ from the documented ones")
	}
}

func TestFromEnvEachVariable(t *testing.T) {
	tests := []struct {
		name  string
		env   map[string]string
		check func(c config.Config) bool
	}{
		{"API_KEY_SECRET_ID", map[string]string{"API_KEY_SECRET_ID": "prod/keygate"}, func(c config.Config) bool { return c.SecretID == "prod/keygate" }},
		{"API_KEY_SECRET_ID ARN, trimmed", map[string]string{"API_KEY_SECRET_ID": " arn:aws:secretsmanager:us-east-1:123456789012:secret:k-AbCdEf\n"},
			func(c config.Config) bool {
				return c.SecretID == "arn:aws:secretsmanager:us-east-1:123456789012:secret:k-AbCdEf"
			}},
		{"API_KEY_SECRET_ID whitespace is unset", map[string]string{"API_KEY_SECRET_ID": "  "}, func(c config.Config) bool { return c.SecretID == "" }},
		{"API_KEY", map[string]string{"API_KEY": "kgLocalKey"}, func(c config.Config) bool { return c.APIKey == "kgLocalKey" }},
		{"KEY_REFRESH", map[string]string{"KEY_REFRESH": "30s"}, func(c config.Config) bool { return c.Refresh == 30*time.Second }},
		{"KEY_REFRESH 0", map[string]string{"KEY_REFRESH": "0"}, func(c config.Config) bool { return c.Refresh == 0 }},
		{"KEY_GRACE", map[string]string{"KEY_GRACE": "1h30m"}, func(c config.Config) bool { return c.Grace == 90*time.Minute }},
		{"KEY_GRACE 0 turns it off", map[string]string{"KEY_GRACE": "0s"}, func(c config.Config) bool { return c.Grace == 0 }},
		{"KEY_LOAD_TIMEOUT", map[string]string{"KEY_LOAD_TIMEOUT": "500ms"}, func(c config.Config) bool { return c.LoadTimeout == 500*time.Millisecond }},
		{"KEY_LOAD_TIMEOUT minimum", map[string]string{"KEY_LOAD_TIMEOUT": "100ms"}, func(c config.Config) bool { return c.LoadTimeout == 100*time.Millisecond }},
		{"durations trimmed", map[string]string{"KEY_REFRESH": " 1m "}, func(c config.Config) bool { return c.Refresh == time.Minute }},
		{"LOG_LEVEL debug", map[string]string{"LOG_LEVEL": "debug"}, func(c config.Config) bool { return c.LogLevel == slog.LevelDebug }},
		{"LOG_LEVEL upper case", map[string]string{"LOG_LEVEL": "WARN"}, func(c config.Config) bool { return c.LogLevel == slog.LevelWarn }},
		{"LOG_LEVEL error", map[string]string{"LOG_LEVEL": "error"}, func(c config.Config) bool { return c.LogLevel == slog.LevelError }},
		{"METRICS_NAMESPACE", map[string]string{"METRICS_NAMESPACE": "MyTeam/Keygate"}, func(c config.Config) bool { return c.MetricsNamespace == "MyTeam/Keygate" }},
		{"METRICS_NAMESPACE every allowed character", map[string]string{"METRICS_NAMESPACE": "Az09 .-_/#:"}, func(c config.Config) bool { return c.MetricsNamespace == "Az09 .-_/#:" }},
		{"METRICS_NAMESPACE trimmed", map[string]string{"METRICS_NAMESPACE": " Keygate/prod\n"}, func(c config.Config) bool { return c.MetricsNamespace == "Keygate/prod" }},
		{"METRICS_NAMESPACE of 255 characters", map[string]string{"METRICS_NAMESPACE": strings.Repeat("k", 255)}, func(c config.Config) bool { return len(c.MetricsNamespace) == 255 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := config.FromEnv(env(tt.env))
			if err != nil {
				t.Fatalf("FromEnv: %v", err)
			}
			if !tt.check(c) {
				t.Errorf("FromEnv(%v) = %+v", tt.env, c)
			}
		})
	}
}

func TestFromEnvInvalid(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		says []string
	}{
		{"KEY_REFRESH without unit", map[string]string{"KEY_REFRESH": "300"}, []string{`KEY_REFRESH="300"`}},
		{"KEY_GRACE negative", map[string]string{"KEY_GRACE": "-1h"}, []string{`KEY_GRACE="-1h"`}},
		{"KEY_LOAD_TIMEOUT too short", map[string]string{"KEY_LOAD_TIMEOUT": "10ms"}, []string{`KEY_LOAD_TIMEOUT="10ms"`, "at least 100ms"}},
		{"KEY_LOAD_TIMEOUT zero", map[string]string{"KEY_LOAD_TIMEOUT": "0"}, []string{`KEY_LOAD_TIMEOUT="0"`}},
		{"LOG_LEVEL unknown", map[string]string{"LOG_LEVEL": "verbose"}, []string{`LOG_LEVEL="verbose"`, "debug, info, warn, error"}},
		{"KEY_REFRESH in words is not shown", map[string]string{"KEY_REFRESH": "5 minutes"}, []string{"KEY_REFRESH=(a value of 9 characters, not shown"}},
		{"all at once", map[string]string{"KEY_REFRESH": "5 min", "KEY_GRACE": "1d", "KEY_LOAD_TIMEOUT": "1ms", "LOG_LEVEL": "loud"},
			[]string{"KEY_REFRESH=(a value of 5 characters", `KEY_GRACE="1d"`, `KEY_LOAD_TIMEOUT="1ms"`, `LOG_LEVEL="loud"`}},
		// A key after other text is a value that could hold a key: the
		// variable is named, the value never shown (red team, issue 18).
		{"a key after words in KEY_REFRESH is not shown", map[string]string{"KEY_REFRESH": "5 minutes kgPastedKey0123456789abcdefABCDEF"},
			[]string{"KEY_REFRESH=(a value of 43 characters, not shown: it could hold a key)"}},
		{"a key after words in LOG_LEVEL is not shown", map[string]string{"LOG_LEVEL": "debug kgPastedKey0123456789abcdefABCDEF"},
			[]string{"LOG_LEVEL=(a value of 39 characters, not shown: it could hold a key)"}},
		{"a key pasted into KEY_REFRESH is not shown", map[string]string{"KEY_REFRESH": "kgPastedKey0123456789abcdefABCDEF"},
			[]string{"KEY_REFRESH=(a value of 33 characters, not shown: it could hold a key)"}},
		{"a key pasted into LOG_LEVEL is not shown", map[string]string{"LOG_LEVEL": "kgPastedKey0123456789abcdefABCDEF"},
			[]string{"LOG_LEVEL=(a value of 33 characters, not shown: it could hold a key)"}},
		{"a word in KEY_GRACE is not shown", map[string]string{"KEY_GRACE": "soon"},
			[]string{"KEY_GRACE=(a value of 4 characters, not shown"}},
		{"METRICS_NAMESPACE with a character CloudWatch refuses", map[string]string{"METRICS_NAMESPACE": "Key gate!"},
			[]string{`METRICS_NAMESPACE="Key gate!"`, "a character other than", "for example Keygate", "set it empty to write no metrics"}},
		{"METRICS_NAMESPACE of AWS", map[string]string{"METRICS_NAMESPACE": "AWS/Keygate"},
			[]string{`METRICS_NAMESPACE="AWS/Keygate"`, "starts with AWS/"}},
		{"METRICS_NAMESPACE starting with a colon", map[string]string{"METRICS_NAMESPACE": ":Keygate"},
			[]string{`METRICS_NAMESPACE=":Keygate"`, "starts with a colon"}},
		{"METRICS_NAMESPACE too long", map[string]string{"METRICS_NAMESPACE": strings.Repeat("k", 256)},
			[]string{"METRICS_NAMESPACE=(a value of 256 characters, not shown", "longer than 255"}},
		{"a key in METRICS_NAMESPACE is not shown", map[string]string{"METRICS_NAMESPACE": "Keygate kgPastedKey0123456789abcdefABCDEF!"},
			[]string{"METRICS_NAMESPACE=(a value of 42 characters, not shown: it could hold a key)"}},
		{"a key with a control character in METRICS_NAMESPACE is not shown", map[string]string{"METRICS_NAMESPACE": "kgPastedKey\x00"},
			[]string{"METRICS_NAMESPACE=(a value of 12 characters, not shown"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.FromEnv(env(tt.env))
			if err == nil {
				t.Fatal("FromEnv accepted it")
			}
			for _, s := range tt.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
			if strings.Contains(err.Error(), "kgPastedKey") {
				t.Errorf("error %q holds the pasted key", err)
			}
			if !strings.Contains(err.Error(), "example") && !strings.Contains(err.Error(), "LOG_LEVEL") {
				t.Errorf("error %q gives no example of a valid value", err)
			}
		})
	}
}

// METRICS_NAMESPACE: unset, the default; set empty or blank, no metrics;
// an invalid one is an error, and the default still, so that the function
// that fails closed on it says so in its metrics. Through FromEnv's
// getenv, empty is unset.
func TestMetricsNamespace(t *testing.T) {
	lookup := func(m map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	tests := []struct {
		name    string
		env     map[string]string
		want    string
		invalid bool
	}{
		{"unset", nil, "Keygate", false},
		{"empty", map[string]string{"METRICS_NAMESPACE": ""}, "", false},
		{"blank", map[string]string{"METRICS_NAMESPACE": "  "}, "", false},
		{"set", map[string]string{"METRICS_NAMESPACE": "Keygate/staging"}, "Keygate/staging", false},
		{"invalid", map[string]string{"METRICS_NAMESPACE": "Keygate!"}, "Keygate", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := config.FromLookupEnv(lookup(tt.env))
			if (err != nil) != tt.invalid || c.MetricsNamespace != tt.want {
				t.Errorf("FromLookupEnv(%v) = %q, %v; want %q, error %v", tt.env, c.MetricsNamespace, err, tt.want, tt.invalid)
			}
		})
	}
	if c, _ := config.FromEnv(env(map[string]string{"METRICS_NAMESPACE": ""})); c.MetricsNamespace != "Keygate" {
		t.Errorf("FromEnv with an empty METRICS_NAMESPACE = %q, want the default (getenv cannot tell it from unset)", c.MetricsNamespace)
	}
}

// fakeSM is a GetSecretValueAPI over versions (stage → secret string),
// created at created; it records the calls.
type fakeSM struct {
	mu       sync.Mutex
	versions map[string]string
	created  time.Time
	calls    []string // "secret id/stage"
	deadline time.Duration
}

func (f *fakeSM) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, *in.SecretId+"/"+*in.VersionStage)
	if dl, ok := ctx.Deadline(); ok {
		f.deadline = time.Until(dl)
	}
	v, ok := f.versions[*in.VersionStage]
	if !ok {
		return nil, &types.ResourceNotFoundException{Message: aws.String("Secrets Manager can't find the specified secret.")}
	}
	return &secretsmanager.GetSecretValueOutput{SecretString: &v, VersionId: aws.String("v-" + *in.VersionStage), CreatedDate: &f.created}, nil
}

func TestKeys(t *testing.T) {
	const (
		key    = "kgConfigKey0123456789"
		oldKey = "kgConfigOldKey0123456789"
	)
	errFactory := errors.New("no AWS region is configured for Secrets Manager: set AWS_REGION")
	rotated := map[string]string{"AWSCURRENT": key, "AWSPREVIOUS": oldKey}
	tests := []struct {
		name       string
		cfg        config.Config
		versions   map[string]string
		factoryErr error
		// calls is how often the factory ran; accepts, what the cache
		// accepts; loadErr, what its load fails with.
		calls   int
		accepts []string
		loadErr string
		warns   bool
	}{
		// The secret, its grace (a rotation 30 minutes ago), the client.
		{"secret id", config.Config{SecretID: "prod/keygate", Grace: time.Hour, Refresh: time.Hour}, rotated, nil, 1, []string{key, oldKey}, "", false},
		{"secret id, grace over", config.Config{SecretID: "prod/keygate", Grace: time.Minute, Refresh: time.Hour}, rotated, nil, 1, []string{key}, "", false},
		// The region the client was built for names where the secret
		// was not found.
		{"secret id, not found", config.Config{SecretID: "prod/keygate"}, nil, nil, 1, nil, `"prod/keygate" (AWSCURRENT) was not found in eu-west-1`, false},
		{"secret id wins over API_KEY", config.Config{SecretID: "prod/keygate", APIKey: oldKey}, map[string]string{"AWSCURRENT": key}, nil, 1, []string{key}, "", false},
		{"client cannot be built", config.Config{SecretID: "prod/keygate", APIKey: key}, nil, errFactory, 1, nil, "API_KEY_SECRET_ID is set but no Secrets Manager client can be built: " + errFactory.Error(), false},
		{"API_KEY", config.Config{APIKey: key}, nil, nil, 0, []string{key}, "", true},
		{"API_KEY invalid", config.Config{APIKey: "kg key with spaces"}, nil, nil, 0, nil, "API_KEY is set but", true},
		{"neither", config.Config{}, nil, nil, 0, nil, "neither API_KEY_SECRET_ID nor API_KEY is set", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sm := &fakeSM{versions: tt.versions, created: time.Now().Add(-30 * time.Minute)}
			calls := 0
			factory := func(context.Context) (keysource.GetSecretValueAPI, string, error) {
				calls++
				if tt.factoryErr != nil {
					return nil, "", tt.factoryErr
				}
				return sm, "eu-west-1", nil
			}
			var logs bytes.Buffer
			ctx := context.Background()
			keys := tt.cfg.Keys(ctx, factory, slog.New(slog.NewJSONHandler(&logs, nil)))
			if calls != tt.calls {
				t.Errorf("client factory called %d times, want %d", calls, tt.calls)
			}
			err := keys.Load(ctx)
			if tt.loadErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.loadErr) || strings.Contains(err.Error(), "kg key with spaces") {
					t.Errorf("Load = %v, want an error saying %q (and no value)", err, tt.loadErr)
				}
				if errors.Is(err, errFactory) != (tt.factoryErr != nil) {
					t.Errorf("Load = %v: the factory's error is not wrapped", err)
				}
			} else if err != nil {
				t.Fatalf("Load: %v", err)
			}
			for _, k := range []string{key, oldKey} {
				_, res, _ := keys.Match(ctx, k)
				if want := slices.Contains(tt.accepts, k); (res == apikey.OK) != want {
					t.Errorf("%s: %v, want accepted %v", k, res, want)
				}
			}
			for _, c := range sm.calls {
				if !strings.HasPrefix(c, "prod/keygate/") {
					t.Errorf("read %s, want the configured secret", c)
				}
			}
			warned := strings.Contains(logs.String(), `"level":"WARN"`) && strings.Contains(logs.String(), "API_KEY_SECRET_ID")
			if warned != tt.warns {
				t.Errorf("production warning logged %v, want %v: %s", warned, tt.warns, logs.String())
			}
			if strings.Contains(logs.String(), key) || strings.Contains(logs.String(), oldKey) {
				t.Errorf("a key reached the log: %s", logs.String())
			}
		})
	}
}

// The secret is re-read at KEY_REFRESH; a key from API_KEY, which cannot
// change, never is.
func TestKeysRefresh(t *testing.T) {
	ctx := context.Background()
	cfg := config.Config{SecretID: "prod/keygate", Refresh: time.Nanosecond, LoadTimeout: 100 * time.Millisecond}
	sm := &fakeSM{versions: map[string]string{"AWSCURRENT": "kgConfigKey0123456789"}}
	keys := cfg.Keys(ctx, func(context.Context) (keysource.GetSecretValueAPI, string, error) { return sm, "eu-west-1", nil }, slog.New(slog.DiscardHandler))
	for range 3 {
		time.Sleep(time.Millisecond) // a 1ns refresh interval has surely passed
		if _, err := keys.Keys(ctx); err != nil {
			t.Fatalf("Keys: %v", err)
		}
	}
	if len(sm.calls) != 3 {
		t.Errorf("the secret was read %d times in 3 calls with a 1ns refresh, want 3", len(sm.calls))
	}

	var logs bytes.Buffer
	cfg = config.Config{APIKey: "kgStaticKey", Refresh: time.Nanosecond}
	keys = cfg.Keys(ctx, nil, slog.New(slog.NewJSONHandler(&logs, nil)))
	for range 3 {
		time.Sleep(time.Millisecond)
		if _, err := keys.Keys(ctx); err != nil {
			t.Fatalf("Keys: %v", err)
		}
	}
	if n := strings.Count(logs.String(), "key set loaded"); n != 1 {
		t.Errorf("API_KEY loaded %d times, want 1", n)
	}
}

func TestKeysLoadTimeout(t *testing.T) {
	cfg := config.Config{SecretID: "prod/keygate", LoadTimeout: 5 * time.Second}
	sm := &fakeSM{versions: map[string]string{"AWSCURRENT": "kgConfigKey0123456789"}}
	keys := cfg.Keys(context.Background(), func(context.Context) (keysource.GetSecretValueAPI, string, error) { return sm, "", nil }, slog.New(slog.DiscardHandler))
	if err := keys.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	if sm.deadline <= 0 || sm.deadline > cfg.LoadTimeout {
		t.Errorf("load deadline in %v, want within KEY_LOAD_TIMEOUT %v", sm.deadline, cfg.LoadTimeout)
	}
}

func TestNewLogger(t *testing.T) {
	var buf bytes.Buffer
	log := config.NewLogger(&buf, slog.LevelWarn)
	log.Info("hidden")
	log.Warn("shown", "k", "v")
	out := strings.TrimSpace(buf.String())
	if strings.Contains(out, "hidden") || strings.Count(out, "\n") != 0 {
		t.Errorf("level not applied: %q", out)
	}
	if !strings.HasPrefix(out, "{") || !strings.Contains(out, `"msg":"shown"`) || !strings.Contains(out, `"k":"v"`) {
		t.Errorf("not a JSON line: %q", out)
	}
}

// What aws-lambda-go prints with the standard log package (a handler's
// panic, a failed runtime API call) comes out as one JSON error record.
func TestRouteStdLog(t *testing.T) {
	flags, out := log.Flags(), log.Writer()
	t.Cleanup(func() { log.SetFlags(flags); log.SetOutput(out) })

	var buf bytes.Buffer
	config.RouteStdLog(config.NewLogger(&buf, slog.LevelInfo))
	log.Printf("runtime API client failed to close %s response body: %v", "/next", errors.New("boom"))
	log.Print("no newline at the end")

	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	want := []string{"runtime API client failed to close /next response body: boom", "no newline at the end"}
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(want), buf.String())
	}
	for i, line := range lines {
		var rec struct{ Level, Msg string }
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("line %d is not JSON: %v\n%s", i, err, line)
		}
		if rec.Level != "ERROR" || rec.Msg != want[i] {
			t.Errorf("line %d = level %q msg %q, want ERROR %q", i, rec.Level, rec.Msg, want[i])
		}
	}
}
