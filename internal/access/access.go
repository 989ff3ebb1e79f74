// Package access says what a valid key may do beyond being valid: which
// routes it may call ("METHOD /path" patterns, with the wildcard of
// execute-api ARNs), from which networks, and what its holder's backend
// learns about it. The rules come from the key's entry in the secret;
// package decision applies them.
package access

import (
	"net/netip"
	"path"
	"strings"
)

// Policy is one key's rules. A nil *Policy allows everything and carries
// no metadata; so do nil fields.
type Policy struct {
	// Allow lists the routes the key may call; nil: every route; empty:
	// none.
	Allow []Pattern
	// Sources lists the networks the key may be used from; nil: anywhere;
	// empty: nowhere.
	Sources []netip.Prefix
	// Meta is for the backend (an authorizer's context): names
	// [a-z][a-z0-9_]{0,31}, string values. Never secret.
	Meta map[string]string
}

// Reasons a valid key is forbidden, as logged.
const (
	ReasonRoute  = "route"  // not in the key's allow
	ReasonSource = "source" // not from one of its sources, or from no known address
)

// Check returns why p forbids a request from source for method and path,
// or "" when it allows it. routes false leaves the route to the caller (an
// authorizer, whose policy hands the routes on to API Gateway). An unknown
// source (the zero Addr) is in no network: a key with sources is refused
// without an address (fail closed).
func (p *Policy) Check(method, path string, source netip.Addr, routes bool) string {
	if p == nil {
		return ""
	}
	if p.Sources != nil && !p.inSources(source) {
		return ReasonSource
	}
	// An empty allow permits no route at all: no need to know which.
	if p.Allow != nil && (len(p.Allow) == 0 || routes && !p.allows(method, path)) {
		return ReasonRoute
	}
	return ""
}

// Restricted reports whether p limits anything (routes or sources).
func (p *Policy) Restricted() bool { return p != nil && (p.Allow != nil || p.Sources != nil) }

func (p *Policy) inSources(addr netip.Addr) bool {
	if !addr.IsValid() {
		return false
	}
	addr = addr.Unmap().WithZone("")
	for _, n := range p.Sources {
		if n.Contains(addr) {
			return true
		}
	}
	return false
}

func (p *Policy) allows(method, rawPath string) bool {
	clean := Clean(rawPath)
	for _, pat := range p.Allow {
		if pat.Matches(method, clean) {
			return true
		}
	}
	return false
}

// Clean is the path a route check sees: the request's path with dot
// segments and repeated slashes resolved, as a backend would resolve them
// ("/reports/../admin" is "/admin", never a match for "/reports/*"); a
// trailing slash is kept.
func Clean(p string) string {
	if p == "" {
		return "/"
	}
	c := path.Clean("/" + p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}
