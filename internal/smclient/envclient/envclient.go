// Package envclient builds the Secrets Manager client the Lambda bootstrap
// uses, from the environment the Lambda runtime sets, without the SDK's
// default configuration chain.
//
// Why: config.LoadDefaultConfig links the shared-config parser and the SSO,
// SSO-OIDC, STS, sign-in and IMDS clients. In Lambda none of them can ever
// be used: the runtime hands the function its role's credentials in
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN and its region in
// AWS_REGION. Leaving the chain out makes the bootstrap a fifth smaller
// (9.96 MB → 7.85 MB on linux/amd64) and its cold start shorter. cmd/local
// and the tools keep the full chain (package smclient).
//
// The SDK's standard variables that make sense in Lambda keep working, with
// the SDK's meaning and precedence:
//
//	AWS_REGION, AWS_DEFAULT_REGION                 region
//	AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,      credentials (AWS_ACCESS_KEY
//	AWS_SESSION_TOKEN                              and AWS_SECRET_KEY too)
//	AWS_ENDPOINT_URL_SECRETS_MANAGER,              endpoint (an emulator);
//	AWS_ENDPOINT_URL,                              ignored when
//	AWS_IGNORE_CONFIGURED_ENDPOINT_URLS            the last is true
//	AWS_USE_FIPS_ENDPOINT, AWS_USE_DUALSTACK_ENDPOINT
//	AWS_MAX_ATTEMPTS, AWS_RETRY_MODE, AWS_DEFAULTS_MODE, AWS_SDK_UA_APP_ID
//	AWS_CA_BUNDLE                                  the CAs to trust (PEM)
//
// Trust: the standard partition's Secrets Manager endpoints present
// certificates that chain to Amazon Trust Services (AWS moved its service
// certificates to its own CA from 2018: Amazon Root CA 1-4, and Starfield
// Services Root CA G2 for older clients; amazontrust.com/repository). The
// client trusts those five roots, embedded, and nothing else: Go's
// system-store load reads every file of /etc/ssl/certs and
// /etc/pki/tls/certs, which on provided.al2023 is about half the cold start
// (docs/performance.md), and the one call that fetches the key then trusts
// five CAs instead of some 140. The system store is used instead whenever
// the endpoint may not be AWS's own: a custom endpoint (AWS_ENDPOINT_URL*),
// a region outside the standard partition (China, GovCloud, ISO, the
// European Sovereign Cloud), or KEYGATE_TRUST_STORE=system, the way back
// (for a TLS-inspecting proxy, say); AWS_CA_BUNDLE names the CAs outright.
package envclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	_ "embed"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/keygate/keygate/internal/keysource"
)

// New returns a client configured from the process environment, and its
// region. It has the signature config.ClientFactory expects.
func New(ctx context.Context) (keysource.GetSecretValueAPI, string, error) {
	return NewFromEnv(ctx, os.Getenv)
}

// NewFromEnv is New with the environment read through getenv.
func NewFromEnv(_ context.Context, getenv func(string) string) (keysource.GetSecretValueAPI, string, error) {
	opts, err := Options(getenv)
	if err != nil {
		return nil, "", err
	}
	return secretsmanager.New(opts), opts.Region, nil
}

// Options reads the client options from the environment. Every error names
// the variable to fix.
func Options(getenv func(string) string) (secretsmanager.Options, error) {
	var o secretsmanager.Options
	o.Region = firstOf(getenv, "AWS_REGION", "AWS_DEFAULT_REGION")
	if o.Region == "" {
		return o, errors.New("no AWS region is configured for Secrets Manager: set AWS_REGION (the Lambda runtime sets it)")
	}
	creds, err := credentials(getenv)
	if err != nil {
		return o, err
	}
	o.Credentials = creds
	if ep := endpoint(getenv); ep != "" {
		o.BaseEndpoint = aws.String(ep)
	}
	fips, err := endpointState(getenv, "AWS_USE_FIPS_ENDPOINT")
	if err != nil {
		return o, err
	}
	o.EndpointOptions.UseFIPSEndpoint = aws.FIPSEndpointState(fips)
	dual, err := endpointState(getenv, "AWS_USE_DUALSTACK_ENDPOINT")
	if err != nil {
		return o, err
	}
	o.EndpointOptions.UseDualStackEndpoint = aws.DualStackEndpointState(dual)
	if v := strings.TrimSpace(getenv("AWS_MAX_ATTEMPTS")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return o, invalid("AWS_MAX_ATTEMPTS", v, "a whole number of at least 1")
		}
		o.RetryMaxAttempts = n
	}
	if v := strings.TrimSpace(getenv("AWS_RETRY_MODE")); v != "" {
		mode, err := aws.ParseRetryMode(v)
		if err != nil {
			return o, invalid("AWS_RETRY_MODE", v, "standard or adaptive")
		}
		o.RetryMode = mode
	}
	if v := strings.TrimSpace(getenv("AWS_DEFAULTS_MODE")); v != "" {
		var mode aws.DefaultsMode
		if !mode.SetFromString(v) {
			return o, invalid("AWS_DEFAULTS_MODE", v, "one of auto, cross-region, in-region, legacy, mobile, standard")
		}
		o.DefaultsMode = mode
		o.RuntimeEnvironment = aws.RuntimeEnvironment{
			EnvironmentIdentifier: aws.ExecutionEnvironmentID(getenv("AWS_EXECUTION_ENV")),
			Region:                getenv("AWS_REGION"),
		}
	}
	o.AppID = getenv("AWS_SDK_UA_APP_ID")
	pool, err := trustedRoots(getenv, o.Region, o.BaseEndpoint != nil)
	if err != nil {
		return o, err
	}
	if pool != nil {
		o.HTTPClient = awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
			if t.TLSClientConfig == nil {
				t.TLSClientConfig = &tls.Config{}
			}
			t.TLSClientConfig.RootCAs = pool
		})
	}
	return o, nil
}

// amazonRoots are the Amazon Trust Services roots, as Mozilla's trust store
// (and Debian's ca-certificates) ship them.
//
//go:embed amazon-roots.pem
var amazonRoots []byte

// TrustStoreVar chooses the trust store: "amazon" (the default) or
// "system".
const TrustStoreVar = "KEYGATE_TRUST_STORE"

// trustedRoots is the pool the client verifies the endpoint against, or
// nil for the system store.
func trustedRoots(getenv func(string) string, region string, customEndpoint bool) (*x509.CertPool, error) {
	if path := strings.TrimSpace(getenv("AWS_CA_BUNDLE")); path != "" {
		return caBundle(path)
	}
	switch v := strings.TrimSpace(getenv(TrustStoreVar)); {
	case strings.EqualFold(v, "system"):
		return nil, nil
	case v != "" && !strings.EqualFold(v, "amazon"):
		return nil, invalid(TrustStoreVar, v, "amazon (the Amazon Trust Services roots, the default) or system")
	}
	if customEndpoint || !standardPartition(region) {
		return nil, nil
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(amazonRoots) {
		return nil, errors.New("the embedded Amazon Trust Services roots do not parse") // a broken build
	}
	return pool, nil
}

// standardPartition reports whether region belongs to the aws partition,
// by the SDK's own pattern for it (internal/endpoints/awsrulesfn).
func standardPartition(region string) bool {
	prefix, rest, ok := strings.Cut(region, "-")
	switch prefix {
	case "us", "eu", "ap", "sa", "ca", "me", "af", "il", "mx":
	default:
		return false
	}
	mid, num, ok2 := strings.Cut(rest, "-")
	if !ok || !ok2 || mid == "" || num == "" || strings.HasPrefix(mid, "gov") || strings.HasPrefix(mid, "iso") {
		return false
	}
	for _, c := range mid {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	_, err := strconv.Atoi(num)
	return err == nil
}

// credentials are the ones the Lambda runtime puts in the environment.
// Container credential endpoints (AWS_CONTAINER_CREDENTIALS_*) are left
// out on purpose: Lambda sets them only for SnapStart, which OS-only
// runtimes such as provided.al2023 do not offer.
func credentials(getenv func(string) string) (aws.CredentialsProvider, error) {
	id := firstOf(getenv, "AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY")
	secret := firstOf(getenv, "AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY")
	switch {
	case id != "" && secret != "":
		return staticCredentials{aws.Credentials{
			AccessKeyID:     id,
			SecretAccessKey: secret,
			SessionToken:    getenv("AWS_SESSION_TOKEN"),
			Source:          "EnvConfigCredentials",
		}}, nil
	case id != "" || secret != "":
		return nil, errors.New("only one of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY is set: set both (the Lambda runtime does)")
	}
	return nil, errors.New("no AWS credentials in the environment: the Lambda runtime sets AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN (sam local invoke does too); outside Lambda set them, or use `make run`, which reads profiles and SSO")
}

type staticCredentials struct{ v aws.Credentials }

func (s staticCredentials) Retrieve(context.Context) (aws.Credentials, error) { return s.v, nil }

// endpoint is the SDK's service-specific then global endpoint variable.
func endpoint(getenv func(string) string) string {
	if strings.EqualFold(strings.TrimSpace(getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")), "true") {
		return ""
	}
	return firstOf(getenv, "AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL")
}

// endpointState reads a true/false variable as the SDK's endpoint states
// number them (FIPSEndpointState and DualStackEndpointState alike): 0
// unset, 1 enabled, 2 disabled.
func endpointState(getenv func(string) string, name string) (uint, error) {
	v := strings.TrimSpace(getenv(name))
	switch {
	case v == "":
		return 0, nil
	case strings.EqualFold(v, "true"):
		return 1, nil
	case strings.EqualFold(v, "false"):
		return 2, nil
	}
	return 0, invalid(name, v, "true or false")
}

func invalid(name, value, want string) error {
	return fmt.Errorf("%s=%q is not %s", name, value, want)
}

// caBundle trusts the bundle's CAs, and only them, as the SDK does with
// AWS_CA_BUNDLE.
func caBundle(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("AWS_CA_BUNDLE: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("AWS_CA_BUNDLE: %s holds no PEM certificate", path)
	}
	return pool, nil
}

func firstOf(getenv func(string) string, names ...string) string {
	for _, n := range names {
		if v := strings.TrimSpace(getenv(n)); v != "" {
			return v
		}
	}
	return ""
}
