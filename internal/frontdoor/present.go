package frontdoor

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/keygate/keygate/internal/decision"
)

// An event can describe its headers twice: REST and ALB events (and
// payload 2.0 events given a member that is not part of the format) can
// carry both a headers and a multiValueHeaders map. The proxy reads one and
// ignores the other, so an event whose maps disagree would be decided by
// whichever the proxy happens to read. Exactly one x-api-key value, or
// 401, must hold for every event the function accepts: two maps that
// disagree about x-api-key are an ambiguous key (401, logged as
// ambiguous), the same as two x-api-key headers. (A member named twice in
// one object is a malformed event, 400: decodeEvent refuses it.)

// presented is what an event presents for the decision: the x-api-key
// values of the map the proxy hands to the handler (multi, when the door
// reads it and the event has it), whether the two maps disagree, and the
// caller's address (source, as the door's event gives it).
func presented(single map[string]string, multi map[string][]string, readsMulti bool, source string) decision.Request {
	in := decision.Request{Conflict: headersConflict(single, multi), Source: address(source)}
	if readsMulti && multi != nil {
		in.Keys = keyValues(multi)
	} else {
		in.Keys = keyValues(single)
	}
	return in
}

// address parses a source address; the zero Addr (no address) when it is
// not one.
func address(s string) netip.Addr {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		return netip.Addr{}
	}
	return a
}

// albSource is the address an ALB appended last to X-Forwarded-For: the
// peer it saw. Everything before it is what the client sent, and proves
// nothing. (An ALB that removes or preserves the header instead of
// appending to it, routing.http.xff_header_processing.mode, gives no
// address: a key with sources is then refused.)
func albSource(single map[string]string, multi map[string][]string) string {
	// The header under two spellings (no ALB sends that) leaves unclear
	// which the load balancer appended to: no address.
	var last string
	found := 0
	if multi != nil {
		for k, vs := range multi {
			if strings.EqualFold(k, "x-forwarded-for") && len(vs) > 0 {
				last, found = vs[len(vs)-1], found+1
			}
		}
	} else {
		for k, v := range single {
			if strings.EqualFold(k, "x-forwarded-for") {
				last, found = v, found+1
			}
		}
	}
	if found != 1 {
		return ""
	}
	if i := strings.LastIndexByte(last, ','); i >= 0 {
		last = last[i+1:]
	}
	return last
}

// headersConflict reports whether an event's two header maps, when it
// carries both, hold different x-api-key values. (API Gateway's REST API
// sends both, the single-value map holding the last value of each name:
// with two values they disagree, and the key is ambiguous either way.)
func headersConflict(single map[string]string, multi map[string][]string) bool {
	if single == nil || multi == nil {
		return false
	}
	return !slices.Equal(keyValues(single), keyValues(multi))
}

// keyValues returns every x-api-key value of one header map, trimmed of
// the optional whitespace HTTP ignores, in a stable order.
func keyValues[V string | []string](m map[string]V) []string {
	var names []string
	for k := range m {
		if isKeyHeader(k) {
			names = append(names, k)
		}
	}
	if len(names) > 1 {
		slices.Sort(names)
	}
	var out []string
	for _, k := range names {
		switch v := any(m[k]).(type) {
		case string:
			out = append(out, strings.Trim(v, " \t"))
		case []string:
			for _, x := range v {
				out = append(out, strings.Trim(x, " \t"))
			}
		}
	}
	return out
}

// isKeyHeader: header names are ASCII tokens compared without case
// (RFC 9110), as net/http's canonical form does (two spellings of the name
// are two values); Unicode folding (the Kelvin sign) does not apply.
func isKeyHeader(name string) bool {
	const want = "x-api-key"
	if len(name) != len(want) {
		return false
	}
	for i := 0; i < len(want); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != want[i] {
			return false
		}
	}
	return true
}
