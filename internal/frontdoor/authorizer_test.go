package frontdoor_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	samples "github.com/keygate/keygate/events"
	"github.com/keygate/keygate/internal/authorizer"
	"github.com/keygate/keygate/internal/frontdoor"
)

// TestAuthorizerEventFiles runs every authorizer sample event through the
// adapter: detected as its kind, decided as events/expected.json says.
// Allow: for REST an IAM policy for the client, covering every method and
// path of the stage (so that API Gateway's cached decision is right for the
// client's other routes too), and the client's name in the context; for an
// HTTP API isAuthorized true and the name. Deny: the error Unauthorized
// (REST: API Gateway's 401), or isAuthorized false.
func TestAuthorizerEventFiles(t *testing.T) {
	evs, err := samples.All()
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]frontdoor.Kind{"authorizer": frontdoor.TokenAuthorizer, "requestauthorizer": frontdoor.RequestAuthorizer, "httpauthorizer": frontdoor.HTTPAuthorizer}
	seen := 0
	for _, ev := range evs {
		if !samples.Authorizer(ev.Door) {
			continue
		}
		seen++
		t.Run(ev.Name, func(t *testing.T) {
			if got := frontdoor.Detect(ev.Payload); got != kinds[ev.Door] {
				t.Fatalf("Detect = %s, want %s", got, kinds[ev.Door])
			}
			f := newFixture()
			out, printed := f.invokeErr(t, ev.Payload)
			allow := ev.Want.Decision == "allow"
			switch {
			case ev.Door == "httpauthorizer":
				var r events.APIGatewayV2CustomAuthorizerSimpleResponse
				if out.err != nil || json.Unmarshal(out.body, &r) != nil {
					t.Fatalf("answer %s, %v: want a simple response", out.body, out.err)
				}
				if r.IsAuthorized != allow || allow && r.Context["client"] != "example" {
					t.Errorf("answer %s, want isAuthorized %v for client example", out.body, allow)
				}
			case allow:
				var r events.APIGatewayCustomAuthorizerResponse
				if out.err != nil || json.Unmarshal(out.body, &r) != nil {
					t.Fatalf("answer %s, %v: want a policy", out.body, out.err)
				}
				st := r.PolicyDocument.Statement
				if r.PrincipalID != "example" || r.Context["client"] != "example" || r.PolicyDocument.Version != "2012-10-17" || len(st) != 1 ||
					st[0].Effect != "Allow" || len(st[0].Action) != 1 || st[0].Action[0] != "execute-api:Invoke" ||
					len(st[0].Resource) != 1 || st[0].Resource[0] != "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/Prod/*" {
					t.Errorf("policy %s: want Allow execute-api:Invoke on every method and path of the Prod stage, for client example", out.body)
				}
			default:
				if out.body != nil || !errors.Is(out.err, authorizer.ErrUnauthorized) || out.err.Error() != "Unauthorized" {
					t.Errorf("answer %s, %v: want exactly the error Unauthorized", out.body, out.err)
				}
			}
			if printed != "" {
				t.Errorf("printed outside the logger: %q", printed)
			}
			line := lastLine(t, f.logs.String())
			if line["msg"] != "authorization" || line["outcome"] != ev.Want.Outcome || line["request_id"] != "lambda-req-42" || line["allowed"] != allow {
				t.Errorf("log line %v, want the authorization, outcome %s", line, ev.Want.Outcome)
			}
			assertNoKey(t, string(out.body)+f.logs.String())
		})
	}
	if seen == 0 {
		t.Fatal("no authorizer sample events")
	}
}
