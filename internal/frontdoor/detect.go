package frontdoor

import (
	"bytes"
	"encoding/json"
	"strings"
)

// probe holds the few members that tell the doors apart. Each is decoded
// leniently (jsonString, member): a member of the wrong type does not hide
// which door sent the event; the decode of the whole event rejects it.
type probe struct {
	Version        jsonString `json:"version"`
	Type           jsonString `json:"type"`
	MethodArn      jsonString `json:"methodArn"`
	RouteArn       jsonString `json:"routeArn"`
	HTTPMethod     jsonString `json:"httpMethod"`
	RequestContext *struct {
		ELB        member     `json:"elb"`
		HTTP       member     `json:"http"`
		DomainName jsonString `json:"domainName"`
	} `json:"requestContext"`
	MultiValueHeaders json.RawMessage `json:"multiValueHeaders"`
}

// jsonString is a member's string value, or "" for any other JSON type.
type jsonString string

func (s *jsonString) UnmarshalJSON(b []byte) error {
	if len(b) < 2 || b[0] != '"' {
		return nil
	}
	if bytes.IndexByte(b, '\\') < 0 {
		*s = jsonString(b[1 : len(b)-1])
		return nil
	}
	var v string
	if json.Unmarshal(b, &v) == nil {
		*s = jsonString(v)
	}
	return nil
}

// member records that a member was there, and whether it was null.
type member struct{ set, null bool }

func (m *member) UnmarshalJSON(b []byte) error {
	m.set, m.null = true, string(b) == "null"
	return nil
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
	switch {
	case p.Type == "TOKEN" && p.MethodArn != "":
		return TokenAuthorizer, p
	case p.Type == "REQUEST" && p.MethodArn != "":
		return RequestAuthorizer, p
	case p.Type == "REQUEST" && p.Version == "2.0" && p.RouteArn != "":
		return HTTPAuthorizer, p
	}
	rc := p.RequestContext
	switch {
	case rc == nil:
		return Unknown, p
	case rc.ELB.set && !rc.ELB.null:
		return ALB, p
	case p.Version == "2.0" && rc.HTTP.set:
		if strings.Contains(string(rc.DomainName), ".lambda-url.") {
			return FunctionURL, p
		}
		return HTTPAPI, p
	case p.HTTPMethod != "":
		return REST, p
	}
	return Unknown, p
}
