// Package rotationtest gives rotation tests the wire-level Secrets Manager
// fake (smfake) and the one step of a rotation that happens before any
// rotation function runs: RotateSecret creating the new version ID,
// labelled AWSPENDING and without a value (smfake does that as the real
// service does). Tests and child processes (a bootstrap under the Runtime
// Interface Emulator) reach the fake with Client and Env.
package rotationtest

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/keygate/keygate/internal/smfake"
)

// RotationLambdaARN is the (never invoked) function RotateSecret names.
const RotationLambdaARN = "arn:aws:lambda:us-east-1:" + smfake.Account + ":function:keygate-rotation"

// Service is the fake.
type Service struct {
	// Fake is the smfake server: Put, Stages, Value, Fail, SetCreated…
	Fake *smfake.Server
	// URL is its endpoint.
	URL string
}

// New starts the fake; it stops when the test ends.
func New(t testing.TB) *Service {
	t.Helper()
	f := smfake.New()
	t.Cleanup(f.Close)
	return &Service{Fake: f, URL: f.URL}
}

// Client is smfake's client (one attempt per call).
func (s *Service) Client() *secretsmanager.Client { return s.Fake.Client() }

// Env is smfake's environment for a child process.
func (s *Service) Env() []string { return s.Fake.Env() }

// StartRotation does what RotateSecret does in the real service before it
// invokes createSecret: it turns rotation on and creates the AWSPENDING
// version ID. It returns that ID, the steps' ClientRequestToken.
func (s *Service) StartRotation(t testing.TB, name string) string {
	t.Helper()
	out, err := s.Fake.Client().RotateSecret(context.Background(), &secretsmanager.RotateSecretInput{
		SecretId:          &name,
		RotationLambdaARN: aws.String(RotationLambdaARN),
	})
	if err != nil {
		t.Fatalf("rotationtest: RotateSecret: %v", err)
	}
	return aws.ToString(out.VersionId)
}

// AddPending creates a value-less AWSPENDING version ID without turning
// rotation on (a test of the "rotation not enabled" check).
func (s *Service) AddPending(name, token string) { s.Fake.AddPending(name, token) }
