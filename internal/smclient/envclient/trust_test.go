package envclient

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// The five roots Amazon Trust Services publishes (amazontrust.com/
// repository), by SHA-256 fingerprint: the embedded file holds exactly
// these, each a CA certificate that has not expired.
func TestEmbeddedRootsAreAmazonTrustServices(t *testing.T) {
	want := map[string]string{
		"8ecde6884f3d87b1125ba31ac3fcb13d7016de7f57cc904fe1cb97c6ae98196e": "Amazon Root CA 1",
		"1ba5b2aa8c65401a82960118f80bec4f62304d83cec4713a19c39c011ea46db4": "Amazon Root CA 2",
		"18ce6cfe7bf14e60b2e347b8dfe868cb31d02ebb3ada271569f50343b46db3a4": "Amazon Root CA 3",
		"e35d28419ed02025cfa69038cd623962458da5c695fbdea3c22b0bfb25897092": "Amazon Root CA 4",
		"568d6905a2c88708a4b3025190edcfedb1974a606a13c6e5290fcb2ae63edab5": "Starfield Services Root Certificate Authority - G2",
	}
	rest := amazonRoots
	got := map[string]string{}
	for {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(c.Raw)
		got[hex.EncodeToString(sum[:])] = c.Subject.CommonName
		if !c.IsCA || time.Now().After(c.NotAfter) {
			t.Errorf("%s: CA %v, valid until %s", c.Subject.CommonName, c.IsCA, c.NotAfter)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d roots embedded, want %d: %v", len(got), len(want), got)
	}
	for fp, name := range want {
		if got[fp] != name {
			t.Errorf("%s (%s…) is not embedded as it should be: %q", name, fp[:12], got[fp])
		}
	}
}

// Which store the client trusts: the embedded roots for AWS's own
// endpoints in the standard partition, the system store for anything that
// may be someone else's certificate, the bundle when AWS_CA_BUNDLE names
// one.
func TestTrustStoreChoice(t *testing.T) {
	embedded := x509.NewCertPool()
	embedded.AppendCertsFromPEM(amazonRoots)
	tests := []struct {
		name   string
		env    map[string]string
		amazon bool // the embedded pool; else the system store
		err    string
	}{
		{"standard partition", map[string]string{"AWS_REGION": "us-east-1"}, true, ""},
		{"another standard region", map[string]string{"AWS_REGION": "ap-southeast-2"}, true, ""},
		{"explicitly amazon", map[string]string{"AWS_REGION": "eu-west-1", TrustStoreVar: "amazon"}, true, ""},
		{"FIPS endpoints are AWS's too", map[string]string{"AWS_REGION": "us-east-1", "AWS_USE_FIPS_ENDPOINT": "true"}, true, ""},
		{"the way back", map[string]string{"AWS_REGION": "us-east-1", TrustStoreVar: "System"}, false, ""},
		{"a custom endpoint", map[string]string{"AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL_SECRETS_MANAGER": "https://vpce-123.secretsmanager.us-east-1.vpce.amazonaws.com"}, false, ""},
		{"a global custom endpoint", map[string]string{"AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": "https://proxy.internal"}, false, ""},
		{"China", map[string]string{"AWS_REGION": "cn-north-1"}, false, ""},
		{"GovCloud", map[string]string{"AWS_REGION": "us-gov-west-1"}, false, ""},
		{"ISO", map[string]string{"AWS_REGION": "us-iso-east-1"}, false, ""},
		{"European Sovereign Cloud", map[string]string{"AWS_REGION": "eusc-de-east-1"}, false, ""},
		{"a typo", map[string]string{"AWS_REGION": "us-east-1", TrustStoreVar: "sytem"}, false, `KEYGATE_TRUST_STORE="sytem" is not amazon`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := Options(env(lambdaEnv(tt.env)))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Options = %v, want an error saying %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var roots *x509.CertPool
			if c, ok := o.HTTPClient.(*awshttp.BuildableClient); ok {
				roots = c.GetTransport().TLSClientConfig.RootCAs
			}
			if got := roots != nil && roots.Equal(embedded); got != tt.amazon {
				t.Errorf("trusts the Amazon roots only: %v, want %v (client %T)", got, tt.amazon, o.HTTPClient)
			}
			if !tt.amazon && o.HTTPClient != nil {
				t.Errorf("the system store means the SDK's own client, got %T", o.HTTPClient)
			}
		})
	}
}

// An endpoint whose certificate does not chain to the Amazon roots (here
// httptest's own CA, as a TLS-inspecting proxy's would not) is refused:
// the key is never fetched from it.
func TestEmbeddedRootsRefuseOtherCAs(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	pool, err := trustedRoots(env(map[string]string{}), "us-east-1", false)
	if err != nil || pool == nil {
		t.Fatalf("trustedRoots = %v, %v", pool, err)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL, nil)
	_, err = client.Do(req)
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Fatalf("request to a server of another CA: %v, want x509.UnknownAuthorityError", err)
	}
}
