// Package frontdoor adapts the Lambda events of every AWS HTTP front door
// (API Gateway REST API, HTTP API, Lambda Function URL, Application Load
// Balancer) to one http.Handler, through aws-lambda-go-api-proxy, and
// answers each in its own response shape.
//
// It works on raw event bytes (lambda.Handler's Invoke) so that it can tell
// the kinds apart from the event itself and answer malformed input with a
// JSON 400 instead of letting a decode error fail the invocation.
package frontdoor

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/keygate/keygate/internal/authorizer"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/keygate/keygate/handler"
)

var _ lambda.Handler = (*Adapter)(nil)

// Kind is the front door an event came through.
type Kind string

const (
	Unknown     Kind = "unknown"
	REST        Kind = "rest"        // API Gateway REST API, payload 1.0
	HTTPAPI     Kind = "httpapi"     // API Gateway HTTP API, payload 2.0
	FunctionURL Kind = "functionurl" // Lambda Function URL (payload 2.0 shape)
	ALB         Kind = "alb"         // Application Load Balancer target group

	TokenAuthorizer   Kind = "authorizer"        // REST API Lambda authorizer, type TOKEN
	RequestAuthorizer Kind = "requestauthorizer" // REST API Lambda authorizer, type REQUEST
	HTTPAuthorizer    Kind = "httpauthorizer"    // HTTP API Lambda authorizer, payload 2.0
)

// Adapter is a lambda.Handler over keygate's handler.
type Adapter struct {
	v1   *httpadapter.HandlerAdapter
	v2   *httpadapter.HandlerAdapterV2
	alb  *httpadapter.HandlerAdapterALB
	auth *authorizer.Authorizer
	log  *slog.Logger
}

// New adapts h: its HTTP answers for the four front doors, its key check
// (Authenticate) for authorizer events. log receives one line per event
// that could not be served, and the authorizer's decisions.
func New(h *handler.Handler, log *slog.Logger) *Adapter {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Adapter{
		v1:   httpadapter.New(h),
		v2:   httpadapter.NewV2(h),
		alb:  httpadapter.NewALB(h),
		auth: authorizer.New(h, log),
		log:  log,
	}
}

// Invoke serves one event. It never returns an error: every failure becomes
// a JSON answer, so the runtime never records a crash and the next
// invocation is served as usual.
func (a *Adapter) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		ctx = handler.WithRequestID(ctx, lc.AwsRequestID)
	}
	kind, p := detect(payload)
	var (
		resp any
		err  error
	)
	switch {
	case kind == Unknown:
		err = errUnknownEvent
	case kind == TokenAuthorizer || kind == RequestAuthorizer || kind == HTTPAuthorizer:
		return a.authorize(ctx, kind, payload, p)
	case duplicateName(payload):
		err = errDuplicateName
	case kind == REST:
		resp, err = a.rest(ctx, payload)
	case kind == ALB:
		resp, err = a.albTarget(ctx, payload)
	default:
		resp, err = a.httpV2(ctx, payload, p)
	}
	if err != nil {
		a.badEvent(ctx, kind, err, slog.Int("status", http.StatusBadRequest))
		// An ALB reads the header map its target group is set to, and
		// says which by sending it: answer in that mode whenever the
		// event shows it, even when another field broke the decode.
		resp = badRequest(kind, kind == ALB && p.multiValue())
	}
	return json.Marshal(resp)
}

func (a *Adapter) badEvent(ctx context.Context, kind Kind, err error, attrs ...slog.Attr) {
	a.log.LogAttrs(ctx, slog.LevelWarn, "bad event", append([]slog.Attr{
		slog.String("request_id", handler.RequestID(ctx)),
		slog.String("kind", string(kind)),
		slog.String("error", err.Error()),
	}, attrs...)...)
}

// authorize answers an authorizer event. A REST authorizer refuses by
// failing the invocation (Unauthorized: API Gateway's 401; any other
// error: its 500), an HTTP API one with isAuthorized false; an event that
// does not decode is refused, never allowed.
func (a *Adapter) authorize(ctx context.Context, kind Kind, payload []byte, p probe) ([]byte, error) {
	if kind == HTTPAuthorizer {
		var ev events.APIGatewayV2CustomAuthorizerV2Request
		multi, merr := p.multiHeaders()
		if err := json.Unmarshal(payload, &ev); err != nil || merr != nil || duplicateName(payload) {
			a.badEvent(ctx, kind, errDecode)
			return json.Marshal(events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: false})
		}
		return json.Marshal(a.auth.HTTP(ctx, ev, headersConflict(ev.Headers, multi)))
	}
	var (
		resp *events.APIGatewayCustomAuthorizerResponse
		err  error
	)
	switch {
	case duplicateName(payload):
		err = errDuplicateName
	case kind == TokenAuthorizer:
		var ev events.APIGatewayCustomAuthorizerRequest
		if err = json.Unmarshal(payload, &ev); err == nil {
			resp, err = a.auth.Token(ctx, ev)
		}
	default:
		var ev events.APIGatewayCustomAuthorizerRequestTypeRequest
		if err = json.Unmarshal(payload, &ev); err == nil {
			resp, err = a.auth.Request(ctx, ev, headersConflict(ev.Headers, ev.MultiValueHeaders))
		}
	}
	switch {
	case errors.Is(err, authorizer.ErrUnauthorized) || errors.Is(err, authorizer.ErrUnavailable):
		return nil, err // decided and logged
	case err != nil:
		a.badEvent(ctx, kind, errAuthorizerEvent(err))
		return nil, authorizer.ErrUnauthorized
	}
	return json.Marshal(resp)
}

func (a *Adapter) rest(ctx context.Context, payload []byte) (any, error) {
	var ev events.APIGatewayProxyRequest
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, errDecode
	}
	if err := checkRequestLine(ev.HTTPMethod, ev.Path, ev.RequestContext.DomainName, ""); err != nil {
		return nil, err
	}
	if err := checkBody(ev.IsBase64Encoded, ev.Body); err != nil {
		return nil, err
	}
	if headersConflict(ev.Headers, ev.MultiValueHeaders) {
		ctx = handler.WithConflictingKeys(ctx)
	}
	resp, err := a.v1.ProxyWithContext(ctx, ev)
	if err != nil {
		return nil, errConvert
	}
	return resp, nil
}

func (a *Adapter) httpV2(ctx context.Context, payload []byte, p probe) (any, error) {
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, errDecode
	}
	path := ev.RawPath
	if path == "" {
		path = ev.RequestContext.HTTP.Path
	}
	if err := checkRequestLine(ev.RequestContext.HTTP.Method, path, ev.RequestContext.DomainName, ev.RawQueryString); err != nil {
		return nil, err
	}
	if err := checkBody(ev.IsBase64Encoded, ev.Body); err != nil {
		return nil, err
	}
	// Payload 2.0 has no multiValueHeaders, and the proxy ignores one;
	// an event that carries it anyway describes its headers twice.
	multi, err := p.multiHeaders()
	if err != nil {
		return nil, errDecode
	}
	if headersConflict(ev.Headers, multi) {
		ctx = handler.WithConflictingKeys(ctx)
	}
	resp, err := a.v2.ProxyWithContext(ctx, ev)
	if err != nil {
		return nil, errConvert
	}
	return resp, nil
}

func (a *Adapter) albTarget(ctx context.Context, payload []byte) (any, error) {
	var ev events.ALBTargetGroupRequest
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, errDecode
	}
	// The proxy builds the URL from headers["host"], even when the event
	// carries multiValueHeaders: check that very string.
	if err := checkRequestLine(ev.HTTPMethod, ev.Path, ev.Headers["host"], ""); err != nil {
		return nil, err
	}
	if err := checkBody(ev.IsBase64Encoded, ev.Body); err != nil {
		return nil, err
	}
	if headersConflict(ev.Headers, ev.MultiValueHeaders) {
		ctx = handler.WithConflictingKeys(ctx)
	}
	resp, err := a.alb.ProxyWithContext(ctx, ev)
	if err != nil {
		return nil, errConvert
	}
	// An ALB reads multiValueHeaders only when the target group enables
	// them, and says so by sending them; otherwise it reads headers.
	if ev.MultiValueHeaders == nil {
		resp.Headers = singleHeaders(resp.MultiValueHeaders)
		resp.MultiValueHeaders = nil
	}
	resp.StatusDescription = statusLine(resp.StatusCode)
	return resp, nil
}

func firstOf(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

func singleHeaders(h map[string][]string) map[string]string {
	out := make(map[string]string, len(h))
	for k, v := range h {
		out[k] = firstOf(v)
	}
	return out
}

func multiHeaders(h map[string]string) map[string][]string {
	out := make(map[string][]string, len(h))
	for k, v := range h {
		out[k] = []string{v}
	}
	return out
}
