package config

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/keygate/keygate/internal/keycache"
	"github.com/keygate/keygate/internal/keysource"
)

// ErrNoKeyConfigured is the fail-closed answer to an empty configuration.
var ErrNoKeyConfigured = errors.New("neither API_KEY_SECRET_ID nor API_KEY is set: set API_KEY_SECRET_ID to the Secrets Manager secret's name or ARN (or API_KEY for local development); every request gets 503 until then")

// ClientFactory builds the Secrets Manager client; main passes one in so
// the Lambda bootstrap can use a lean client and tests a fake endpoint.
type ClientFactory func(ctx context.Context) (keysource.GetSecretValueAPI, string, error)

// Keys returns the key cache the configuration describes, not yet loaded.
// It never fails: a configuration that cannot load keys yields a cache
// whose every load fails with the reason, so the function answers 503 and
// logs why.
func (c Config) Keys(ctx context.Context, newClient ClientFactory, log *slog.Logger) *keycache.Cache {
	opt := keycache.Options{Refresh: c.Refresh, LoadTimeout: c.LoadTimeout, Log: log}
	switch {
	case c.SecretID != "":
		client, region, err := newClient(ctx)
		if err != nil {
			return Failing(fmt.Errorf("API_KEY_SECRET_ID is set but no Secrets Manager client can be built: %w", err), log)
		}
		return keycache.New(&keysource.SecretsManager{Client: client, SecretID: c.SecretID, Region: region, Grace: c.Grace}, opt)
	case c.APIKey != "":
		log.Warn("using the key from API_KEY: fine for local development, but production should keep the key in Secrets Manager (set API_KEY_SECRET_ID)")
		// A key given in the environment cannot change: never re-read.
		opt.Refresh = 0
		return keycache.New(keysource.NewStatic("env", c.APIKey), opt)
	}
	return Failing(ErrNoKeyConfigured, log)
}

// Failing returns a cache whose every load fails with err: the fail-closed
// stand-in for a configuration that cannot load keys (everything gets 503,
// and the log says why).
func Failing(err error, log *slog.Logger) *keycache.Cache {
	return keycache.New(keysource.Failing(err), keycache.Options{Log: log})
}
