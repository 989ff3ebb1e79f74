package frontdoor

import (
	"bytes"
	"encoding/json"
	"strings"
)

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
// Anything else, invalid JSON included, is Unknown. A malformed event of a
// known door is that door's: it gets its 400 in the shape the door reads.
func Detect(payload []byte) Kind {
	d, _ := decode(payload)
	return d.kind
}

// probe holds the few members that tell the doors apart, for an event that
// did not decode: each is decoded leniently (jsonString, member), so that a
// member of the wrong type does not hide which door sent the event.
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

// detect is Detect for an event that did not decode, with its probe.
func detect(payload []byte) (Kind, probe) {
	var p probe
	if err := json.Unmarshal(payload, &p); err != nil {
		return Unknown, p
	}
	s := signs{typ: string(p.Type), methodArn: string(p.MethodArn), routeArn: string(p.RouteArn),
		version: string(p.Version), httpMethod: string(p.HTTPMethod)}
	if rc := p.RequestContext; rc != nil {
		s.context, s.elb, s.http, s.domain = true, rc.ELB.set && !rc.ELB.null, rc.HTTP.set, string(rc.DomainName)
	}
	return s.kind(), p
}

// signs are the members that tell the doors apart (see Detect).
type signs struct {
	typ, methodArn, routeArn, version, httpMethod string
	// context: a requestContext object; elb: an elb object in it; http:
	// an http member in it, even null; domain: its domainName.
	context, elb, http bool
	domain             string
}

func (s signs) kind() Kind {
	switch {
	case s.typ == "TOKEN" && s.methodArn != "":
		return TokenAuthorizer
	case s.typ == "REQUEST" && s.methodArn != "":
		return RequestAuthorizer
	case s.typ == "REQUEST" && s.version == "2.0" && s.routeArn != "":
		return HTTPAuthorizer
	}
	switch {
	case !s.context:
		return Unknown
	case s.elb:
		return ALB
	case s.version == "2.0" && s.http:
		// A Function URL's domain is <id>.lambda-url.<region>.on.aws.
		if strings.Contains(s.domain, ".lambda-url.") {
			return FunctionURL
		}
		return HTTPAPI
	case s.httpMethod != "":
		return REST
	}
	return Unknown
}
