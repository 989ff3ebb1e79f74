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

// Source returns the key source the configuration names. It never fails:
// a configuration that cannot load keys yields a source whose every load
// fails with the reason, so the function answers 503 and logs why.
func (c Config) Source(ctx context.Context, newClient ClientFactory, log *slog.Logger) keycache.Source {
	switch {
	case c.SecretID != "":
		client, region, err := newClient(ctx)
		if err != nil {
			return keysource.Failing(fmt.Errorf("API_KEY_SECRET_ID is set but no Secrets Manager client can be built: %w", err))
		}
		return &keysource.SecretsManager{Client: client, SecretID: c.SecretID, Region: region, Grace: c.Grace}
	case c.APIKey != "":
		log.Warn("using the key from API_KEY: fine for local development, but production should keep the key in Secrets Manager (set API_KEY_SECRET_ID)")
		return keysource.NewStatic("env", c.APIKey)
	}
	return keysource.Failing(ErrNoKeyConfigured)
}

// Cache wraps src in a keycache with the configured timings.
func (c Config) Cache(src keycache.Source, log *slog.Logger) *keycache.Cache {
	refresh := c.Refresh
	if _, static := src.(*keysource.Static); static {
		refresh = 0
	}
	return keycache.New(src, keycache.Options{Refresh: refresh, LoadTimeout: c.LoadTimeout, Log: log})
}
