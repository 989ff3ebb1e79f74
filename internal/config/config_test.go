package config_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

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
	want := config.Config{Refresh: 5 * time.Minute, Grace: 24 * time.Hour, LoadTimeout: 3 * time.Second, LogLevel: slog.LevelInfo}
	if c != want {
		t.Errorf("defaults = %+v, want %+v", c, want)
	}
	if config.DefaultRefresh != want.Refresh || config.DefaultGrace != want.Grace || config.DefaultLoadTimeout != want.LoadTimeout {
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
		{"KEY_REFRESH not a duration", map[string]string{"KEY_REFRESH": "5 minutes"}, []string{`KEY_REFRESH="5 minutes"`}},
		{"KEY_REFRESH without unit", map[string]string{"KEY_REFRESH": "300"}, []string{`KEY_REFRESH="300"`}},
		{"KEY_GRACE negative", map[string]string{"KEY_GRACE": "-1h"}, []string{`KEY_GRACE="-1h"`}},
		{"KEY_LOAD_TIMEOUT too short", map[string]string{"KEY_LOAD_TIMEOUT": "10ms"}, []string{`KEY_LOAD_TIMEOUT="10ms"`, "at least 100ms"}},
		{"KEY_LOAD_TIMEOUT zero", map[string]string{"KEY_LOAD_TIMEOUT": "0"}, []string{`KEY_LOAD_TIMEOUT="0"`}},
		{"LOG_LEVEL unknown", map[string]string{"LOG_LEVEL": "verbose"}, []string{`LOG_LEVEL="verbose"`, "debug, info, warn, error"}},
		{"all at once", map[string]string{"KEY_REFRESH": "5 minutes", "KEY_GRACE": "1d", "KEY_LOAD_TIMEOUT": "1ms", "LOG_LEVEL": "loud"},
			[]string{`KEY_REFRESH="5 minutes"`, `KEY_GRACE="1d"`, `KEY_LOAD_TIMEOUT="1ms"`, `LOG_LEVEL="loud"`}},
		{"a key pasted into KEY_REFRESH is not shown", map[string]string{"KEY_REFRESH": "kgPastedKey0123456789abcdefABCDEF"},
			[]string{"KEY_REFRESH=(a value of 33 characters, not shown: it could be a key)"}},
		{"a key pasted into LOG_LEVEL is not shown", map[string]string{"LOG_LEVEL": "kgPastedKey0123456789abcdefABCDEF"},
			[]string{"LOG_LEVEL=(a value of 33 characters, not shown: it could be a key)"}},
		{"a word in KEY_GRACE is not shown", map[string]string{"KEY_GRACE": "soon"},
			[]string{"KEY_GRACE=(a value of 4 characters, not shown"}},
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
			if !strings.Contains(err.Error(), "examples") && !strings.Contains(err.Error(), "LOG_LEVEL") {
				t.Errorf("error %q gives no example of a valid value", err)
			}
		})
	}
}

// fakeSM is a GetSecretValueAPI that must never be called by these tests.
type fakeSM struct{ keysource.GetSecretValueAPI }

func (fakeSM) GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	return nil, errors.New("not in this test")
}

func TestSource(t *testing.T) {
	const key = "kgConfigKey0123456789"
	errFactory := errors.New("no AWS region is configured for Secrets Manager: set AWS_REGION")
	client := fakeSM{}
	tests := []struct {
		name       string
		cfg        config.Config
		factoryErr error
		// check inspects the source; calls is how often the factory ran.
		wantCalls int
		check     func(t *testing.T, src keycache.Source)
		warns     bool
	}{
		{"secret id", config.Config{SecretID: "prod/keygate", Grace: time.Hour}, nil, 1, func(t *testing.T, src keycache.Source) {
			sm, ok := src.(*keysource.SecretsManager)
			if !ok {
				t.Fatalf("source %T, want *keysource.SecretsManager", src)
			}
			if sm.SecretID != "prod/keygate" || sm.Region != "eu-west-1" || sm.Grace != time.Hour || sm.Client != client {
				t.Errorf("source = %+v", sm)
			}
		}, false},
		{"secret id wins over API_KEY", config.Config{SecretID: "prod/keygate", APIKey: key}, nil, 1, func(t *testing.T, src keycache.Source) {
			if _, ok := src.(*keysource.SecretsManager); !ok {
				t.Fatalf("source %T, want *keysource.SecretsManager", src)
			}
		}, false},
		{"client cannot be built", config.Config{SecretID: "prod/keygate", APIKey: key}, errFactory, 1, func(t *testing.T, src keycache.Source) {
			_, err := src.Load(context.Background())
			if !errors.Is(err, errFactory) || !strings.HasPrefix(err.Error(), "API_KEY_SECRET_ID is set but") {
				t.Errorf("Load = %v, want the factory's error, saying which setting needs it", err)
			}
		}, false},
		{"API_KEY", config.Config{APIKey: key}, nil, 0, func(t *testing.T, src keycache.Source) {
			snap, err := src.Load(context.Background())
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if _, res := snap.Set.Match(key, time.Now()); res != apikey.OK || snap.Source != "env" {
				t.Errorf("API_KEY source: match %v, source %q", res, snap.Source)
			}
		}, true},
		{"API_KEY invalid", config.Config{APIKey: "kg key with spaces"}, nil, 0, func(t *testing.T, src keycache.Source) {
			_, err := src.Load(context.Background())
			if err == nil || !strings.Contains(err.Error(), "API_KEY") || strings.Contains(err.Error(), "kg key with spaces") {
				t.Errorf("Load = %v, want an API_KEY error without the value", err)
			}
		}, true},
		{"neither", config.Config{}, nil, 0, func(t *testing.T, src keycache.Source) {
			_, err := src.Load(context.Background())
			if !errors.Is(err, config.ErrNoKeyConfigured) || !strings.Contains(err.Error(), "neither API_KEY_SECRET_ID nor API_KEY is set") {
				t.Errorf("Load = %v, want ErrNoKeyConfigured", err)
			}
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			factory := func(context.Context) (keysource.GetSecretValueAPI, string, error) {
				calls++
				if tt.factoryErr != nil {
					return nil, "", tt.factoryErr
				}
				return client, "eu-west-1", nil
			}
			var logs bytes.Buffer
			src := tt.cfg.Source(context.Background(), factory, slog.New(slog.NewJSONHandler(&logs, nil)))
			if calls != tt.wantCalls {
				t.Errorf("client factory called %d times, want %d", calls, tt.wantCalls)
			}
			tt.check(t, src)
			warned := strings.Contains(logs.String(), `"level":"WARN"`) && strings.Contains(logs.String(), "API_KEY_SECRET_ID")
			if warned != tt.warns {
				t.Errorf("production warning logged %v, want %v: %s", warned, tt.warns, logs.String())
			}
			if strings.Contains(logs.String(), key) {
				t.Errorf("the key reached the log: %s", logs.String())
			}
		})
	}
}

// countingSource counts loads; its loads take a moment so that a 1ns
// refresh interval has surely passed by the next call.
type countingSource struct {
	mu    sync.Mutex
	calls int
}

func (s *countingSource) Load(context.Context) (keycache.Snapshot, error) {
	s.mu.Lock()
	s.calls++
	s.mu.Unlock()
	time.Sleep(2 * time.Millisecond)
	return keycache.Snapshot{Set: apikey.NewSet(nil), Source: "count"}, nil
}

func TestCache(t *testing.T) {
	cfg := config.Config{Refresh: time.Nanosecond, LoadTimeout: 100 * time.Millisecond}
	log := slog.New(slog.DiscardHandler)

	// A Secrets Manager-like source is refreshed at the configured interval.
	cs := &countingSource{}
	c := cfg.Cache(cs, log)
	for range 3 {
		if _, err := c.Keys(context.Background()); err != nil {
			t.Fatalf("Keys: %v", err)
		}
	}
	if cs.calls != 3 {
		t.Errorf("refreshing source loaded %d times in 3 calls 2ms apart with a 1ns refresh, want 3", cs.calls)
	}

	// A static key never changes: it is loaded once whatever Refresh says.
	var logs bytes.Buffer
	c = cfg.Cache(keysource.NewStatic("env", "kgStaticKey"), slog.New(slog.NewJSONHandler(&logs, nil)))
	for range 3 {
		if _, err := c.Keys(context.Background()); err != nil {
			t.Fatalf("Keys: %v", err)
		}
		time.Sleep(time.Millisecond)
	}
	if n := strings.Count(logs.String(), "key set loaded"); n != 1 {
		t.Errorf("static source loaded %d times, want 1", n)
	}
}

func TestCacheLoadTimeout(t *testing.T) {
	cfg := config.Config{LoadTimeout: 5 * time.Second}
	var got time.Duration
	src := sourceFunc(func(ctx context.Context) (keycache.Snapshot, error) {
		if dl, ok := ctx.Deadline(); ok {
			got = time.Until(dl)
		}
		return keycache.Snapshot{Set: apikey.NewSet(nil)}, nil
	})
	if err := cfg.Cache(src, slog.New(slog.DiscardHandler)).Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got <= 0 || got > cfg.LoadTimeout {
		t.Errorf("load deadline in %v, want within KEY_LOAD_TIMEOUT %v", got, cfg.LoadTimeout)
	}
}

type sourceFunc func(context.Context) (keycache.Snapshot, error)

func (f sourceFunc) Load(ctx context.Context) (keycache.Snapshot, error) { return f(ctx) }

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
