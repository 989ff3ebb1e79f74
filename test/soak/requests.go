package soak

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	samples "github.com/keygate/keygate/events"
	"github.com/keygate/keygate/internal/frontdoor"
)

// slot is one kind of request: a sample event of events/ (or a request to
// the local server made from one) whose key the soak replaces with one of
// its own, and what it must be answered.
type slot struct {
	ev      samples.Event
	door    string // the event's front door (frontdoor.Kind), or "local"
	class   class  // the keys it takes; "" for made-up ones only
	fixture string // the key the sample carries, replaced by the request's
	// keyed: the answer depends on the key (events/expected.json's outcome
	// is authorized or forbidden): a valid one gets ev.Want, any other the
	// refusal. Otherwise ev.Want whatever the key.
	keyed      bool
	malformed  bool
	method     string
	multiValue bool
	local      *http.Request // the local server's request (door "local")
}

// fixtures are the keys events/ carries, by the class of key each stands
// for (events/env.json: default, readonly, office).
var fixtures = []struct {
	key   string
	class class
}{{samples.RightKey, plain}, {samples.ScopedKey, scoped}, {samples.SourcedKey, sourced}, {samples.WrongKey, ""}}

// slots returns every sample event as a slot for the functions, the REST
// ones again as requests to the local server, and requests outside the
// samples: a malformed event, and REST events whose two header maps
// disagree about the key.
func slots() ([]*slot, []*slot, error) {
	evs, err := samples.All()
	if err != nil {
		return nil, nil, err
	}
	var fn, local []*slot
	for _, ev := range evs {
		s := &slot{ev: ev, door: ev.Door, keyed: ev.Want.Outcome == "authorized" || ev.Want.Outcome == "forbidden"}
		for _, f := range fixtures {
			if bytes.Contains(ev.Payload, []byte(f.key)) {
				s.fixture, s.class = f.key, f.class
			}
		}
		var err error
		if s.method, s.multiValue, err = ev.Request(); err != nil {
			return nil, nil, err
		}
		fn = append(fn, s)
		if ev.Door == string(frontdoor.REST) {
			l, err := localSlot(s)
			if err != nil {
				return nil, nil, err
			}
			local = append(local, l)
			if ev.Want.Outcome == "authorized" && s.class == plain {
				d, err := disagreeing(s)
				if err != nil {
					return nil, nil, err
				}
				fn = append(fn, d)
			}
		}
	}
	// Not an event at all: 400, with or without a key set (the answer
	// comes before the decision).
	bad := *fn[0]
	bad.ev = samples.Event{Name: "malformed", Door: "rest", Payload: bad.ev.Payload[:len(bad.ev.Payload)/2]}
	bad.malformed, bad.keyed, bad.fixture, bad.class = true, false, "", ""
	fn = append(fn, &bad)
	return fn, local, nil
}

// disagreeing is s (a REST event with the default client's key) whose
// multiValueHeaders carry another key than its headers: which key the
// caller meant is unclear, so 401 whatever the keys (ambiguous).
func disagreeing(s *slot) (*slot, error) {
	var ev map[string]any
	if err := json.Unmarshal(s.ev.Payload, &ev); err != nil {
		return nil, err
	}
	ev["multiValueHeaders"].(map[string]any)["x-api-key"] = []string{samples.WrongKey}
	payload, err := json.Marshal(ev)
	if err != nil {
		return nil, err
	}
	d := *s
	d.ev.Name = "disagreeing header maps (from " + s.ev.Name + ")"
	d.ev.Payload = payload
	d.ev.Want = samples.Want{Status: http.StatusUnauthorized, Outcome: "ambiguous"}
	d.keyed = false
	return &d, nil
}

// localSlot is the REST event s as a request to the local server: its
// method, path, query and headers. The caller's address is the server's
// peer, 127.0.0.1: an office key (sources 192.0.2.0/24, 2001:db8::/32) is
// forbidden there whatever the event's sourceIp.
func localSlot(s *slot) (*slot, error) {
	var ev struct {
		HTTPMethod        string              `json:"httpMethod"`
		Path              string              `json:"path"`
		MultiValueQuery   map[string][]string `json:"multiValueQueryStringParameters"`
		MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
	}
	if err := json.Unmarshal(s.ev.Payload, &ev); err != nil {
		return nil, err
	}
	u := &url.URL{Path: ev.Path, RawQuery: url.Values(ev.MultiValueQuery).Encode()}
	req, err := http.NewRequest(ev.HTTPMethod, u.String(), nil)
	if err != nil {
		return nil, err
	}
	for k, vs := range ev.MultiValueHeaders {
		if strings.EqualFold(k, "Host") {
			continue
		}
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	l := *s
	l.door, l.local = "local", req
	if s.class == sourced && s.keyed {
		l.ev.Want = samples.Want{Status: http.StatusForbidden, Outcome: "forbidden", Reason: "source", Client: s.ev.Want.Client}
	}
	return &l, nil
}

// The answers, as the oracle compares them: an HTTP status, or an
// authorizer's decision.
const (
	unauthorized = "unauthorized" // a REST authorizer's failure Unauthorized: API Gateway's 401
	unavailable  = "unavailable"  // its failure while no key set is loaded: API Gateway's 500
	notAllowed   = "false"        // an HTTP API authorizer's isAuthorized false
)

func allowFor(client string) string { return "allow:" + client }
func denyFor(client string) string  { return "deny:" + client }

// expect is the answer to s for a key that v says is valid or not, from an
// environment that has a key set loaded or not.
func (s *slot) expect(v validity, loaded bool) string {
	switch {
	case s.malformed:
		return strconv.Itoa(http.StatusBadRequest)
	case !loaded:
		return s.refusal(true)
	case !s.keyed:
		if s.ev.Want.Status != 0 {
			return strconv.Itoa(s.ev.Want.Status)
		}
		return s.refusal(false)
	case v.valid:
		return s.granted(v.client)
	}
	return s.refusal(false)
}

// granted is events/expected.json's answer, for the key's own client.
func (s *slot) granted(client string) string {
	w := s.ev.Want
	switch {
	case w.Status != 0:
		return strconv.Itoa(w.Status)
	case w.Decision == "allow":
		return allowFor(client)
	case s.door == string(frontdoor.HTTPAuthorizer):
		return notAllowed
	}
	return denyFor(client) // a forbidden key: a Deny policy, API Gateway's 403
}

func (s *slot) refusal(noSet bool) string {
	switch {
	case s.door == string(frontdoor.HTTPAuthorizer):
		return notAllowed
	case !frontdoor.Kind(s.door).Authorizer() && noSet:
		return strconv.Itoa(http.StatusServiceUnavailable)
	case !frontdoor.Kind(s.door).Authorizer():
		return strconv.Itoa(http.StatusUnauthorized)
	case noSet:
		return unavailable
	}
	return unauthorized
}

// telling: the answer shows whether the key was valid (for the windows).
func (s *slot) telling() bool {
	return s.keyed && s.granted("") != s.refusal(false)
}

// payload is s's event carrying key.
func (s *slot) payload(key string) []byte {
	if s.fixture == "" || key == "" {
		return s.ev.Payload
	}
	return bytes.ReplaceAll(s.ev.Payload, []byte(s.fixture), []byte(key))
}

// httpRequest is s's request to the local server at base, carrying key.
func (s *slot) httpRequest(base, key string) *http.Request {
	req := s.local.Clone(s.local.Context())
	u, _ := url.Parse(base + s.local.URL.String())
	req.URL, req.Host = u, u.Host
	if s.fixture != "" && key != "" {
		for k, vs := range req.Header {
			for i, v := range vs {
				vs[i] = strings.ReplaceAll(v, s.fixture, key)
			}
			req.Header[k] = vs
		}
		req.URL.RawQuery = strings.ReplaceAll(req.URL.RawQuery, url.QueryEscape(s.fixture), url.QueryEscape(key))
	}
	return req
}
