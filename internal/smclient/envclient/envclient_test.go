package envclient

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func lambdaEnv(extra map[string]string) map[string]string {
	m := map[string]string{
		"AWS_REGION":            "eu-west-1",
		"AWS_ACCESS_KEY_ID":     "AKIDENVCLIENTTEST",
		"AWS_SECRET_ACCESS_KEY": "envclient-test-secret",
		"AWS_SESSION_TOKEN":     "envclient-test-token",
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

func TestOptions(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		region   string
		endpoint string // "" = none
		fips     aws.FIPSEndpointState
		dual     aws.DualStackEndpointState
		attempts int
		mode     aws.RetryMode
	}{
		{name: "lambda defaults", env: lambdaEnv(nil), region: "eu-west-1"},
		{name: "default region", env: lambdaEnv(map[string]string{"AWS_REGION": "", "AWS_DEFAULT_REGION": "us-west-2"}), region: "us-west-2"},
		{name: "AWS_REGION wins", env: lambdaEnv(map[string]string{"AWS_DEFAULT_REGION": "us-west-2"}), region: "eu-west-1"},
		{name: "service endpoint", env: lambdaEnv(map[string]string{"AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://127.0.0.1:4566"}), region: "eu-west-1", endpoint: "http://127.0.0.1:4566"},
		{name: "global endpoint", env: lambdaEnv(map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:5000"}), region: "eu-west-1", endpoint: "http://127.0.0.1:5000"},
		{name: "service endpoint wins", env: lambdaEnv(map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:5000", "AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://127.0.0.1:4566"}), region: "eu-west-1", endpoint: "http://127.0.0.1:4566"},
		{name: "endpoints ignored", env: lambdaEnv(map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:5000", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "TRUE"}), region: "eu-west-1"},
		{name: "fips and dualstack", env: lambdaEnv(map[string]string{"AWS_USE_FIPS_ENDPOINT": "true", "AWS_USE_DUALSTACK_ENDPOINT": "false"}), region: "eu-west-1", fips: aws.FIPSEndpointStateEnabled, dual: aws.DualStackEndpointStateDisabled},
		{name: "retries", env: lambdaEnv(map[string]string{"AWS_MAX_ATTEMPTS": "5", "AWS_RETRY_MODE": "adaptive"}), region: "eu-west-1", attempts: 5, mode: aws.RetryModeAdaptive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := Options(env(tt.env))
			if err != nil {
				t.Fatalf("Options: %v", err)
			}
			if o.Region != tt.region {
				t.Errorf("region = %q, want %q", o.Region, tt.region)
			}
			if got := aws.ToString(o.BaseEndpoint); got != tt.endpoint {
				t.Errorf("endpoint = %q, want %q", got, tt.endpoint)
			}
			if o.EndpointOptions.UseFIPSEndpoint != tt.fips || o.EndpointOptions.UseDualStackEndpoint != tt.dual {
				t.Errorf("fips, dualstack = %v, %v; want %v, %v", o.EndpointOptions.UseFIPSEndpoint, o.EndpointOptions.UseDualStackEndpoint, tt.fips, tt.dual)
			}
			if o.RetryMaxAttempts != tt.attempts || o.RetryMode != tt.mode {
				t.Errorf("attempts, mode = %d, %q; want %d, %q", o.RetryMaxAttempts, o.RetryMode, tt.attempts, tt.mode)
			}
			creds, err := o.Credentials.Retrieve(context.Background())
			if err != nil {
				t.Fatalf("credentials: %v", err)
			}
			if creds.AccessKeyID != "AKIDENVCLIENTTEST" || creds.SecretAccessKey != "envclient-test-secret" || creds.SessionToken != "envclient-test-token" {
				t.Errorf("credentials = %+v, want the environment's", creds)
			}
		})
	}
}

func TestOptionsErrors(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string // the variable the message must name
	}{
		{name: "no region", env: lambdaEnv(map[string]string{"AWS_REGION": ""}), want: "AWS_REGION"},
		{name: "no credentials", env: map[string]string{"AWS_REGION": "eu-west-1"}, want: "AWS_ACCESS_KEY_ID"},
		{name: "half credentials", env: map[string]string{"AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "AKID"}, want: "AWS_SECRET_ACCESS_KEY"},
		{name: "bad fips", env: lambdaEnv(map[string]string{"AWS_USE_FIPS_ENDPOINT": "yes"}), want: "AWS_USE_FIPS_ENDPOINT"},
		{name: "bad dualstack", env: lambdaEnv(map[string]string{"AWS_USE_DUALSTACK_ENDPOINT": "1"}), want: "AWS_USE_DUALSTACK_ENDPOINT"},
		{name: "bad attempts", env: lambdaEnv(map[string]string{"AWS_MAX_ATTEMPTS": "0"}), want: "AWS_MAX_ATTEMPTS"},
		{name: "bad retry mode", env: lambdaEnv(map[string]string{"AWS_RETRY_MODE": "eager"}), want: "AWS_RETRY_MODE"},
		{name: "bad defaults mode", env: lambdaEnv(map[string]string{"AWS_DEFAULTS_MODE": "fast"}), want: "AWS_DEFAULTS_MODE"},
		{name: "missing CA bundle", env: lambdaEnv(map[string]string{"AWS_CA_BUNDLE": "/nonexistent/ca.pem"}), want: "AWS_CA_BUNDLE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Options(env(tt.env))
			if err == nil {
				t.Fatal("Options succeeded, want an error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not name %s", err, tt.want)
			}
			if strings.Contains(err.Error(), "envclient-test-secret") {
				t.Errorf("error %q repeats the secret access key", err)
			}
		})
	}
}

// TestNewCallsEndpoint runs the real SDK client against a loopback server
// speaking AWS JSON 1.1: the endpoint variable is used, the request is
// signed with the environment's credentials for the region, and the answer
// decodes.
func TestNewCallsEndpoint(t *testing.T) {
	type seen struct{ target, auth, token, secretID string }
	got := make(chan seen, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct{ SecretId string }
		_ = json.NewDecoder(r.Body).Decode(&in)
		got <- seen{r.Header.Get("X-Amz-Target"), r.Header.Get("Authorization"), r.Header.Get("X-Amz-Security-Token"), in.SecretId}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_, _ = w.Write([]byte(`{"Name":"keygate/api-key","SecretString":"kgExampleLocalKey4f9d2c81b7e6a035","VersionId":"v1","VersionStages":["AWSCURRENT"]}`))
	}))
	defer srv.Close()

	client, region, err := NewFromEnv(context.Background(), env(lambdaEnv(map[string]string{"AWS_ENDPOINT_URL_SECRETS_MANAGER": srv.URL})))
	if err != nil {
		t.Fatalf("NewFromEnv: %v", err)
	}
	if region != "eu-west-1" {
		t.Errorf("region = %q", region)
	}
	out, err := client.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String("keygate/api-key")})
	if err != nil {
		t.Fatalf("GetSecretValue: %v", err)
	}
	if aws.ToString(out.SecretString) != "kgExampleLocalKey4f9d2c81b7e6a035" || aws.ToString(out.VersionId) != "v1" {
		t.Errorf("output = %q %q", aws.ToString(out.SecretString), aws.ToString(out.VersionId))
	}
	s := <-got
	if s.target != "secretsmanager.GetSecretValue" || s.secretID != "keygate/api-key" {
		t.Errorf("request = %+v", s)
	}
	if !strings.Contains(s.auth, "Credential=AKIDENVCLIENTTEST/") || !strings.Contains(s.auth, "/eu-west-1/secretsmanager/aws4_request") {
		t.Errorf("Authorization = %q, want SigV4 with the environment's key for eu-west-1 secretsmanager", s.auth)
	}
	if s.token != "envclient-test-token" {
		t.Errorf("X-Amz-Security-Token = %q, want the session token", s.token)
	}
}

// TestCABundle: with AWS_CA_BUNDLE the client trusts the bundle's CA (here
// an httptest TLS server's certificate), as the SDK does; without it the
// same server is refused.
func TestCABundle(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_, _ = w.Write([]byte(`{"Name":"k","SecretString":"v","VersionId":"v1"}`))
	}))
	defer srv.Close()
	bundle := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(bundle, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	in := &secretsmanager.GetSecretValueInput{SecretId: aws.String("k")}
	for _, tt := range []struct {
		name  string
		env   map[string]string
		trust bool
	}{
		{"bundle", map[string]string{"AWS_ENDPOINT_URL": srv.URL, "AWS_CA_BUNDLE": bundle, "AWS_MAX_ATTEMPTS": "1"}, true},
		{"no bundle", map[string]string{"AWS_ENDPOINT_URL": srv.URL, "AWS_MAX_ATTEMPTS": "1"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			client, _, err := NewFromEnv(context.Background(), env(lambdaEnv(tt.env)))
			if err != nil {
				t.Fatalf("NewFromEnv: %v", err)
			}
			_, err = client.GetSecretValue(context.Background(), in)
			if tt.trust && err != nil {
				t.Fatalf("GetSecretValue with the bundle: %v", err)
			}
			if !tt.trust && (err == nil || !strings.Contains(err.Error(), "certificate")) {
				t.Fatalf("GetSecretValue without the bundle: %v, want a certificate error", err)
			}
		})
	}
	if _, err := Options(env(lambdaEnv(map[string]string{"AWS_CA_BUNDLE": filepath.Join(filepath.Dir(bundle), "empty.pem")}))); err == nil {
		t.Error("a missing bundle file was accepted")
	}
	empty := filepath.Join(filepath.Dir(bundle), "none.pem")
	if err := os.WriteFile(empty, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Options(env(lambdaEnv(map[string]string{"AWS_CA_BUNDLE": empty}))); err == nil || !strings.Contains(err.Error(), "AWS_CA_BUNDLE") {
		t.Errorf("a bundle without certificates: %v, want an error naming AWS_CA_BUNDLE", err)
	}
}
