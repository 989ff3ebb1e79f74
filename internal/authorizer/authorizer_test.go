package authorizer_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"

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
