package frontdoor_test

import (
	"errors"
	"testing"

	samples "github.com/keygate/keygate/events"
	"github.com/keygate/keygate/internal/authorizer"
	"github.com/keygate/keygate/internal/frontdoor"
	"github.com/keygate/keygate/internal/testsupport/doortest"
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

	seen := 0
	for _, ev := range evs {
		if !frontdoor.Kind(ev.Door).Authorizer() {
			continue
		}
		seen++
		t.Run(ev.Name, func(t *testing.T) {
			if got := frontdoor.Detect(ev.Payload); got != frontdoor.Kind(ev.Door) {
				t.Fatalf("Detect = %s, want %s", got, ev.Door)
			}
			f := newFixture()
			out, printed := f.invokeErr(t, ev.Payload)
			allow := ev.Want.Decision == "allow"
			failure := ""
			if out.err != nil {
				failure = out.err.Error()
			}
			doortest.Decision(t, ev, out.body, failure)
			if out.err != nil && !errors.Is(out.err, authorizer.ErrUnauthorized) {
				t.Errorf("failed with %v, not authorizer.ErrUnauthorized", out.err)
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
