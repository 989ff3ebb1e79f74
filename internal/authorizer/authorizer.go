// Package authorizer answers API Gateway's Lambda authorizer events with
// keygate's key decision, so that keygate guards any REST or HTTP API: REST
// TOKEN and REQUEST authorizers (an IAM policy, or the error Unauthorized)
// and HTTP API REQUEST authorizers in the simple response format
// (isAuthorized). The decision is the one the HTTP handler makes before it
// routes (package decision): exactly one x-api-key value, equal to a key in
// force; never Allow without a loaded key set.
package authorizer

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/keygate/keygate/internal/decision"
	"github.com/keygate/keygate/internal/requestid"
)

// Decider makes the key decision; *decision.Decider is one.
type Decider interface {
	Decide(ctx context.Context, req decision.Request) decision.Result
}

var _ Decider = (*decision.Decider)(nil)

// ErrUnauthorized is the error API Gateway turns into its 401: a REST
// authorizer refuses by failing with exactly this message.
var ErrUnauthorized = errors.New("Unauthorized")

// ErrUnavailable refuses while no key set is loaded. Any message but
// "Unauthorized" makes API Gateway answer 500: the caller can tell an
// outage from a bad key, and nothing is allowed.
var ErrUnavailable = errors.New("keygate: no API key set is loaded, so nothing is authorized (see the function's log)")

// ErrBadEvent refuses an event whose methodArn is not an execute-api ARN:
// no policy can be written for it (API Gateway always sends one).
var ErrBadEvent = errors.New("authorizer event has no execute-api methodArn (arn:aws:execute-api:REGION:ACCOUNT:API/STAGE/VERB/PATH): nothing is authorized")

// ContextClient is the key of the client's name in the authorizer context
// the API passes on (context.authorizer.client in REST mappings,
// $context.authorizer.client in HTTP API ones).
const ContextClient = "client"

// Authorizer answers authorizer events. Create it with New.
type Authorizer struct {
	decide Decider
	log    *slog.Logger
}

// New returns an Authorizer; log receives one line per decision.
func New(d Decider, log *slog.Logger) *Authorizer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Authorizer{decide: d, log: log}
}

// REST decides a REST API authorizer event (TOKEN or REQUEST; kind names
// it in the log) for methodArn, with what the event presents.
func (a *Authorizer) REST(ctx context.Context, kind, methodArn string, in decision.Request) (*events.APIGatewayCustomAuthorizerResponse, error) {
	// API Gateway caches the decision by the identity source (the key),
	// for the authorizer's TTL, and reuses it for every route of the
	// stage: a policy naming only this method would make the cached
	// Allow refuse the client's next, different, request. So the policy
	// covers the whole stage: every method and path of this API.
	resource, ok := stageWide(methodArn)
	if !ok {
		return nil, ErrBadEvent
	}
	d := a.decide.Decide(ctx, in)
	a.logDecision(ctx, kind, d)
	switch {
	case d.Outcome == decision.Unavailable:
		return nil, ErrUnavailable
	case !d.Allowed():
		return nil, ErrUnauthorized
	}
	return &events.APIGatewayCustomAuthorizerResponse{
		PrincipalID: d.Client(),
		PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{
			Version: "2012-10-17",
			Statement: []events.IAMPolicyStatement{{
				Action:   []string{"execute-api:Invoke"},
				Effect:   "Allow",
				Resource: []string{resource},
			}},
		},
		Context: map[string]any{ContextClient: d.Client()},
	}, nil
}

// HTTP decides an HTTP API REQUEST authorizer event (payload 2.0) and
// answers in the simple format.
func (a *Authorizer) HTTP(ctx context.Context, kind string, in decision.Request) events.APIGatewayV2CustomAuthorizerSimpleResponse {
	d := a.decide.Decide(ctx, in)
	a.logDecision(ctx, kind, d)
	if !d.Allowed() {
		return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: false}
	}
	return events.APIGatewayV2CustomAuthorizerSimpleResponse{
		IsAuthorized: true,
		Context:      map[string]any{ContextClient: d.Client()},
	}
}

// stageWide turns a method ARN
// (arn:aws:execute-api:REGION:ACCOUNT:API/STAGE/VERB/PATH) into the ARN of
// every method and path of its stage (arn:…:API/STAGE/*).
func stageWide(methodArn string) (string, bool) {
	parts := strings.SplitN(methodArn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "execute-api" {
		return "", false
	}
	api, rest, ok := strings.Cut(parts[5], "/")
	stage, _, _ := strings.Cut(rest, "/")
	if !ok || api == "" || stage == "" {
		return "", false
	}
	return strings.Join(parts[:5], ":") + ":" + api + "/" + stage + "/*", true
}

func (a *Authorizer) logDecision(ctx context.Context, kind string, d decision.Result) {
	attrs := []slog.Attr{
		slog.String("request_id", requestid.From(ctx)),
		slog.String("kind", kind),
		slog.String("outcome", string(d.Outcome)),
		slog.Bool("allowed", d.Allowed()),
	}
	if c := d.Client(); c != "" {
		attrs = append(attrs, slog.String("client", c))
	}
	level := slog.LevelInfo
	if d.Outcome == decision.Unavailable {
		level = slog.LevelError
	}
	a.log.LogAttrs(ctx, level, "authorization", attrs...)
}
