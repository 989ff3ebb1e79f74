// Package frontdoor adapts the Lambda events of every AWS HTTP front door
// (API Gateway REST API, HTTP API, Lambda Function URL, Application Load
// Balancer) to one http.Handler, through aws-lambda-go-api-proxy, and
// answers each in its own response shape; and API Gateway's Lambda
// authorizer events to package authorizer.
//
// It works on raw event bytes (lambda.Handler's Invoke): one decode reads
// any door's event and tells the doors apart (event.go), and malformed
// input gets a JSON 400 instead of a failed invocation.
package frontdoor

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/awslabs/aws-lambda-go-api-proxy/core"

	"github.com/keygate/keygate/handler"
	"github.com/keygate/keygate/internal/authorizer"
	"github.com/keygate/keygate/internal/decision"
	"github.com/keygate/keygate/internal/metrics"
	"github.com/keygate/keygate/internal/requestid"
)

var _ lambda.Handler = (*Adapter)(nil)

// Kind is the front door an event came through. Its values name the
// sample events (events/<kind>-<case>.json) and the "kind" of log lines.
type Kind string

const (
	Unknown     Kind = "unknown"
	REST        Kind = "rest"        // API Gateway REST API, payload 1.0
	HTTPAPI     Kind = "httpapi"     // API Gateway HTTP API, payload 2.0
	FunctionURL Kind = "functionurl" // Lambda Function URL (payload 2.0 shape)
	ALB         Kind = "alb"         // Application Load Balancer target group

	TokenAuthorizer   Kind = "tokenauthorizer"   // REST API Lambda authorizer, type TOKEN
	RequestAuthorizer Kind = "requestauthorizer" // REST API Lambda authorizer, type REQUEST
	HTTPAuthorizer    Kind = "httpauthorizer"    // HTTP API Lambda authorizer, payload 2.0
)

// Authorizer reports whether k is a Lambda authorizer's door, whose events
// get a decision rather than a response.
func (k Kind) Authorizer() bool {
	return k == TokenAuthorizer || k == RequestAuthorizer || k == HTTPAuthorizer
}

// Adapter is a lambda.Handler over keygate's handler and authorizer.
type Adapter struct {
	h    *handler.Handler
	auth *authorizer.Authorizer
	log  *slog.Logger
	v1   core.RequestAccessor
	v2   core.RequestAccessorV2
	alb  core.RequestAccessorALB
}

// New adapts keygate's handler (the four front doors) and authorizer
// (authorizer events), both deciding with d. log receives their lines, and
// one line per event that could not be served.
func New(d handler.Decider, log *slog.Logger) *Adapter {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Adapter{h: handler.New(d, log), auth: authorizer.New(d, log), log: log}
}

// Invoke serves one event. It never returns an error for a front door's
// event: every failure becomes a JSON answer, so the runtime never records
// a crash and the next invocation is served as usual. (A REST authorizer
// refuses by failing: see authorize.)
func (a *Adapter) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		ctx = requestid.With(ctx, lc.AwsRequestID)
	}
	d, err := decode(payload)
	if d.kind == Unknown {
		err = errUnknownEvent
	} else {
		// The door of the request's metrics (package metrics), which the
		// handler's and the authorizer's lines do not name themselves.
		ctx = metrics.WithDoor(ctx, string(d.kind))
	}
	if d.kind.Authorizer() {
		return a.authorize(ctx, d, err)
	}
	var resp any
	if err == nil {
		resp, err = a.serve(ctx, d)
	}
	if err != nil {
		a.badEvent(ctx, d.kind, err, slog.Int("status", http.StatusBadRequest))
		// An ALB reads the header map its target group is set to, and
		// says which by sending it: answer in that mode whenever the
		// event shows it, even when another member broke the decode.
		resp = badRequest(d.kind, d.kind == ALB && d.multi != nil)
	}
	return json.Marshal(resp)
}

func (a *Adapter) badEvent(ctx context.Context, kind Kind, err error, attrs ...slog.Attr) {
	a.log.LogAttrs(ctx, slog.LevelWarn, "bad event", append([]slog.Attr{
		slog.String("request_id", requestid.From(ctx)),
		slog.String("kind", string(kind)),
		slog.String("error", err.Error()),
	}, attrs...)...)
}

// serve answers a front door's event through the handler: check what the
// proxy would choke on, convert the event to an http.Request, serve it with
// what the event presents, convert the answer back.
func (a *Adapter) serve(ctx context.Context, d decoded) (any, error) {
	switch ev := d.event.(type) {
	case *events.APIGatewayProxyRequest:
		if err := check(ev.HTTPMethod, ev.Path, ev.RequestContext.DomainName, "", ev.IsBase64Encoded, ev.Body); err != nil {
			return nil, err
		}
		r, err := a.v1.EventToRequestWithContext(ctx, *ev)
		return respond(a.h, core.NewProxyResponseWriter(), r, err, presented(ev.Headers, ev.MultiValueHeaders, true, ev.RequestContext.Identity.SourceIP))
	case *events.APIGatewayV2HTTPRequest:
		path := ev.RawPath
		if path == "" {
			path = ev.RequestContext.HTTP.Path
		}
		if err := check(ev.RequestContext.HTTP.Method, path, ev.RequestContext.DomainName, ev.RawQueryString, ev.IsBase64Encoded, ev.Body); err != nil {
			return nil, err
		}
		r, err := a.v2.EventToRequestWithContext(ctx, *ev)
		return respond(a.h, core.NewProxyResponseWriterV2(), r, err, presented(ev.Headers, d.multi, false, ev.RequestContext.HTTP.SourceIP))
	case *events.ALBTargetGroupRequest:
		// The proxy builds the URL from headers["host"], even when the
		// event carries multiValueHeaders: check that very string.
		if err := check(ev.HTTPMethod, ev.Path, ev.Headers["host"], "", ev.IsBase64Encoded, ev.Body); err != nil {
			return nil, err
		}
		r, err := a.alb.EventToRequestWithContext(ctx, *ev)
		resp, err := respond(a.h, core.NewProxyResponseWriterALB(), r, err, presented(ev.Headers, ev.MultiValueHeaders, true, albSource(ev.Headers, ev.MultiValueHeaders)))
		if err != nil {
			return nil, err
		}
		// An ALB reads multiValueHeaders only when the target group
		// enables them, and says so by sending them; otherwise headers.
		if ev.MultiValueHeaders == nil {
			resp.Headers = singleHeaders(resp.MultiValueHeaders)
			resp.MultiValueHeaders = nil
		}
		resp.StatusDescription = statusLine(resp.StatusCode)
		return resp, nil
	}
	return nil, errUnknownEvent
}

// proxyWriter is the proxy's response writer of one door, R its response.
type proxyWriter[R any] interface {
	http.ResponseWriter
	GetProxyResponse() (R, error)
}

// respond serves r, which the proxy built (or failed to: err), with h.
func respond[R any](h *handler.Handler, w proxyWriter[R], r *http.Request, err error, in decision.Request) (R, error) {
	var zero R
	if err != nil {
		return zero, errConvert
	}
	h.Serve(w, r, in)
	resp, err := w.GetProxyResponse()
	if err != nil {
		return zero, errConvert
	}
	return resp, nil
}

// authorize answers an authorizer event that decoded, or did not (err).
// A REST authorizer refuses by failing the invocation (Unauthorized: API
// Gateway's 401; any other error: its 500), an HTTP API one with
// isAuthorized false; an event that does not decode is refused, never
// allowed.
func (a *Adapter) authorize(ctx context.Context, d decoded, err error) ([]byte, error) {
	kind := string(d.kind)
	if err != nil {
		a.badEvent(ctx, d.kind, err)
		if d.kind == HTTPAuthorizer {
			return json.Marshal(events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: false})
		}
		return nil, authorizer.ErrUnauthorized
	}
	var resp *events.APIGatewayCustomAuthorizerResponse
	switch ev := d.event.(type) {
	case *events.APIGatewayV2CustomAuthorizerV2Request:
		in := presented(ev.Headers, d.multi, false, ev.RequestContext.HTTP.SourceIP)
		// No policy hands the routes on: the decision checks the route,
		// on the path decoded as the handler sees one ("%2e%2e" is a dot
		// segment to a backend too).
		in.Method, in.Path = ev.RequestContext.HTTP.Method, ev.RawPath
		if in.Path == "" {
			in.Path = ev.RequestContext.HTTP.Path
		}
		if p, err := url.PathUnescape(in.Path); err == nil {
			in.Path = p
		}
		return json.Marshal(a.auth.HTTP(ctx, kind, in))
	case *events.APIGatewayCustomAuthorizerRequest:
		var in decision.Request
		if ev.AuthorizationToken != "" {
			in.Keys = []string{ev.AuthorizationToken}
		}
		resp, err = a.auth.REST(ctx, kind, ev.MethodArn, in)
	case *events.APIGatewayCustomAuthorizerRequestTypeRequest:
		resp, err = a.auth.REST(ctx, kind, ev.MethodArn, presented(ev.Headers, ev.MultiValueHeaders, true, ev.RequestContext.Identity.SourceIP))
	}
	switch {
	case errors.Is(err, authorizer.ErrUnauthorized) || errors.Is(err, authorizer.ErrUnavailable):
		return nil, err // decided and logged
	case err != nil:
		a.badEvent(ctx, d.kind, err)
		return nil, authorizer.ErrUnauthorized
	}
	return json.Marshal(resp)
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
