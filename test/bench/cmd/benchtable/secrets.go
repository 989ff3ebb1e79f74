package main

import (
	"time"

	"github.com/keygate/keygate/internal/smfake"
)

// secretName is the secret the measured bootstrap reads at cold start.
const secretName = "keygate/bench"

// secretStore is the wire-level Secrets Manager fake (internal/smfake) on
// loopback, holding the key, so that keygate's cold start includes a real
// SDK call. The secret's current version was created 30 days ago, the usual
// case: past the rotation grace period, so one GetSecretValue (AWSCURRENT)
// per cold start.
type secretStore struct {
	*smfake.Server
}

func newSecretStore(value string) (*secretStore, error) {
	s := smfake.New()
	version := s.Put(secretName, value)
	s.SetCreated(secretName, version, time.Now().Add(-30*24*time.Hour))
	return &secretStore{s}, nil
}

// Reads is how many GetSecretValue calls the store answered.
func (s *secretStore) Reads() int { return s.Calls("GetSecretValue") }
