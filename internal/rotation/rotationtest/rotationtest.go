// Package rotationtest runs the wire-level Secrets Manager fake (smfake)
// behind a small proxy that adds the one part of a rotation the fake leaves
// out: when Secrets Manager starts a rotation it creates the new version ID,
// labelled AWSPENDING and without a value, before it invokes createSecret
// ("During rotation, Secrets Manager creates an AWSPENDING version ID before
// creating the new secret version", DescribeSecret's VersionIdsToStages
// documentation). The rotation function checks for that version, as AWS's
// template does, so tests need it. smfake's RotateSecret only records the
// configuration and returns the token.
//
// The proxy lists the token as AWSPENDING in DescribeSecret answers until a
// PutSecretValue gives the version a value; everything else passes through
// unchanged, faults included. Tests and child processes (a bootstrap under
// the Runtime Interface Emulator) reach it with Client and Env.
package rotationtest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/keygate/keygate/internal/smfake"
)

// RotationLambdaARN is the (never invoked) function RotateSecret names.
const RotationLambdaARN = "arn:aws:lambda:us-east-1:" + smfake.Account + ":function:keygate-rotation"

// Service is the fake with the proxy in front.
type Service struct {
	// Fake is the smfake server: Put, Stages, Value, Fail, SetCreated…
	Fake *smfake.Server
	// URL is the proxy's endpoint.
	URL string

	mu      sync.Mutex
	pending map[string]string // secret name → token of a value-less AWSPENDING version
}

// New starts the fake and the proxy; both stop when the test ends.
func New(t testing.TB) *Service {
	t.Helper()
	s := &Service{Fake: smfake.New(), pending: map[string]string{}}
	proxy := httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = proxy.URL
	t.Cleanup(func() {
		proxy.Close()
		s.Fake.Close()
	})
	return s
}

// Client is smfake's client (one attempt per call) pointed at the proxy.
func (s *Service) Client() *secretsmanager.Client {
	return s.Fake.Client(func(o *secretsmanager.Options) { o.BaseEndpoint = aws.String(s.URL) })
}

// Env is smfake's environment for a child process, pointed at the proxy.
func (s *Service) Env() []string {
	env := s.Fake.Env()
	for i, kv := range env {
		if strings.HasPrefix(kv, "AWS_ENDPOINT_URL_SECRETS_MANAGER=") {
			env[i] = "AWS_ENDPOINT_URL_SECRETS_MANAGER=" + s.URL
		}
	}
	return env
}

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
	token := aws.ToString(out.VersionId)
	s.AddPending(name, token)
	return token
}

// AddPending creates a value-less AWSPENDING version ID without turning
// rotation on (a test of the "rotation not enabled" check).
func (s *Service) AddPending(name, token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending[name] = token
}

func (s *Service) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "rotationtest: reading the request: "+err.Error(), http.StatusBadGateway)
		return
	}
	req, err := http.NewRequestWithContext(r.Context(), r.Method, s.Fake.URL+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		http.Error(w, "rotationtest: "+err.Error(), http.StatusBadGateway)
		return
	}
	req.Header = r.Header.Clone()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		// The fake hung up (an injected reset or hang): do the same.
		panic(http.ErrAbortHandler)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		panic(http.ErrAbortHandler) // a truncated body stays truncated
	}
	if resp.StatusCode == http.StatusOK {
		switch strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "secretsmanager.") {
		case "DescribeSecret":
			out = s.addPlaceholder(out)
		case "PutSecretValue":
			s.filled(out)
		}
	}
	for k, vs := range resp.Header {
		if k != "Content-Length" {
			w.Header()[k] = vs
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(out)
}

// addPlaceholder lists the pending version ID in a DescribeSecret answer.
func (s *Service) addPlaceholder(out []byte) []byte {
	var desc map[string]json.RawMessage
	if json.Unmarshal(out, &desc) != nil {
		return out
	}
	var name string
	if json.Unmarshal(desc["Name"], &name) != nil {
		return out
	}
	s.mu.Lock()
	token, ok := s.pending[name]
	s.mu.Unlock()
	if !ok {
		return out
	}
	stages := map[string][]string{}
	if raw, ok := desc["VersionIdsToStages"]; ok && json.Unmarshal(raw, &stages) != nil {
		return out
	}
	if _, exists := stages[token]; exists {
		return out
	}
	stages[token] = []string{smfake.StagePending}
	desc["VersionIdsToStages"], _ = json.Marshal(stages)
	patched, err := json.Marshal(desc)
	if err != nil {
		return out
	}
	return patched
}

// filled forgets the placeholder once PutSecretValue gave it a value.
func (s *Service) filled(out []byte) {
	var put struct{ Name, VersionId string }
	if json.Unmarshal(out, &put) != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending[put.Name] == put.VersionId {
		delete(s.pending, put.Name)
	}
}
