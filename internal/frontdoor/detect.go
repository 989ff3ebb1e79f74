package frontdoor

import (
	"encoding/json"
	"strings"
)

// probe and probeContext hold the few fields that tell the doors apart.
type probe struct {
	Version        string          `json:"version"`
	HTTPMethod     string          `json:"httpMethod"`
	RequestContext json.RawMessage `json:"requestContext"`
}

type probeContext struct {
	ELB        json.RawMessage `json:"elb"`
	HTTP       json.RawMessage `json:"http"`
	DomainName string          `json:"domainName"`
}

// Detect tells which front door sent payload:
//   - ALB events carry requestContext.elb;
//   - payload 2.0 events (HTTP API and Function URL) carry version "2.0"
//     and requestContext.http; a Function URL's domain is
//     <id>.lambda-url.<region>.on.aws;
//   - REST API (payload 1.0) events carry httpMethod and a requestContext.
//
// Anything else, invalid JSON included, is Unknown.
func Detect(payload []byte) Kind {
	var p probe
	if err := json.Unmarshal(payload, &p); err != nil || len(p.RequestContext) == 0 {
		return Unknown
	}
	var rc probeContext
	if err := json.Unmarshal(p.RequestContext, &rc); err != nil {
		return Unknown
	}
	switch {
	case len(rc.ELB) > 0 && string(rc.ELB) != "null":
		return ALB
	case p.Version == "2.0" && len(rc.HTTP) > 0:
		if strings.Contains(rc.DomainName, ".lambda-url.") {
			return FunctionURL
		}
		return HTTPAPI
	case p.HTTPMethod != "":
		return REST
	}
	return Unknown
}
