// Package moto runs moto (https://github.com/getmoto/moto) in server mode,
// the AWS service emulator most AWS projects test against, for keygate's
// end-to-end tests against a Secrets Manager that is not keygate's own fake.
//
// moto comes from the project's virtual environment (`make venv`, pinned in
// the Makefile). A test that needs it fails, never skips, when it is
// missing: the check must run on every `make test`.
//
//	endpoint := moto.Start(t) // http://127.0.0.1:<port>, stopped at cleanup
//	sm := moto.Client(endpoint) // or moto.Env(endpoint) for a child process
//	lam := moto.Function(t, endpoint, "keygate", vars) // a function's configuration
package moto

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/keygate/keygate/test/internal/proc"
	"github.com/keygate/keygate/test/internal/repo"
)

// The region and dummy credentials of Client and Env: moto accepts any
// credentials, and keeps each region's secrets apart, so the test and the
// function it starts must name the same region.
const (
	region          = "us-east-1"
	accessKeyID     = "test"
	secretAccessKey = "test"
)

// Client returns the real SDK client for the moto server at endpoint.
func Client(endpoint string) *secretsmanager.Client {
	return secretsmanager.New(secretsmanager.Options{
		Region:       region,
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(accessKeyID, secretAccessKey, ""),
	})
}

// Function creates the function name in moto's Lambda API, with vars as
// its environment, and returns a Lambda client for moto: where a test
// keeps a function's configuration (its KEY_GRACE, which keygate keys
// reads; revoke --now changes it). Its code is a placeholder: the tests
// run the real bootstrap under the emulator with that configuration.
func Function(t testing.TB, endpoint, name string, vars map[string]string) *lambda.Client {
	t.Helper()
	ctx := context.Background()
	creds := credentials.NewStaticCredentialsProvider(accessKeyID, secretAccessKey, "")
	role, err := iam.New(iam.Options{Region: region, BaseEndpoint: aws.String(endpoint), Credentials: creds}).CreateRole(ctx, &iam.CreateRoleInput{
		RoleName:                 aws.String(name),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`),
	})
	if err != nil {
		t.Fatalf("moto: CreateRole: %v", err)
	}
	lam := lambda.New(lambda.Options{Region: region, BaseEndpoint: aws.String(endpoint), Credentials: creds})
	var code bytes.Buffer
	zw := zip.NewWriter(&code)
	w, _ := zw.Create("bootstrap")
	w.Write([]byte("the tests run the real bootstrap"))
	zw.Close()
	if _, err := lam.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String(name), Runtime: types.RuntimeProvidedal2023, Handler: aws.String("bootstrap"),
		Role: role.Role.Arn, Code: &types.FunctionCode{ZipFile: code.Bytes()},
		Environment: &types.Environment{Variables: vars},
	}); err != nil {
		t.Fatalf("moto: CreateFunction: %v", err)
	}
	return lam
}

// Env returns the environment a child process (a bootstrap) needs to reach
// moto's Secrets Manager at endpoint with the SDK's usual variables, in
// Client's region: AWS_ENDPOINT_URL_SECRETS_MANAGER, AWS_REGION and the
// dummy credentials.
func Env(endpoint string) []string {
	return []string{
		"AWS_ENDPOINT_URL_SECRETS_MANAGER=" + endpoint,
		"AWS_REGION=" + region,
		"AWS_ACCESS_KEY_ID=" + accessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + secretAccessKey,
	}
}

// Start runs `.venv/bin/moto_server` on a free 127.0.0.1 port, waits until
// it answers, and returns its endpoint URL. The test's cleanup kills it
// (with its whole process group); it also dies if the test binary does.
// Every call is a new, empty server.
func Start(t testing.TB) string {
	t.Helper()
	server, err := repo.Tool("moto_server")
	if err != nil {
		t.Fatalf("moto: %v", err)
	}
	// A port probed free can be taken before moto binds it: retry then.
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		endpoint, err := start(t, server)
		if err == nil {
			return endpoint
		}
		lastErr = err
	}
	t.Fatalf("moto: %v", lastErr)
	return ""
}

func start(t testing.TB, server string) (string, error) {
	ports, err := proc.FreePorts(1)
	if err != nil {
		return "", err
	}
	port := strconv.Itoa(ports[0])
	endpoint := "http://127.0.0.1:" + port

	home := t.TempDir()
	cmd := exec.Command(server, "-H", "127.0.0.1", "-p", port)
	cmd.Dir = home
	// moto needs no AWS settings; keep the developer's out of it.
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + home, "PYTHONUNBUFFERED=1"}
	p, err := proc.Start(cmd)
	if err != nil {
		return "", err
	}
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("moto output:\n%s", p.Out.String())
		}
	})
	if err := waitReady(endpoint, p.Done()); err != nil {
		p.Stop()
		return "", fmt.Errorf("%w; output:\n%s", err, p.Out.String())
	}
	return endpoint, nil
}

// waitReady polls moto's own API until it answers. The bound only keeps a
// broken setup from hanging the suite.
func waitReady(endpoint string, done <-chan struct{}) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return errors.New("moto_server exited before it was ready")
		default:
		}
		resp, err := client.Get(endpoint + "/moto-api/data.json")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("moto_server did not answer within 30s")
}
