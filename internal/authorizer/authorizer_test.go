package authorizer_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/netip"
	"slices"
	"testing"

	"github.com/keygate/keygate/internal/apikey"
	"github.com/keygate/keygate/internal/authorizer"
	"github.com/keygate/keygate/internal/decision"
	"github.com/keygate/keygate/internal/keycache"
	"github.com/keygate/keygate/internal/keysource"
	"github.com/keygate/keygate/internal/testsupport/logtest"
)

const key = "kgAuthorizerTestKey0123456789abcdef"

func newAuthorizer(t *testing.T, src keycache.Source) (*authorizer.Authorizer, *logtest.Buffer) {
	t.Helper()
	var logs logtest.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	cache := keycache.New(src, keycache.Options{Log: log})
	_ = cache.Load(context.Background())
	logs.Reset()
	return authorizer.New(decision.New(cache), log), &logs
}

const methodArn = "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/Prod/POST/orders/{id}"

// While no key set is loaded nothing is allowed: a REST authorizer fails
// with an error other than Unauthorized (API Gateway answers 500, so an
// outage is not mistaken for a bad key), an HTTP API one says false; the
// decision is logged as an error.
func TestUnavailableFailsClosed(t *testing.T) {
	a, logs := newAuthorizer(t, keysource.Failing(errors.New("store down")))
	ctx := context.Background()
	for _, in := range []decision.Request{{Keys: []string{key}}, {}} {
		logs.Reset()
		resp, err := a.REST(ctx, "tokenauthorizer", methodArn, in)
		if !errors.Is(err, authorizer.ErrUnavailable) || err.Error() == "Unauthorized" || resp != nil {
			t.Errorf("%v, %v: want the unavailable error and no policy", resp, err)
		}
		if l := logs.Last(t, "authorization"); l["level"] != "ERROR" || l["outcome"] != "unavailable" || l["allowed"] != false || l["kind"] != "tokenauthorizer" {
			t.Errorf("log %v", l)
		}
		if r := a.HTTP(ctx, "httpauthorizer", in); r.IsAuthorized {
			t.Error("HTTP API authorizer allowed while no key set is loaded")
		}
	}
}

// The policy covers the stage the method belongs to, every method and path
// of it, in the method's own partition, region, account and API; a method
// ARN that is not an execute-api one is refused, never allowed.
func TestPolicyResource(t *testing.T) {
	a, _ := newAuthorizer(t, keysource.NewStatic("env", key))
	ctx := context.Background()
	for arn, want := range map[string]string{
		methodArn: "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/Prod/*",
		"arn:aws-cn:execute-api:cn-north-1:123456789012:api1/dev/GET/": "arn:aws-cn:execute-api:cn-north-1:123456789012:api1/dev/*",
		"arn:aws:execute-api:us-west-2:123456789012:ymy8tbxw7b/*/GET/": "arn:aws:execute-api:us-west-2:123456789012:ymy8tbxw7b/*/*",
		"arn:aws:lambda:us-east-1:123456789012:function:x":             "",
		"arn:aws:execute-api:us-east-1:123456789012:api1":              "",
		"not an arn": "",
	} {
		resp, err := a.REST(ctx, "tokenauthorizer", arn, decision.Request{Keys: []string{key}})
		switch {
		case want == "" && (resp != nil || !errors.Is(err, authorizer.ErrBadEvent)):
			t.Errorf("%s: %v, %v; want it refused as a bad event", arn, resp, err)
		case want != "" && (err != nil || resp.PolicyDocument.Statement[0].Resource[0] != want || resp.PrincipalID != "default"):
			t.Errorf("%s: %+v, %v; want Allow on %s for client default", arn, resp, err, want)
		}
	}
}

// A key's rules in an authorizer's answer: a REST policy lists exactly the
// routes its allow permits (API Gateway's 403 refuses the others, cached
// or not), a Deny for a key with no route or from outside its sources (a
// TOKEN event has no address: refused, and the log says so); the HTTP API
// authorizer decides the route itself. The context carries the client and
// its meta, as ASCII JSON in a string.
func TestRules(t *testing.T) {
	scoped, none, sourced := apikey.Generate(), apikey.Generate(), apikey.Generate()
	a, logs := newAuthorizer(t, keysource.NewStatic("env", `{"api_keys":{`+
		`"reports":{"key":"`+scoped+`","allow":["GET /reports/*","* /status"],"meta":{"tenant":"t-42","city":"Zürich 🙂"}},`+
		`"nothing":{"key":"`+none+`","allow":[]},`+
		`"office":{"key":"`+sourced+`","sources":["203.0.113.0/24"]}}}`))
	ctx := context.Background()
	stage := "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/Prod/"
	office := netip.MustParseAddr("203.0.113.5")
	for _, tt := range []struct {
		name      string
		in        decision.Request
		effect    string
		resources []string
		client    string
		logged    string // the log line's outcome
	}{
		{"scoped: its routes, whatever the method ARN", decision.Request{Keys: []string{scoped}}, "Allow",
			[]string{stage + "GET/reports/*", stage + "*/status"}, "reports", "authorized"},
		{"allow []: nothing", decision.Request{Keys: []string{none}}, "Deny", []string{stage + "*"}, "nothing", "forbidden"},
		{"sources, from inside", decision.Request{Keys: []string{sourced}, Source: office}, "Allow", []string{stage + "*"}, "office", "authorized"},
		{"sources, from outside", decision.Request{Keys: []string{sourced}, Source: netip.MustParseAddr("198.51.100.1")}, "Deny", []string{stage + "*"}, "office", "forbidden"},
		{"sources, no address (TOKEN)", decision.Request{Keys: []string{sourced}}, "Deny", []string{stage + "*"}, "office", "forbidden"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			logs.Reset()
			resp, err := a.REST(ctx, "requestauthorizer", methodArn, tt.in)
			if err != nil {
				t.Fatalf("REST: %v", err)
			}
			st := resp.PolicyDocument.Statement
			if len(st) != 1 || st[0].Effect != tt.effect || !slices.Equal(st[0].Resource, tt.resources) || resp.PrincipalID != tt.client {
				t.Errorf("policy %+v for %s, want %s on %v", resp.PolicyDocument, resp.PrincipalID, tt.effect, tt.resources)
			}
			l := logs.Last(t, "authorization")
			if l["outcome"] != tt.logged || l["client"] != tt.client {
				t.Errorf("log %v, want outcome %s for %s", l, tt.logged, tt.client)
			}
			// The caller's address, when the event gives one.
			if src, has := l["source_ip"]; has != tt.in.Source.IsValid() || has && src != tt.in.Source.String() {
				t.Errorf("log %v: source_ip %v, want %v", l, src, tt.in.Source)
			}
			if tt.name == "sources, no address (TOKEN)" && (l["reason"] != "source" || l["source_address"] != "none") {
				t.Errorf("log %v, want reason source, source_address none", l)
			}
		})
	}
	// The meta reaches the backend as ASCII JSON (a header value).
	resp, err := a.REST(ctx, "requestauthorizer", methodArn, decision.Request{Keys: []string{scoped}})
	if err != nil {
		t.Fatal(err)
	}
	meta, _ := resp.Context[authorizer.ContextMeta].(string)
	var m map[string]string
	if err := json.Unmarshal([]byte(meta), &m); err != nil || m["city"] != "Zürich 🙂" || m["tenant"] != "t-42" || len(m) != 2 {
		t.Errorf("meta %q (%v), want the entry's", meta, err)
	}
	for _, c := range meta {
		if c > 0x7e || c < 0x20 {
			t.Fatalf("meta %q is not printable ASCII", meta)
		}
	}
	if resp, _ := a.REST(ctx, "requestauthorizer", methodArn, decision.Request{Keys: []string{sourced}, Source: office}); resp.Context[authorizer.ContextMeta] != "{}" {
		t.Errorf("meta of a key without: %v, want {}", resp.Context[authorizer.ContextMeta])
	}
	// The HTTP API authorizer checks the route.
	for _, tt := range []struct {
		method, path string
		want         bool
	}{{"GET", "/reports/1", true}, {"POST", "/reports/1", false}, {"DELETE", "/status", true}, {"GET", "/", false}} {
		r := a.HTTP(ctx, "httpauthorizer", decision.Request{Keys: []string{scoped}, Method: tt.method, Path: tt.path})
		if r.IsAuthorized != tt.want || tt.want && r.Context[authorizer.ContextClient] != "reports" {
			t.Errorf("HTTP %s %s: %+v, want isAuthorized %v", tt.method, tt.path, r, tt.want)
		}
	}
}

// A client with a usage plan: an Allow carries its usage key, the usage
// identifier API Gateway throttles and counts it by; a Deny or a client
// without a plan carries none.
func TestUsageIdentifierKey(t *testing.T) {
	planned, plain := apikey.Generate(), apikey.Generate()
	const usageKey = "UsageKeyValue0123456789abcdef"
	a, _ := newAuthorizer(t, keysource.NewStatic("env", `{"api_keys":{`+
		`"planned":{"key":"`+planned+`","sources":["203.0.113.0/24"],"usage":{"plan":"gold","key_id":"a1b2c3","key":"`+usageKey+`"}},`+
		`"plain":"`+plain+`"}}`))
	ctx := context.Background()
	inside, outside := netip.MustParseAddr("203.0.113.5"), netip.MustParseAddr("198.51.100.5")
	for _, tt := range []struct {
		name string
		in   decision.Request
		want string
	}{
		{"planned client, allowed", decision.Request{Keys: []string{planned}, Source: inside}, usageKey},
		{"planned client, denied", decision.Request{Keys: []string{planned}, Source: outside}, ""},
		{"client without a plan", decision.Request{Keys: []string{plain}}, ""},
	} {
		resp, err := a.REST(ctx, "requestauthorizer", methodArn, tt.in)
		if err != nil || resp.UsageIdentifierKey != tt.want {
			t.Errorf("%s: %+v, %v; want usage identifier %q", tt.name, resp, err, tt.want)
		}
	}
}
