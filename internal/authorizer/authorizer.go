// Package authorizer answers API Gateway's Lambda authorizer events with
// keygate's key check, so that keygate guards any REST or HTTP API: REST
// TOKEN and REQUEST authorizers (an IAM policy, or the error Unauthorized)
// and HTTP API REQUEST authorizers in the simple response format
// (isAuthorized). The decision is the one the HTTP handler makes before it
// routes (handler.Authenticate): exactly one x-api-key value, equal to a
// key in force; never Allow without a loaded key set.
package authorizer

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/keygate/keygate/handler"
)

// Authenticator makes the decision; *handler.Handler is one.
type Authenticator interface {
	Authenticate(ctx context.Context, hdr http.Header) handler.Decision
}

var _ Authenticator = (*handler.Handler)(nil)

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
	auth Authenticator
	log  *slog.Logger
}

// New returns an Authorizer; log receives one line per decision.
func New(auth Authenticator, log *slog.Logger) *Authorizer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Authorizer{auth: auth, log: log}
}

// Kinds of authorizer event, as logged.
const (
	KindToken   = "token-authorizer"   // REST API, type TOKEN
	KindRequest = "request-authorizer" // REST API, type REQUEST
	KindHTTP    = "httpapi-authorizer" // HTTP API, payload 2.0
)

// Token decides a REST TOKEN authorizer event, whose authorizationToken is
// the value of the identity source (method.request.header.x-api-key).
func (a *Authorizer) Token(ctx context.Context, ev events.APIGatewayCustomAuthorizerRequest) (*events.APIGatewayCustomAuthorizerResponse, error) {
	hdr := http.Header{}
	if ev.AuthorizationToken != "" {
		hdr.Set(handler.HeaderName, ev.AuthorizationToken)
	}
	return a.rest(ctx, KindToken, ev.MethodArn, hdr)
}

// Request decides a REST REQUEST authorizer event with the proxy's rules:
// the multi-value header map when there is one, and a key that the two
// maps disagree about is ambiguous.
func (a *Authorizer) Request(ctx context.Context, ev events.APIGatewayCustomAuthorizerRequestTypeRequest, conflict bool) (*events.APIGatewayCustomAuthorizerResponse, error) {
	if conflict {
		ctx = handler.WithConflictingKeys(ctx)
	}
	hdr := http.Header{}
	if ev.MultiValueHeaders != nil {
		for k, vs := range ev.MultiValueHeaders {
			for _, v := range vs {
				hdr.Add(k, v)
			}
		}
	} else {
		for k, v := range ev.Headers {
			hdr.Add(k, v)
		}
	}
	return a.rest(ctx, KindRequest, ev.MethodArn, hdr)
}

func (a *Authorizer) rest(ctx context.Context, kind, methodArn string, hdr http.Header) (*events.APIGatewayCustomAuthorizerResponse, error) {
	// API Gateway caches the decision by the identity source (the key),
	// for the authorizer's TTL, and reuses it for every route of the
	// stage: a policy naming only this method would make the cached
	// Allow refuse the client's next, different, request. So the policy
	// covers the whole stage: every method and path of this API.
	resource, ok := stageWide(methodArn)
	if !ok {
		return nil, ErrBadEvent
	}
	d := a.auth.Authenticate(ctx, hdr)
	a.logDecision(ctx, kind, d)
	switch {
	case d.Unavailable():
		return nil, ErrUnavailable
	case !d.Authorized():
		return nil, ErrUnauthorized
	}
	return &events.APIGatewayCustomAuthorizerResponse{
		PrincipalID: d.Client,
		PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{
			Version: "2012-10-17",
			Statement: []events.IAMPolicyStatement{{
				Action:   []string{"execute-api:Invoke"},
				Effect:   "Allow",
				Resource: []string{resource},
			}},
		},
		Context: map[string]any{ContextClient: d.Client},
	}, nil
}

// HTTP decides an HTTP API REQUEST authorizer event (payload 2.0) and
// answers in the simple format. Its headers follow payload 2.0: one string
// per name, repeated headers joined with commas (ambiguous).
func (a *Authorizer) HTTP(ctx context.Context, ev events.APIGatewayV2CustomAuthorizerV2Request, conflict bool) events.APIGatewayV2CustomAuthorizerSimpleResponse {
	if conflict {
		ctx = handler.WithConflictingKeys(ctx)
	}
	hdr := http.Header{}
	for k, v := range ev.Headers {
		hdr.Add(k, v)
	}
	d := a.auth.Authenticate(ctx, hdr)
	a.logDecision(ctx, KindHTTP, d)
	if !d.Authorized() {
		return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: false}
	}
	return events.APIGatewayV2CustomAuthorizerSimpleResponse{
		IsAuthorized: true,
		Context:      map[string]any{ContextClient: d.Client},
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

func (a *Authorizer) logDecision(ctx context.Context, kind string, d handler.Decision) {
	attrs := []slog.Attr{
		slog.String("request_id", handler.RequestID(ctx)),
		slog.String("kind", kind),
		slog.String("outcome", d.Outcome),
		slog.Bool("allowed", d.Authorized()),
	}
	if d.Client != "" {
		attrs = append(attrs, slog.String("client", d.Client))
	}
	level := slog.LevelInfo
	if d.Unavailable() {
		level = slog.LevelError
	}
	a.log.LogAttrs(ctx, level, "authorization", attrs...)
}
