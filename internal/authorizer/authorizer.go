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
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

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

// The authorizer context the API passes on (context.authorizer.NAME in
// REST mappings, $context.authorizer.NAME in HTTP API ones): the client's
// name, and its entry's meta as a JSON object in a string (an authorizer's
// context values are strings, numbers or booleans), "{}" when it has none,
// so that a mapping to a request header always has a value and the caller
// can never supply that header itself.
const (
	ContextClient = "client"
	ContextMeta   = "meta"
)

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
//
// API Gateway caches the decision by the identity sources (the key, and
// for the template's REQUEST authorizer the source address) for the
// authorizer's TTL, and applies the cached policy to every route of the
// stage. So the policy lists exactly the routes the key's allow permits,
// one resource per pattern (arn:…:API/STAGE/METHOD/PATH), or the whole
// stage without an allow: API Gateway's own 403 refuses the others, cached
// decision or not.
func (a *Authorizer) REST(ctx context.Context, kind, methodArn string, in decision.Request) (*events.APIGatewayCustomAuthorizerResponse, error) {
	stage, ok := stagePrefix(methodArn)
	if !ok {
		return nil, ErrBadEvent
	}
	in.RoutesByPolicy = true
	d := a.decide.Decide(ctx, in)
	a.logDecision(ctx, kind, in, d)
	switch {
	case d.Outcome == decision.Unavailable:
		return nil, ErrUnavailable
	case d.Outcome == decision.Forbidden:
		// A valid key from an address outside its sources, or with an
		// empty allow: API Gateway's 403, like a route outside its allow.
		return policy(d, "Deny", []string{stage + "*"}), nil
	case !d.Allowed():
		return nil, ErrUnauthorized
	}
	allow := d.Allow()
	if allow == nil {
		return policy(d, "Allow", []string{stage + "*"}), nil
	}
	resources := make([]string, len(allow))
	for i, p := range allow {
		resources[i] = stage + p.Method + p.Path
	}
	return policy(d, "Allow", resources), nil
}

// policy is an authorizer response for d: effect on resources, the client
// as principal, the context the API passes on, and for an Allow the
// client's usage key: with the API's key source AUTHORIZER, API Gateway
// throttles and counts the client by the usage plan that key belongs to.
func policy(d decision.Result, effect string, resources []string) *events.APIGatewayCustomAuthorizerResponse {
	var usage string
	if effect == "Allow" {
		usage = d.Entry.UsageKey
	}
	return &events.APIGatewayCustomAuthorizerResponse{
		UsageIdentifierKey: usage,
		PrincipalID:        d.Client(),
		PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{
			Version: "2012-10-17",
			Statement: []events.IAMPolicyStatement{{
				Action:   []string{"execute-api:Invoke"},
				Effect:   effect,
				Resource: resources,
			}},
		},
		Context: contextOf(d),
	}
}

// contextOf is the authorizer context for d.
func contextOf(d decision.Result) map[string]any {
	return map[string]any{ContextClient: d.Client(), ContextMeta: metaJSON(d.Meta())}
}

// metaJSON encodes meta as a JSON object in ASCII (anything else escaped
// as \uXXXX), since it travels in a request header.
func metaJSON(meta map[string]string) string {
	if len(meta) == 0 {
		return "{}"
	}
	b, _ := json.Marshal(meta) // a map of strings always encodes
	var out strings.Builder
	for _, r := range string(b) {
		switch {
		case r < utf8.RuneSelf:
			out.WriteRune(r)
		case r > 0xFFFF:
			hi, lo := utf16.EncodeRune(r)
			fmt.Fprintf(&out, `\u%04x\u%04x`, hi, lo)
		default:
			fmt.Fprintf(&out, `\u%04x`, r)
		}
	}
	return out.String()
}

// HTTP decides an HTTP API REQUEST authorizer event (payload 2.0) and
// answers in the simple format. The decision checks the route itself (in
// carries the request line): the template's HTTP API caches decisions by
// the key, the source address, the method and the path, so a cached
// answer is always for the same route and address.
func (a *Authorizer) HTTP(ctx context.Context, kind string, in decision.Request) events.APIGatewayV2CustomAuthorizerSimpleResponse {
	d := a.decide.Decide(ctx, in)
	a.logDecision(ctx, kind, in, d)
	if !d.Allowed() {
		return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: false}
	}
	return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: true, Context: contextOf(d)}
}

// stagePrefix turns a method ARN
// (arn:aws:execute-api:REGION:ACCOUNT:API/STAGE/VERB/PATH) into the start
// of every method ARN of its stage (arn:…:API/STAGE/).
func stagePrefix(methodArn string) (string, bool) {
	parts := strings.SplitN(methodArn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "execute-api" {
		return "", false
	}
	api, rest, ok := strings.Cut(parts[5], "/")
	stage, _, _ := strings.Cut(rest, "/")
	if !ok || api == "" || stage == "" {
		return "", false
	}
	return strings.Join(parts[:5], ":") + ":" + api + "/" + stage + "/", true
}

func (a *Authorizer) logDecision(ctx context.Context, kind string, in decision.Request, d decision.Result) {
	attrs := []slog.Attr{
		slog.String("request_id", requestid.From(ctx)),
		slog.String("kind", kind),
		slog.String("outcome", string(d.Outcome)),
		slog.Bool("allowed", d.Allowed()),
	}
	if c := d.Client(); c != "" {
		attrs = append(attrs, slog.String("client", c))
	}
	attrs = append(attrs, decision.LogSource(in)...)
	attrs = append(attrs, decision.LogReason(in, d)...)
	level := slog.LevelInfo
	if d.Outcome == decision.Unavailable {
		level = slog.LevelError
	}
	a.log.LogAttrs(ctx, level, "authorization", attrs...)
}
