// Package direct is the baseline keygate's front door is benchmarked
// against: the same route, key check, answers and log line, written directly
// on aws-lambda-go's event types, one handler per front door, with no HTTP
// adapter in between. It is what a careful author would write by hand for a
// single front door; the difference to keygate is the price of serving every
// front door through one http.Handler.
//
// It is a benchmark baseline only: it is not wired into any binary.
package direct

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/keygate/keygate/internal/apikey"
)

const (
	bodyOK           = `{"message":"OK: Authorized"}`
	bodyUnauthorized = `{"message":"ERROR: Unauthorized"}`
	bodyNotFound     = `{"message":"ERROR: Not Found"}`
)

// Handler answers events with the key set it was given.
type Handler struct {
	set *apikey.Set
	log *slog.Logger
	now func() time.Time
}

// New returns the baseline handler. log may be nil (no log line).
func New(set *apikey.Set, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{set: set, log: log, now: time.Now}
}

// REST, HTTPAPI and ALB are lambda.Handlers from raw event bytes to response
// bytes, through aws-lambda-go's own JSON decoding and encoding (the path
// lambda.Start takes).
func (h *Handler) REST() lambda.Handler    { return lambda.NewHandler(h.ServeREST) }
func (h *Handler) HTTPAPI() lambda.Handler { return lambda.NewHandler(h.ServeHTTPAPI) }
func (h *Handler) ALB() lambda.Handler     { return lambda.NewHandler(h.ServeALB) }

// ServeREST answers an API Gateway REST API (payload 1.0) event.
func (h *Handler) ServeREST(ctx context.Context, ev events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	status, body, hdr := h.decide(ctx, ev.HTTPMethod, ev.Path, header(ev.Headers, "x-api-key"))
	return events.APIGatewayProxyResponse{StatusCode: status, Headers: hdr, Body: body}, nil
}

// ServeHTTPAPI answers an API Gateway HTTP API (payload 2.0) event.
func (h *Handler) ServeHTTPAPI(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	status, body, hdr := h.decide(ctx, ev.RequestContext.HTTP.Method, ev.RawPath, header(ev.Headers, "x-api-key"))
	return events.APIGatewayV2HTTPResponse{StatusCode: status, Headers: hdr, Body: body}, nil
}

// ServeALB answers an Application Load Balancer event.
func (h *Handler) ServeALB(ctx context.Context, ev events.ALBTargetGroupRequest) (events.ALBTargetGroupResponse, error) {
	status, body, hdr := h.decide(ctx, ev.HTTPMethod, ev.Path, header(ev.Headers, "x-api-key"))
	return events.ALBTargetGroupResponse{StatusCode: status, StatusDescription: statusLine(status), Headers: hdr, Body: body}, nil
}

func (h *Handler) decide(ctx context.Context, method, path, key string) (int, string, map[string]string) {
	hdr := map[string]string{
		"Content-Type":           "application/json",
		"Cache-Control":          "no-store",
		"X-Content-Type-Options": "nosniff",
	}
	status, body, outcome, client := http.StatusUnauthorized, bodyUnauthorized, "missing", ""
	if key = strings.Trim(key, " \t"); key != "" {
		entry, res := h.set.Match(key, h.now())
		outcome, client = res.String(), entry.Client
		switch {
		case res != apikey.OK:
		case path != "/" || method != http.MethodGet:
			status, body = http.StatusNotFound, bodyNotFound
		default:
			status, body = http.StatusOK, bodyOK
		}
	}
	if status == http.StatusUnauthorized {
		hdr["WWW-Authenticate"] = `ApiKey header="x-api-key"`
	}
	var id string
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		id = lc.AwsRequestID
	}
	h.log.LogAttrs(ctx, slog.LevelInfo, "request",
		slog.String("request_id", id),
		slog.String("method", logged(method, http.MethodGet)),
		slog.String("route", logged(path, "/")),
		slog.Int("status", status),
		slog.String("outcome", outcome),
		slog.String("client", client))
	return status, body, hdr
}

// header finds name in an event's header map: HTTP API and ALB send it in
// lower case, REST APIs as the client spelled it.
func header(h map[string]string, name string) string {
	if v, ok := h[name]; ok {
		return v
	}
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

func statusLine(code int) string {
	return strconv.Itoa(code) + " " + http.StatusText(code)
}

// logged keeps caller-controlled text out of the log, as keygate does.
func logged(s, want string) string {
	if s == want {
		return s
	}
	return "other"
}
