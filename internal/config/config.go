// Package config reads keygate's settings from the environment and wires
// the key source they describe. Both front ends (the Lambda bootstrap and
// the local server) share it, so they read the same variables the same way.
package config

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/keygate/keygate/internal/keycache"
	"github.com/keygate/keygate/internal/metrics"
)

// Config is the function's configuration.
type Config struct {
	// SecretID names the Secrets Manager secret (name or ARN).
	SecretID string
	// APIKey is a key (in any secret format) given directly, for local use.
	APIKey string
	// Refresh is how long a loaded key set is used before it is re-read.
	Refresh time.Duration
	// Grace is how long AWSPREVIOUS keys keep working after a rotation.
	Grace time.Duration
	// LoadTimeout bounds one read of the secret.
	LoadTimeout time.Duration
	// LogLevel is the minimum level logged.
	LogLevel slog.Level
	// MetricsNamespace is the CloudWatch namespace of the metrics the
	// Lambda function writes into its log lines (package metrics); ""
	// writes none.
	MetricsNamespace string
}

// Defaults, as documented in README.md and template.yaml.
// (KEY_LOAD_TIMEOUT's is keycache.DefaultLoadTimeout.)
const (
	DefaultRefresh          = 5 * time.Minute
	DefaultGrace            = 24 * time.Hour
	DefaultMetricsNamespace = "Keygate"
)

// FromEnv reads the configuration through getenv (os.Getenv in main).
// Every problem is reported at once, each naming the variable and the fix.
// getenv cannot tell an empty variable from an unset one: both are unset
// (METRICS_NAMESPACE takes its default). FromLookupEnv tells them apart.
func FromEnv(getenv func(string) string) (Config, error) {
	return FromLookupEnv(func(name string) (string, bool) {
		v := getenv(name)
		return v, v != ""
	})
}

// FromLookupEnv is FromEnv through lookup (os.LookupEnv in main), which
// tells an empty variable from an unset one: METRICS_NAMESPACE set empty
// turns the metrics off, unset it is DefaultMetricsNamespace.
func FromLookupEnv(lookup func(string) (string, bool)) (Config, error) {
	getenv := func(name string) string {
		v, _ := lookup(name)
		return v
	}
	c := Config{
		SecretID: strings.TrimSpace(getenv("API_KEY_SECRET_ID")),
		APIKey:   getenv("API_KEY"),
	}
	var errs []string
	dur := func(name string, def time.Duration, min time.Duration) time.Duration {
		v := strings.TrimSpace(getenv(name))
		if v == "" {
			return def
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < min {
			errs = append(errs, fmt.Sprintf("%s=%s is not a duration of at least %s (examples: 30s, 5m, 24h)", name, shown(v, durationShape), min))
			return def
		}
		return d
	}
	c.Refresh = dur("KEY_REFRESH", DefaultRefresh, 0)
	c.Grace = dur("KEY_GRACE", DefaultGrace, 0)
	c.LoadTimeout = dur("KEY_LOAD_TIMEOUT", keycache.DefaultLoadTimeout, 100*time.Millisecond)
	var err error
	if c.LogLevel, err = LogLevel(getenv); err != nil {
		errs = append(errs, err.Error())
	}
	if c.MetricsNamespace, err = metricsNamespace(lookup); err != nil {
		errs = append(errs, err.Error())
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("configuration: %s", strings.Join(errs, "; "))
	}
	return c, nil
}

// shown is how a message shows a setting's value: quoted only when it has
// the short shape the setting expects (a mistyped "300" or "verbose"), and
// otherwise only by its length. A key pasted into the wrong variable, alone
// or after other text ("5 minutes <key>"), must not reach a log; naming the
// variable is enough. The shapes are too short to hold a key (a generated
// one has 39 characters, the stack's first 40).
func shown(v string, expected func(string) bool) string {
	if !expected(v) {
		return fmt.Sprintf("(a value of %d characters, not shown: it could hold a key)", len(v))
	}
	return strconv.Quote(v)
}

// durationShape: a number, then at most two letters (300, -1h, 10ms).
func durationShape(v string) bool {
	v = strings.TrimPrefix(v, "-")
	i := 0
	for i < len(v) && (v[i] >= '0' && v[i] <= '9' || v[i] == '.') {
		i++
	}
	rest := strings.TrimPrefix(v[i:], "µ")
	return i > 0 && len(v) <= 12 && len(rest) <= 2 && strings.Trim(rest, "abcdefghijklmnopqrstuvwxyz") == ""
}

// levelShape: a word of at most eight letters (verbose, trace).
func levelShape(v string) bool {
	return len(v) <= 8 && strings.Trim(strings.ToLower(v), "abcdefghijklmnopqrstuvwxyz") == ""
}

// namespaceShape: at most twelve printable ASCII characters (Key gate!,
// AWS/Keygate), too short to hold a key.
func namespaceShape(v string) bool {
	return len(v) <= 12 && strings.IndexFunc(v, func(r rune) bool { return r < 0x20 || r > 0x7e }) < 0
}

// metricsNamespace reads METRICS_NAMESPACE: unset, the default; empty (or
// blank), no metrics. On an error it returns the default: the function
// then fails closed, and its metrics must say so where the alarms look.
func metricsNamespace(lookup func(string) (string, bool)) (string, error) {
	v, set := lookup("METRICS_NAMESPACE")
	if !set {
		return DefaultMetricsNamespace, nil
	}
	v = strings.TrimSpace(v)
	if v == "" {
		return "", nil
	}
	if why := metrics.CheckNamespace(v); why != "" {
		return DefaultMetricsNamespace, fmt.Errorf("METRICS_NAMESPACE=%s is not a CloudWatch namespace: %s (use 1 to 255 of A-Z, a-z, 0-9, space and . - _ / # :, for example Keygate or MyTeam/Keygate; set it empty to write no metrics)", shown(v, namespaceShape), why)
	}
	return v, nil
}

// LogLevel reads LOG_LEVEL: debug, info (the default), warn or error. On an
// error it also returns info, so a binary can log the error and go on.
func LogLevel(getenv func(string) string) (slog.Level, error) {
	v := strings.TrimSpace(getenv("LOG_LEVEL"))
	var level slog.Level
	if v == "" {
		return slog.LevelInfo, nil
	}
	if err := level.UnmarshalText([]byte(v)); err != nil {
		return slog.LevelInfo, fmt.Errorf("LOG_LEVEL=%s is not one of debug, info, warn, error", shown(v, levelShape))
	}
	return level, nil
}

// NewLogger returns the JSON logger every keygate binary uses.
func NewLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}

// RouteStdLog sends the standard logger's lines through logger as errors,
// so that everything a binary prints is one JSON object per line:
// aws-lambda-go reports a failed invocation, a recovered panic and a
// broken runtime API with the standard log package. (slog.SetDefault would
// route them too, but at level INFO: these lines report failures.)
func RouteStdLog(logger *slog.Logger) {
	log.SetFlags(0)
	log.SetOutput(stdLogWriter{logger})
}

type stdLogWriter struct{ log *slog.Logger }

func (w stdLogWriter) Write(p []byte) (int, error) {
	w.log.LogAttrs(context.Background(), slog.LevelError, strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
