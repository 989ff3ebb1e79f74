// Package keysource reads API key sets: from AWS Secrets Manager in
// production, or from a value given in the environment for local
// development. It reads what it is asked for; keycache decides when.
package keysource

import (
	"context"
	"fmt"

	"github.com/keygate/keygate/internal/apikey"
)

// Snapshot is what a source read.
type Snapshot struct {
	Set *apikey.Set
	// Source names where the keys came from (secretsmanager, env).
	Source string
	// Version is the secret version ID, when there is one.
	Version string
	// Partial means part of what was asked for could not be read (the
	// previous version during a grace period); the set holds the rest.
	Partial bool
	// PreviousInGrace means the previous version's keys are in a
	// rotation's grace period: the set holds them only if they were
	// asked for.
	PreviousInGrace bool
	// Warnings are logged with the load; they never contain key material.
	Warnings []string
}

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

// Load returns the parsed key set; a static value has no previous version.
func (s *Static) Load(context.Context, bool) (Snapshot, error) {
	if s.err != nil {
		return Snapshot{}, s.err
	}
	return Snapshot{Set: s.set, Source: s.name}, nil
}

// Failing is a source whose every load fails with err: the fail-closed
// stand-in for a configuration that cannot load keys.
func Failing(err error) *Static { return &Static{name: "none", err: err} }
