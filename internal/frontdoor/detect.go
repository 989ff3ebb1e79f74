package frontdoor

import (
	"encoding/json"
	"strings"
)

// probe and probeContext hold the few fields that tell the doors apart.
// Every field is raw, so that a field of the wrong type (the decode of the
// whole event will reject it) does not hide which door sent the event.
type probe struct {
	Version           json.RawMessage `json:"version"`
	Type              json.RawMessage `json:"type"`
	MethodArn         json.RawMessage `json:"methodArn"`
	RouteArn          json.RawMessage `json:"routeArn"`
	HTTPMethod        json.RawMessage `json:"httpMethod"`
	RequestContext    json.RawMessage `json:"requestContext"`
	MultiValueHeaders json.RawMessage `json:"multiValueHeaders"`
}

// multiHeaders decodes the event's multiValueHeaders: nil when it is
// absent or null, an error when it is not an object of string lists.
func (p probe) multiHeaders() (map[string][]string, error) {
	var m map[string][]string
	if len(p.MultiValueHeaders) == 0 {
		return nil, nil
	}
	err := json.Unmarshal(p.MultiValueHeaders, &m)
	return m, err
}

// multiValue reports whether the event carries well-formed multi-value
// headers (for an ALB: its target group has them enabled).
func (p probe) multiValue() bool {
	m, err := p.multiHeaders()
	return err == nil && m != nil
}

type probeContext struct {
	ELB        json.RawMessage `json:"elb"`
	HTTP       json.RawMessage `json:"http"`
	DomainName json.RawMessage `json:"domainName"`
}

// str is raw's string value, or "" when it is not a string.
func str(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

// Detect tells which front door sent payload:
//   - Lambda authorizer events carry a type: TOKEN or REQUEST with a
//     methodArn (REST API), or REQUEST with version "2.0" and a routeArn
//     (HTTP API); they are told apart first, since a REST REQUEST event
//     also carries httpMethod and an HTTP API one requestContext.http;
//   - ALB events carry requestContext.elb;
//   - payload 2.0 events (HTTP API and Function URL) carry version "2.0"
//     and requestContext.http; a Function URL's domain is
//     <id>.lambda-url.<region>.on.aws;
//   - REST API (payload 1.0) events carry httpMethod and a requestContext.
//
// Anything else, invalid JSON included, is Unknown.
func Detect(payload []byte) Kind {
	kind, _ := detect(payload)
	return kind
}

// detect is Detect, with the probe it decoded.
func detect(payload []byte) (Kind, probe) {
	var p probe
	if err := json.Unmarshal(payload, &p); err != nil {
		return Unknown, p
	}
	switch typ := str(p.Type); {
	case typ == "TOKEN" && str(p.MethodArn) != "":
		return TokenAuthorizer, p
	case typ == "REQUEST" && str(p.MethodArn) != "":
		return RequestAuthorizer, p
	case typ == "REQUEST" && str(p.Version) == "2.0" && str(p.RouteArn) != "":
		return HTTPAuthorizer, p
	}
	if len(p.RequestContext) == 0 {
		return Unknown, p
	}
	var rc probeContext
	if err := json.Unmarshal(p.RequestContext, &rc); err != nil {
		return Unknown, p
	}
	switch {
	case len(rc.ELB) > 0 && string(rc.ELB) != "null":
		return ALB, p
	case str(p.Version) == "2.0" && len(rc.HTTP) > 0:
		if strings.Contains(str(rc.DomainName), ".lambda-url.") {
			return FunctionURL, p
		}
		return HTTPAPI, p
	case str(p.HTTPMethod) != "":
		return REST, p
	}
	return Unknown, p
}
