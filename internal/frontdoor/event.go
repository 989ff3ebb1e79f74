package frontdoor

import (
	"errors"

	"github.com/aws/aws-lambda-go/events"
	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	jsonv1 "github.com/go-json-experiment/json/v1"
)

// event is every member of every front door's event (aws-lambda-go's
// types for them), in one struct: one decode reads any event, and its
// fields tell the doors apart (kind). Each door's own type is then a copy
// (rest, v2, alb, and the authorizers'), no second decode.
//
// The doors' types disagree on one member only, requestContext.authorizer
// (a map in payload 1.0, an object of known fields in 2.0): it is kept raw
// and decoded into the door's type once the door is known. A test holds
// this struct to aws-lambda-go's types, member by member.
type event struct {
	// Lambda authorizers.
	Type               string   `json:"type"`
	MethodArn          string   `json:"methodArn"`
	RouteArn           string   `json:"routeArn"`
	AuthorizationToken string   `json:"authorizationToken"`
	IdentitySource     []string `json:"identitySource"`
	// Payload 2.0.
	Version        string   `json:"version"`
	RouteKey       string   `json:"routeKey"`
	RawPath        string   `json:"rawPath"`
	RawQueryString string   `json:"rawQueryString"`
	Cookies        []string `json:"cookies"`
	// Payload 1.0 (a payload 2.0 event that carries multiValueHeaders
	// describes its headers twice: see presented).
	Resource                        string              `json:"resource"`
	Path                            string              `json:"path"`
	HTTPMethod                      string              `json:"httpMethod"`
	MultiValueHeaders               map[string][]string `json:"multiValueHeaders"`
	MultiValueQueryStringParameters map[string][]string `json:"multiValueQueryStringParameters"`
	// Both.
	Headers               map[string]string `json:"headers"`
	QueryStringParameters map[string]string `json:"queryStringParameters"`
	PathParameters        map[string]string `json:"pathParameters"`
	StageVariables        map[string]string `json:"stageVariables"`
	Body                  string            `json:"body"`
	IsBase64Encoded       bool              `json:"isBase64Encoded"`
	RequestContext        *eventContext     `json:"requestContext"`
}

// eventContext is every door's requestContext: REST's (the REST REQUEST
// authorizer's is a subset of it), payload 2.0's and the ALB's.
type eventContext struct {
	AccountID    string `json:"accountId"`
	Stage        string `json:"stage"`
	RequestID    string `json:"requestId"`
	APIID        string `json:"apiId"`
	DomainName   string `json:"domainName"`
	DomainPrefix string `json:"domainPrefix"`
	// A map in payload 1.0, an object of known members in 2.0.
	Authorizer jsontext.Value `json:"authorizer"`
	// Payload 1.0.
	ResourceID        string                           `json:"resourceId"`
	OperationName     string                           `json:"operationName"`
	ExtendedRequestID string                           `json:"extendedRequestId"`
	Protocol          string                           `json:"protocol"`
	Identity          events.APIGatewayRequestIdentity `json:"identity"`
	ResourcePath      string                           `json:"resourcePath"`
	Path              string                           `json:"path"`
	HTTPMethod        string                           `json:"httpMethod"`
	RequestTime       string                           `json:"requestTime"`
	RequestTimeEpoch  int64                            `json:"requestTimeEpoch"`
	// Payload 2.0. HTTP records that the member was there (even as
	// null): payload 2.0 events are told apart by it.
	RouteKey       string                                                        `json:"routeKey"`
	Time           string                                                        `json:"time"`
	TimeEpoch      int64                                                         `json:"timeEpoch"`
	HTTP           present[events.APIGatewayV2HTTPRequestContextHTTPDescription] `json:"http"`
	Authentication events.APIGatewayV2HTTPRequestContextAuthentication           `json:"authentication"`
	// ALB.
	ELB *events.ELBContext `json:"elb"`
}

// present is a member's value, and whether the member was there at all.
type present[T any] struct {
	Set   bool
	Value T
}

func (p *present[T]) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	p.Set = true
	if dec.PeekKind() == 'n' {
		_, err := dec.ReadToken()
		return err
	}
	return json.UnmarshalDecode(dec, &p.Value)
}

// decodeOptions are encoding/json's (v1) rules, for the same results as
// aws-lambda-go's own decoding (member names without regard to case,
// invalid UTF-8 replaced), but a member named twice in one object is an
// error: JSON with duplicate names has no single meaning (RFC 8259 §4),
// parsers disagree on which one wins, and no front door sends one.
var decodeOptions = json.JoinOptions(
	jsonv1.DefaultOptionsV1(),
	jsontext.AllowDuplicateNames(false),
	jsonv1.ReportErrorsWithLegacySemantics(false),
)

// decoded is an event in its front door's own type.
type decoded struct {
	kind Kind
	// event is a pointer to kind's aws-lambda-go type; nil when the event
	// did not decode.
	event any
	// multi is the event's multiValueHeaders, when well formed: for an ALB
	// the mode its target group is in; in payload 2.0, where it is not
	// part of the format, a second description of the headers.
	multi map[string][]string
}

// decode reads an event in one pass, into event, whose members tell the
// doors apart; then copies it into its door's own type.
//
// An event event refuses (a member named twice, a member of the wrong
// type, perhaps one of another door's, or no JSON at all) gets a second
// look: a lenient one says which door sent it, and its door's own type
// decides, exactly as that type alone would (with duplicate names refused
// too). So the answer is always the door type's, and only malformed events
// cost more than one pass.
func decode(payload []byte) (decoded, error) {
	e := new(event)
	if err := json.Unmarshal(payload, e, decodeOptions); err == nil {
		d := decoded{kind: e.kind(), multi: e.MultiValueHeaders}
		var err error
		d.event, err = e.door(d.kind)
		return d, err
	}
	kind, p := detect(payload)
	d := decoded{kind: kind}
	multi, merr := p.multiHeaders()
	if merr == nil {
		d.multi = multi
	}
	ev := newEvent(kind)
	if ev == nil {
		return d, errUnknownEvent
	}
	if err := json.Unmarshal(payload, ev, decodeOptions); err != nil {
		if errors.Is(err, jsontext.ErrDuplicateName) {
			return d, errDuplicateName
		}
		return d, errDecode
	}
	if merr != nil && (kind == HTTPAPI || kind == FunctionURL || kind == HTTPAuthorizer) {
		return d, errDecode // the second description of the headers is broken
	}
	d.event = ev
	return d, nil
}

// newEvent returns a new event of kind's own type.
func newEvent(kind Kind) any {
	switch kind {
	case REST:
		return new(events.APIGatewayProxyRequest)
	case HTTPAPI, FunctionURL:
		return new(events.APIGatewayV2HTTPRequest)
	case ALB:
		return new(events.ALBTargetGroupRequest)
	case TokenAuthorizer:
		return new(events.APIGatewayCustomAuthorizerRequest)
	case RequestAuthorizer:
		return new(events.APIGatewayCustomAuthorizerRequestTypeRequest)
	case HTTPAuthorizer:
		return new(events.APIGatewayV2CustomAuthorizerV2Request)
	}
	return nil
}

// door copies e into kind's own type (newEvent's).
func (e *event) door(kind Kind) (any, error) {
	switch kind {
	case REST:
		ev, err := e.rest()
		return &ev, err
	case HTTPAPI, FunctionURL:
		ev, err := e.v2()
		return &ev, err
	case ALB:
		ev := e.alb()
		return &ev, nil
	case TokenAuthorizer:
		ev := e.tokenAuthorizer()
		return &ev, nil
	case RequestAuthorizer:
		ev := e.requestAuthorizer()
		return &ev, nil
	case HTTPAuthorizer:
		ev, err := e.httpAuthorizer()
		return &ev, err
	}
	return nil, errUnknownEvent
}

// kind tells which front door sent a well-formed event (see Detect).
func (e *event) kind() Kind {
	s := signs{typ: e.Type, methodArn: e.MethodArn, routeArn: e.RouteArn, version: e.Version, httpMethod: e.HTTPMethod}
	if rc := e.RequestContext; rc != nil {
		s.context, s.elb, s.http, s.domain = true, rc.ELB != nil, rc.HTTP.Set, rc.DomainName
	}
	return s.kind()
}

// context returns the request context; an absent one is empty.
func (e *event) context() *eventContext {
	if e.RequestContext == nil {
		return &eventContext{}
	}
	return e.RequestContext
}

func (e *event) rest() (events.APIGatewayProxyRequest, error) {
	rc, err := e.context().rest()
	return events.APIGatewayProxyRequest{
		Resource:                        e.Resource,
		Path:                            e.Path,
		HTTPMethod:                      e.HTTPMethod,
		Headers:                         e.Headers,
		MultiValueHeaders:               e.MultiValueHeaders,
		QueryStringParameters:           e.QueryStringParameters,
		MultiValueQueryStringParameters: e.MultiValueQueryStringParameters,
		PathParameters:                  e.PathParameters,
		StageVariables:                  e.StageVariables,
		RequestContext:                  rc,
		Body:                            e.Body,
		IsBase64Encoded:                 e.IsBase64Encoded,
	}, err
}

func (e *event) v2() (events.APIGatewayV2HTTPRequest, error) {
	rc, err := e.context().v2()
	return events.APIGatewayV2HTTPRequest{
		Version:               e.Version,
		RouteKey:              e.RouteKey,
		RawPath:               e.RawPath,
		RawQueryString:        e.RawQueryString,
		Cookies:               e.Cookies,
		Headers:               e.Headers,
		QueryStringParameters: e.QueryStringParameters,
		PathParameters:        e.PathParameters,
		RequestContext:        rc,
		StageVariables:        e.StageVariables,
		Body:                  e.Body,
		IsBase64Encoded:       e.IsBase64Encoded,
	}, err
}

func (e *event) alb() events.ALBTargetGroupRequest {
	var rc events.ALBTargetGroupRequestContext
	if elb := e.context().ELB; elb != nil {
		rc.ELB = *elb
	}
	return events.ALBTargetGroupRequest{
		HTTPMethod:                      e.HTTPMethod,
		Path:                            e.Path,
		QueryStringParameters:           e.QueryStringParameters,
		MultiValueQueryStringParameters: e.MultiValueQueryStringParameters,
		Headers:                         e.Headers,
		MultiValueHeaders:               e.MultiValueHeaders,
		RequestContext:                  rc,
		IsBase64Encoded:                 e.IsBase64Encoded,
		Body:                            e.Body,
	}
}

func (e *event) tokenAuthorizer() events.APIGatewayCustomAuthorizerRequest {
	return events.APIGatewayCustomAuthorizerRequest{Type: e.Type, AuthorizationToken: e.AuthorizationToken, MethodArn: e.MethodArn}
}

func (e *event) requestAuthorizer() events.APIGatewayCustomAuthorizerRequestTypeRequest {
	rc := e.context()
	id := events.APIGatewayCustomAuthorizerRequestTypeRequestIdentity{APIKey: rc.Identity.APIKey, SourceIP: rc.Identity.SourceIP}
	if c := rc.Identity.ClientCert; c != nil {
		id.ClientCert = *c
	}
	return events.APIGatewayCustomAuthorizerRequestTypeRequest{
		Type:                            e.Type,
		MethodArn:                       e.MethodArn,
		Resource:                        e.Resource,
		Path:                            e.Path,
		HTTPMethod:                      e.HTTPMethod,
		Headers:                         e.Headers,
		MultiValueHeaders:               e.MultiValueHeaders,
		QueryStringParameters:           e.QueryStringParameters,
		MultiValueQueryStringParameters: e.MultiValueQueryStringParameters,
		PathParameters:                  e.PathParameters,
		StageVariables:                  e.StageVariables,
		RequestContext: events.APIGatewayCustomAuthorizerRequestTypeRequestContext{
			Path:         rc.Path,
			AccountID:    rc.AccountID,
			ResourceID:   rc.ResourceID,
			Stage:        rc.Stage,
			RequestID:    rc.RequestID,
			Identity:     id,
			ResourcePath: rc.ResourcePath,
			HTTPMethod:   rc.HTTPMethod,
			APIID:        rc.APIID,
		},
	}
}

func (e *event) httpAuthorizer() (events.APIGatewayV2CustomAuthorizerV2Request, error) {
	rc, err := e.context().v2()
	return events.APIGatewayV2CustomAuthorizerV2Request{
		Version:               e.Version,
		Type:                  e.Type,
		RouteArn:              e.RouteArn,
		IdentitySource:        e.IdentitySource,
		RouteKey:              e.RouteKey,
		RawPath:               e.RawPath,
		RawQueryString:        e.RawQueryString,
		Cookies:               e.Cookies,
		Headers:               e.Headers,
		QueryStringParameters: e.QueryStringParameters,
		RequestContext:        rc,
		PathParameters:        e.PathParameters,
		StageVariables:        e.StageVariables,
	}, err
}

func (c *eventContext) rest() (events.APIGatewayProxyRequestContext, error) {
	rc := events.APIGatewayProxyRequestContext{
		AccountID:         c.AccountID,
		ResourceID:        c.ResourceID,
		OperationName:     c.OperationName,
		Stage:             c.Stage,
		DomainName:        c.DomainName,
		DomainPrefix:      c.DomainPrefix,
		RequestID:         c.RequestID,
		ExtendedRequestID: c.ExtendedRequestID,
		Protocol:          c.Protocol,
		Identity:          c.Identity,
		ResourcePath:      c.ResourcePath,
		Path:              c.Path,
		HTTPMethod:        c.HTTPMethod,
		RequestTime:       c.RequestTime,
		RequestTimeEpoch:  c.RequestTimeEpoch,
		APIID:             c.APIID,
	}
	return rc, c.authorizer(&rc.Authorizer)
}

func (c *eventContext) v2() (events.APIGatewayV2HTTPRequestContext, error) {
	rc := events.APIGatewayV2HTTPRequestContext{
		RouteKey:       c.RouteKey,
		AccountID:      c.AccountID,
		Stage:          c.Stage,
		RequestID:      c.RequestID,
		APIID:          c.APIID,
		DomainName:     c.DomainName,
		DomainPrefix:   c.DomainPrefix,
		Time:           c.Time,
		TimeEpoch:      c.TimeEpoch,
		HTTP:           c.HTTP.Value,
		Authentication: c.Authentication,
	}
	return rc, c.authorizer(&rc.Authorizer)
}

// authorizer decodes the raw authorizer member into the door's type.
func (c *eventContext) authorizer(into any) error {
	if len(c.Authorizer) == 0 {
		return nil
	}
	if err := json.Unmarshal(c.Authorizer, into, decodeOptions); err != nil {
		return errDecode
	}
	return nil
}
