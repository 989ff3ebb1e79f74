package decision_test

import (
	"context"
	"errors"
	"testing"
	"time"

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
