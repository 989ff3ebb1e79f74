// Package keysource loads API key sets for keycache: from AWS Secrets
// Manager in production, or from a value given in the environment for local
// development.
package keysource

import (
	"context"
	"fmt"

	"github.com/keygate/keygate/internal/apikey"
	"github.com/keygate/keygate/internal/keycache"
)

var (
	_ keycache.Source = (*Static)(nil)
	_ keycache.Source = (*SecretsManager)(nil)
)

// Static serves a key given directly (API_KEY). A value that does not parse
// is kept as an error, so every load fails and the function fails closed.
type Static struct {
	name string
	set  *apikey.Set
	err  error
}

// NewStatic parses value in any secret format; name says where it came from
// ("env" for API_KEY, "generated" for make run's session key).
func NewStatic(name, value string) *Static {
	doc, err := apikey.Parse(value)
	if err != nil {
		return &Static{name: name, err: fmt.Errorf("API_KEY is set but %w", err)}
	}
	return &Static{name: name, set: apikey.NewSet(doc.Entries(""))}
}

// Load returns the parsed key set.
func (s *Static) Load(context.Context) (keycache.Snapshot, error) {
	if s.err != nil {
		return keycache.Snapshot{}, s.err
	}
	return keycache.Snapshot{Set: s.set, Source: s.name}, nil
}

// Failing is a source whose every load fails with err: the fail-closed
// stand-in for a configuration that cannot load keys.
func Failing(err error) *Static { return &Static{name: "none", err: err} }
