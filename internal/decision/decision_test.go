package decision_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/keygate/keygate/internal/access"
	"github.com/keygate/keygate/internal/apikey"
	"github.com/keygate/keygate/internal/decision"
)

const (
	rightKey   = "kgRightKey0123456789abcdefABCDEF"
	wrongKey   = "kgWrongKey0000000000000000000000"
	expiredKey = "kgExpiredKey99887766"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// keys is a fake decision.Keys over set at now (or failing with err), that
// records the keys it was asked about.
type keys struct {
	set   *apikey.Set
	err   error
	asked *[]string
}

func (k keys) Match(_ context.Context, key string) (apikey.Entry, apikey.Result, error) {
	*k.asked = append(*k.asked, key)
	if k.err != nil {
		return apikey.Entry{}, apikey.Invalid, k.err
	}
	e, res := k.set.Match(key, now)
	return e, res, nil
}

func testSet() *apikey.Set {
	return apikey.NewSet([]apikey.Entry{
		{Client: "alice", Digest: apikey.Digest(rightKey)},
		{Client: "old-bob", Digest: apikey.Digest(expiredKey), Expires: now.Add(-time.Second)},
	})
}

// The decision asks Keys about exactly the key presented, once, and about
// the empty key when none can be taken from the request (so that a store
// outage still answers unavailable, and no made-up key is looked up); it
// answers with Keys' verdict, whatever it is.
func TestDecide(t *testing.T) {
	trusting := apikey.NewSet([]apikey.Entry{{Client: "alice", Digest: apikey.Digest(wrongKey)}})
	outage := errors.New("no key set is loaded")
	tests := []struct {
		name    string
		in      decision.Request
		set     *apikey.Set
		err     error
		asked   string
		outcome decision.Outcome
		client  string
	}{
		{"right key", decision.Request{Keys: []string{rightKey}}, testSet(), nil, rightKey, decision.Authorized, "alice"},
		{"wrong key", decision.Request{Keys: []string{wrongKey}}, testSet(), nil, wrongKey, decision.Invalid, ""},
		{"a key Keys accepts", decision.Request{Keys: []string{wrongKey}}, trusting, nil, wrongKey, decision.Authorized, "alice"},
		{"expired key names its client", decision.Request{Keys: []string{expiredKey}}, testSet(), nil, expiredKey, decision.Expired, "old-bob"},
		{"padded key", decision.Request{Keys: []string{" " + rightKey + "\t"}}, testSet(), nil, rightKey, decision.Authorized, "alice"},
		{"no key", decision.Request{}, trusting, nil, "", decision.Missing, ""},
		{"empty key", decision.Request{Keys: []string{""}}, trusting, nil, "", decision.Missing, ""},
		{"blank key", decision.Request{Keys: []string{" \t"}}, trusting, nil, "", decision.Missing, ""},
		{"two keys", decision.Request{Keys: []string{wrongKey, wrongKey}}, trusting, nil, "", decision.Ambiguous, ""},
		{"comma list", decision.Request{Keys: []string{wrongKey + "," + wrongKey}}, trusting, nil, "", decision.Ambiguous, ""},
		{"trailing comma", decision.Request{Keys: []string{rightKey + ","}}, testSet(), nil, "", decision.Ambiguous, ""},
		{"maps that disagree", decision.Request{Keys: []string{rightKey}, Conflict: true}, testSet(), nil, "", decision.Ambiguous, ""},
		{"outage, right key", decision.Request{Keys: []string{rightKey}}, nil, outage, rightKey, decision.Unavailable, ""},
		{"outage, no key", decision.Request{}, nil, outage, "", decision.Unavailable, ""},
		{"outage, two keys", decision.Request{Keys: []string{rightKey, rightKey}}, nil, outage, "", decision.Unavailable, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var asked []string
			d := decision.New(keys{set: tt.set, err: tt.err, asked: &asked})
			got := d.Decide(context.Background(), tt.in)
			if got.Outcome != tt.outcome || got.Client() != tt.client {
				t.Errorf("Decide = %s (client %q), want %s (client %q)", got.Outcome, got.Client(), tt.outcome, tt.client)
			}
			if got.Allowed() != (tt.outcome == decision.Authorized) {
				t.Errorf("Allowed = %v for %s", got.Allowed(), got.Outcome)
			}
			if len(asked) != 1 || asked[0] != tt.asked {
				t.Errorf("asked Keys about %q, want exactly [%q]", asked, tt.asked)
			}
		})
	}
}

// A valid key is then held to its entry's rules: its sources first, then
// its routes (unless the caller enforces them), and a forbidden key keeps
// its client for the log.
func TestDecideRules(t *testing.T) {
	scoped, sourced := apikey.Generate(), apikey.Generate()
	doc, err := apikey.Parse(`{"api_keys":{
		"reports":{"key":"` + scoped + `","allow":["GET /reports/*","HEAD /reports/*"],"meta":{"tenant":"t-42"}},
		"office":{"key":"` + sourced + `","sources":["203.0.113.0/24"]},
		"alice":"` + rightKey + `"}}`)
	if err != nil {
		t.Fatal(err)
	}
	set := apikey.NewSet(doc.Entries(""))
	inOffice, outside := netip.MustParseAddr("203.0.113.9"), netip.MustParseAddr("198.51.100.1")
	tests := []struct {
		name    string
		in      decision.Request
		outcome decision.Outcome
		reason  string
		client  string
	}{
		{"scoped key on its route", decision.Request{Keys: []string{scoped}, Method: "GET", Path: "/reports/7"}, decision.Authorized, "", "reports"},
		{"scoped key, another method", decision.Request{Keys: []string{scoped}, Method: "POST", Path: "/reports/7"}, decision.Forbidden, access.ReasonRoute, "reports"},
		{"scoped key, another path", decision.Request{Keys: []string{scoped}, Method: "GET", Path: "/"}, decision.Forbidden, access.ReasonRoute, "reports"},
		{"scoped key, routes left to the caller", decision.Request{Keys: []string{scoped}, RoutesByPolicy: true}, decision.Authorized, "", "reports"},
		{"sourced key from its network", decision.Request{Keys: []string{sourced}, Method: "GET", Path: "/", Source: inOffice}, decision.Authorized, "", "office"},
		{"sourced key from outside", decision.Request{Keys: []string{sourced}, Method: "GET", Path: "/", Source: outside}, decision.Forbidden, access.ReasonSource, "office"},
		{"sourced key without an address", decision.Request{Keys: []string{sourced}, Method: "GET", Path: "/", RoutesByPolicy: true}, decision.Forbidden, access.ReasonSource, "office"},
		{"a plain key anywhere", decision.Request{Keys: []string{rightKey}, Method: "DELETE", Path: "/x"}, decision.Authorized, "", "alice"},
		{"authentication first: a wrong key on an allowed route", decision.Request{Keys: []string{wrongKey}, Method: "GET", Path: "/reports/7"}, decision.Invalid, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var asked []string
			got := decision.New(keys{set: set, asked: &asked}).Decide(context.Background(), tt.in)
			if got.Outcome != tt.outcome || got.Reason != tt.reason || got.Client() != tt.client {
				t.Errorf("Decide = %s (%q, client %q), want %s (%q, client %q)", got.Outcome, got.Reason, got.Client(), tt.outcome, tt.reason, tt.client)
			}
		})
	}
	got := decision.New(keys{set: set, asked: new([]string)}).Decide(context.Background(), decision.Request{Keys: []string{scoped}, Method: "GET", Path: "/reports/1"})
	if got.Meta()["tenant"] != "t-42" || len(got.Allow()) != 2 {
		t.Errorf("Meta %v, Allow %v: want the entry's", got.Meta(), got.Allow())
	}
}

// A kg_ key whose checksum does not match is invalid without a look-up:
// Keys is asked only whether a set is loaded (the empty key), so no
// re-read of the store follows, and an outage still says unavailable.
func TestDecideMalformedKgKey(t *testing.T) {
	good := apikey.Generate()
	last := byte('0')
	if good[len(good)-1] == '0' {
		last = '1'
	}
	bad := good[:len(good)-1] + string(last)                                        // the checksum's last digit changed
	set := apikey.NewSet([]apikey.Entry{{Client: "c", Digest: apikey.Digest(bad)}}) // even if a set held it
	var asked []string
	got := decision.New(keys{set: set, asked: &asked}).Decide(context.Background(), decision.Request{Keys: []string{bad}})
	if got.Outcome != decision.Invalid || len(asked) != 1 || asked[0] != "" {
		t.Errorf("Decide = %s, asked %q; want invalid, asked only about the empty key", got.Outcome, asked)
	}
	asked = nil
	got = decision.New(keys{err: errors.New("down"), asked: &asked}).Decide(context.Background(), decision.Request{Keys: []string{bad}})
	if got.Outcome != decision.Unavailable {
		t.Errorf("in an outage: %s, want unavailable", got.Outcome)
	}
	asked = nil
	set = apikey.NewSet([]apikey.Entry{{Client: "c", Digest: apikey.Digest(good)}})
	if got := decision.New(keys{set: set, asked: &asked}).Decide(context.Background(), decision.Request{Keys: []string{good}}); got.Outcome != decision.Authorized || asked[0] != good {
		t.Errorf("a well-formed kg_ key: %s, asked %q", got.Outcome, asked)
	}
}

// A log line names the address the door gave, when it gave a valid one,
// without an IPv6 zone (event text).
func TestLogSource(t *testing.T) {
	for _, tt := range []struct {
		source netip.Addr
		want   string // "": no member
	}{
		{netip.Addr{}, ""},
		{netip.MustParseAddr("192.0.2.7"), "[source_ip=192.0.2.7]"},
		{netip.MustParseAddr("2001:db8::1"), "[source_ip=2001:db8::1]"},
		{netip.MustParseAddr("fe80::1%kgZoneIsEventText0123"), "[source_ip=fe80::1]"},
	} {
		got := decision.LogSource(decision.Request{Source: tt.source})
		if s := fmt.Sprint(got); tt.want == "" && got != nil || tt.want != "" && s != tt.want {
			t.Errorf("LogSource(%v) = %v, want %s", tt.source, got, tt.want)
		}
	}
}
