// Package smfake is an in-process fake of the AWS Secrets Manager HTTP API
// (AWS JSON 1.1), served by a real TCP server on 127.0.0.1 so that the real
// SDK client, in this process or in a child process (the Lambda bootstrap
// under the Runtime Interface Emulator), talks to it unchanged.
//
// It keeps staging labels the way the real service moves them, which is what
// key rotation depends on, and it can inject faults at the wire (error codes,
// delays, hangs, cut bodies, non-JSON bodies, TCP resets) per operation.
//
//	srv := smfake.New()
//	defer srv.Close()
//	srv.Put("prod/api-key", "s3cret")
//	client := srv.Client() // or srv.Env() for a child process
//
// Signatures are not checked: any Authorization header is accepted, and
// whether one was present is recorded in [Request.Signed].
//
// Versions that lose their last staging label are kept (the real service
// calls them deprecated and removes them only past about 100 versions):
// GetSecretValue still finds them by VersionId; DescribeSecret's
// VersionIdsToStages and [Server.Stages] leave them out.
//
// It serves only the operations keygate's code and tests call (the
// operations map in ops.go); any other is UnknownOperationException.
package smfake

import (
	"context"
	"crypto/sha256"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/keygate/keygate/internal/smapi"
)

// Account is the AWS account ID in every ARN the fake makes.
const Account = "123456789012"

// DefaultRegion is the region of a server made by New.
const DefaultRegion = "us-east-1"

// Dummy credentials that Client and Env hand out; the fake accepts any.
const (
	accessKeyID     = "AKIASMFAKEEXAMPLE"
	secretAccessKey = "smfake-dummy-secret-access-key"
	sessionToken    = "smfake-dummy-session-token"
)

// Server is a running fake. Its methods are safe for concurrent use.
type Server struct {
	// URL is the base endpoint, http://127.0.0.1:PORT.
	URL string
	// Region appears in ARNs and in the client that Client builds.
	Region string

	hs        *httptest.Server
	closing   chan struct{} // closed by Close: ends hung and delayed calls
	closeOnce sync.Once

	mu       sync.Mutex
	secrets  map[string]*secret // by name
	denied   map[string]bool    // by name
	faults   map[string]*injected
	calls    map[string]int
	requests []Request
}

// Request is one call the server received, in arrival order.
type Request struct {
	// Operation is the name after "secretsmanager." in X-Amz-Target
	// (the whole header value when it lacks that prefix).
	Operation string
	// Signed says the request carried an Authorization header (the fake
	// does not check SigV4 signatures).
	Signed bool
	// Body is the JSON request body as received.
	Body []byte
}

// New starts a fake on a free 127.0.0.1 port. Stop it with Close.
func New() *Server {
	s := &Server{
		Region:  DefaultRegion,
		closing: make(chan struct{}),
		secrets: map[string]*secret{},
		denied:  map[string]bool{},
		faults:  map[string]*injected{},
		calls:   map[string]int{},
	}
	s.hs = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.hs.URL
	return s
}

// Close ends calls that hang or wait on a fault, then stops the server and
// closes its connections. It is safe to call more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.closing)
		s.hs.Close()
	})
}

// Client returns a real SDK client for the fake: static dummy credentials,
// Region, BaseEndpoint = URL, and a single attempt per call so that injected
// faults surface at once instead of being retried. optFns adjust the options
// (for example to restore retries).
func (s *Server) Client(optFns ...func(*secretsmanager.Options)) *secretsmanager.Client {
	return secretsmanager.New(secretsmanager.Options{
		Region:       s.Region,
		BaseEndpoint: aws.String(s.URL),
		Credentials:  credentials.NewStaticCredentialsProvider(accessKeyID, secretAccessKey, sessionToken),
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = 1
		}),
	}, optFns...)
}

// Env returns the environment a child process needs to reach the fake with
// the SDK's usual variables: AWS_ENDPOINT_URL_SECRETS_MANAGER, AWS_REGION and
// dummy credentials. Append it to a clean environment.
func (s *Server) Env() []string {
	return []string{
		"AWS_ENDPOINT_URL_SECRETS_MANAGER=" + s.URL,
		"AWS_REGION=" + s.Region,
		"AWS_ACCESS_KEY_ID=" + accessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + secretAccessKey,
		"AWS_SESSION_TOKEN=" + sessionToken,
	}
}

// ARN returns the ARN the fake gives the secret called name. It is the same
// for the same name and region every time: the real service's random
// six-character suffix is derived from the name here.
func (s *Server) ARN(name string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	sum := sha256.Sum256([]byte(name))
	suffix := make([]byte, 6)
	for i := range suffix {
		suffix[i] = alphabet[int(sum[i])%len(alphabet)]
	}
	return fmt.Sprintf("%s%s-%s", s.arnPrefix(), name, suffix)
}

func (s *Server) arnPrefix() string {
	return "arn:aws:secretsmanager:" + s.Region + ":" + Account + ":secret:"
}

// AddPending gives secret name a value-less version token labelled
// AWSPENDING, as RotateSecret does, without turning rotation on (a test of
// a rotation step called for a secret that does not rotate).
func (s *Server) AddPending(name, token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sec := s.secrets[name]; sec != nil && sec.versions[token] == nil {
		sec.addVersion(token, nil, nil, []string{smapi.StagePending}, time.Now())
	}
}

// Put stores value as the secret's new AWSCURRENT version, exactly as
// PutSecretValue does (the old current version becomes AWSPREVIOUS), and
// returns the new version ID. It creates the secret if needed.
func (s *Server) Put(name, value string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.secrets[name]
	if sec == nil {
		sec = newSecret(name, s.ARN(name), time.Now())
		s.secrets[name] = sec
	}
	id := newUUID()
	sec.addVersion(id, &value, nil, []string{smapi.StageCurrent}, time.Now())
	return id
}

// Delete removes the secret at once, as DeleteSecret with
// ForceDeleteWithoutRecovery does: calls then get ResourceNotFoundException.
func (s *Server) Delete(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.secrets, name)
}

// Deny makes every call on the secret called name (by name or ARN, whether
// it exists or not) fail with AccessDeniedException while deny is true.
func (s *Server) Deny(name string, deny bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if deny {
		s.denied[name] = true
	} else {
		delete(s.denied, name)
	}
}

// Stages maps each version ID of the secret that has staging labels to its
// labels, sorted; versions without labels are left out. It is nil when the
// secret does not exist.
func (s *Server) Stages(name string) map[string][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.secrets[name]
	if sec == nil {
		return nil
	}
	return sec.stages()
}

// Value returns the SecretString of the secret's version that has the
// staging label stage, and whether there is one.
func (s *Server) Value(name, stage string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.secrets[name]
	if sec == nil {
		return "", false
	}
	v := sec.holder(stage)
	if v == nil || v.str == nil {
		return "", false
	}
	return *v.str, true
}

// SetCreated sets a version's CreatedDate, so tests control the date
// GetSecretValue returns. It panics if there is no such secret or version:
// that is a mistake in the test.
func (s *Server) SetCreated(name, versionID string, t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.secrets[name]
	if sec == nil || sec.versions[versionID] == nil {
		panic(fmt.Sprintf("smfake: SetCreated: no version %q of secret %q", versionID, name))
	}
	sec.versions[versionID].created = t
}

// Calls returns how many calls of the operation (for example
// "GetSecretValue") the server received, faulted ones included.
func (s *Server) Calls(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

// Requests returns a copy of every call received so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	for i, r := range s.requests {
		r.Body = slices.Clone(r.Body)
		out[i] = r
	}
	return out
}

// Secrets returns the names of the secrets the fake holds, sorted.
func (s *Server) Secrets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.secrets))
}

// Start is New for a test: the server stops when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s := New()
	t.Cleanup(s.Close)
	return s
}

// RotationLambdaARN is the (never invoked) function StartRotation names.
const RotationLambdaARN = "arn:aws:lambda:us-east-1:" + Account + ":function:keygate-rotation"

// StartRotation does what RotateSecret does in the real service before it
// invokes createSecret: it turns rotation on and creates the value-less
// AWSPENDING version. It returns that version's ID, the rotation steps'
// ClientRequestToken.
func (s *Server) StartRotation(t testing.TB, name string) string {
	t.Helper()
	out, err := s.Client().RotateSecret(context.Background(), &secretsmanager.RotateSecretInput{
		SecretId:          &name,
		RotationLambdaARN: aws.String(RotationLambdaARN),
	})
	if err != nil {
		t.Fatalf("smfake: RotateSecret: %v", err)
	}
	return aws.ToString(out.VersionId)
}
