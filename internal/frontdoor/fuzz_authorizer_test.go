package frontdoor_test

import (
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/keygate/keygate/internal/authorizer"
	"github.com/keygate/keygate/internal/frontdoor"
)

// checkAuthorizer is FuzzInvoke's property for authorizer events: Allow
// (a policy for the stage, or isAuthorized true) only when the oracle
// finds exactly one x-api-key value equal to the unexpired key, and then
// for its client; every other answer refuses: Unauthorized for REST (an
// event that does not decode too), isAuthorized false for an HTTP API.
// Never another error (the key set is loaded), never a key in the answer
// or the log, exactly one log line, nothing printed outside the logger.
func (h *fuzzHarness) checkAuthorizer(t *testing.T, payload, out []byte, err error, printed string) {
	logs := h.logs.String()
	for _, k := range fuzzKeys {
		if strings.Contains(string(out)+logs+printed, k) {
			t.Fatalf("a key in the answer, the log or stdout: %s %s %q", out, logs, printed)
		}
	}
	if printed != "" {
		t.Fatalf("printed outside keygate's logger: %q", printed)
	}
	line := oneLogLine(t, logs)
	o := fuzzAuthorizerExpect(payload)
	allowed := false
	switch o.kind {
	case frontdoor.HTTPAuthorizer:
		if err != nil {
			t.Fatalf("an HTTP API authorizer answered with an error: %v", err)
		}
		var r struct {
			IsAuthorized *bool          `json:"isAuthorized"`
			Context      map[string]any `json:"context"`
		}
		if json.Unmarshal(out, &r) != nil || r.IsAuthorized == nil {
			t.Fatalf("not a simple authorizer response: %s", out)
		}
		allowed = *r.IsAuthorized
		if allowed && r.Context[authorizer.ContextClient] != o.client() {
			t.Fatalf("allowed without naming the client %s: %s", o.client(), out)
		}
	default:
		switch {
		case err == nil:
			var r events.APIGatewayCustomAuthorizerResponse
			if json.Unmarshal(out, &r) != nil || len(r.PolicyDocument.Statement) != 1 {
				t.Fatalf("not an IAM policy answer: %s", out)
			}
			st := r.PolicyDocument.Statement[0]
			wantRoutes := []string{"*"} // the whole stage
			if st.Effect == "Allow" && o.client() == "fuzz-scoped" {
				wantRoutes = []string{"GET/", "HEAD/reports/*"}
			}
			var routes []string
			for _, res := range st.Resource {
				parts := strings.SplitN(res, "/", 3)
				if len(parts) == 3 {
					routes = append(routes, parts[2])
				}
			}
			if st.Effect == "Deny" {
				if o.outcome() != "forbidden" || !slices.Equal(routes, wantRoutes) || r.PrincipalID != o.client() {
					t.Fatalf("a Deny policy for outcome %s: %s", o.outcome(), out)
				}
				break
			}
			if st.Effect != "Allow" || !slices.Equal(routes, wantRoutes) || r.PrincipalID != o.client() {
				t.Fatalf("a policy that is not Allow on %v for the client %s: %s", wantRoutes, o.client(), out)
			}
			allowed = true
		case !errors.Is(err, authorizer.ErrUnauthorized) || err.Error() != "Unauthorized":
			t.Fatalf("a REST authorizer failed with %v, want exactly Unauthorized (the key set is loaded)", err)
		}
	}
	if want := o.decoded && o.outcome() == "authorized"; allowed != want {
		t.Fatalf("allowed %v, want %v: x-api-key values %q, conflict %v, duplicate %v (%s)", allowed, want, o.keys, o.conflict, o.duplicate, payload)
	}
	if o.decoded && !o.duplicate && line.Msg == "authorization" && line.Outcome != o.outcome() {
		t.Errorf("logged outcome %q, want %q", line.Outcome, o.outcome())
	}
}

// fuzzAuthorizerExpect reads what an authorizer event presents, without
// keygate's code: a TOKEN event its authorizationToken; a REQUEST event its
// headers, as the REST proxy does (multi-value map first, two maps that
// disagree are ambiguous); an HTTP API one its headers map.
func fuzzAuthorizerExpect(payload []byte) fuzzOracle {
	o := fuzzOracle{kind: frontdoor.Detect(payload)}
	if o.duplicate = fuzzDuplicate(payload, o.kind); o.duplicate {
		return o
	}
	var probe struct {
		MultiValueHeaders json.RawMessage `json:"multiValueHeaders"`
	}
	json.Unmarshal(payload, &probe)
	switch o.kind {
	case frontdoor.TokenAuthorizer:
		var ev events.APIGatewayCustomAuthorizerRequest
		if json.Unmarshal(payload, &ev) != nil || !stageArn(ev.MethodArn) {
			return o
		}
		o.decoded, o.noRoutes = true, true // no address: a key with sources is refused
		if ev.AuthorizationToken != "" {
			o.keys = []string{ev.AuthorizationToken}
		}
	case frontdoor.RequestAuthorizer:
		var ev events.APIGatewayCustomAuthorizerRequestTypeRequest
		if json.Unmarshal(payload, &ev) != nil || !stageArn(ev.MethodArn) {
			return o
		}
		o.decoded, o.noRoutes = true, true
		o.keys = keyValues(ev.Headers, ev.MultiValueHeaders)
		o.conflict = fuzzConflict(ev.Headers, ev.MultiValueHeaders)
		o.source = ev.RequestContext.Identity.SourceIP
	case frontdoor.HTTPAuthorizer:
		var ev events.APIGatewayV2CustomAuthorizerV2Request
		var multi map[string][]string
		if json.Unmarshal(payload, &ev) != nil || len(probe.MultiValueHeaders) > 0 && json.Unmarshal(probe.MultiValueHeaders, &multi) != nil {
			return o
		}
		o.decoded = true
		o.keys = keyValues(ev.Headers, nil)
		o.conflict = fuzzConflict(ev.Headers, multi)
		p := ev.RawPath
		if p == "" {
			p = ev.RequestContext.HTTP.Path
		}
		if u, err := url.PathUnescape(p); err == nil {
			p = u
		}
		o.method, o.path, o.source = ev.RequestContext.HTTP.Method, cleanPath(p), ev.RequestContext.HTTP.SourceIP
	}
	return o
}

// client is the client the key names, for an authorized or forbidden one.
func (o fuzzOracle) client() string {
	switch strings.Trim(o.keys[0], " \t") {
	case fuzzScopedKey:
		return "fuzz-scoped"
	case fuzzSourcedKey:
		return "fuzz-sourced"
	}
	return "fuzz-right"
}

// stageArn: arn:aws:execute-api:REGION:ACCOUNT:API/STAGE/…, the methodArn
// a REST authorizer can write a policy for.
func stageArn(arn string) bool {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "execute-api" {
		return false
	}
	api, rest, ok := strings.Cut(parts[5], "/")
	stage, _, _ := strings.Cut(rest, "/")
	return ok && api != "" && stage != ""
}
