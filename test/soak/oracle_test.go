package soak

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	samples "github.com/keygate/keygate/events"
)

// store is a secret's labelled versions, as the oracle reads them.
type store struct {
	n        int
	current  string
	previous string
	values   map[string]string
}

// put makes value AWSCURRENT, the current version AWSPREVIOUS (as
// PutSecretValue and finishSecret do).
func (s *store) put(value string) {
	s.n++
	id := fmt.Sprintf("%08d-0000-4000-8000-000000000000", s.n)
	s.values[id] = value
	s.previous, s.current = s.current, id
}

func (s *store) snapshot() snapshot {
	v := map[string]string{s.current: s.values[s.current]}
	if s.previous != "" {
		v[s.previous] = s.values[s.previous]
	}
	return snapshot{current: s.current, previous: s.previous, values: v}
}

// secret is an api_keys value: client → key, or → a full entry.
func secret(t *testing.T, entries map[string]any) string {
	b, err := json.Marshal(map[string]any{"api_keys": entries})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// clock is the oracle's time, moved by the test.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }
func (c *clock) at(d time.Duration) time.Time {
	return time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC).Add(d)
}

// oracleAt returns an oracle over a store holding initial, written at 0.
func oracleAt(t *testing.T, initial map[string]any) (*Oracle, *store, *clock) {
	s := &store{values: map[string]string{}}
	c := &clock{}
	c.t = c.at(0)
	o := NewOracle(settings, s.snapshot)
	o.now = c.now
	o.Write("setup", "", func() error { s.put(secret(t, initial)); return nil })
	return o, s, c
}

// write changes the store at d (the write takes 10 ms). A rotation keeps
// the version it replaces as AWSPREVIOUS; keygate keys removes that label.
func write(t *testing.T, o *Oracle, s *store, c *clock, d time.Duration, kind string, entries map[string]any) {
	c.t = c.at(d)
	o.Write(kind, "", func() error {
		s.put(secret(t, entries))
		if kind != "rotation" {
			s.previous = ""
		}
		c.t = c.t.Add(10 * time.Millisecond)
		return nil
	})
}

func testSlot(t *testing.T, name string) *slot {
	fn, _, err := slots()
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(fn, func(s *slot) bool { return s.ev.Name == name })
	if i < 0 {
		t.Fatalf("no slot %s", name)
	}
	return fn[i]
}

const (
	keyA = "kgOracleTestKeyA0123456789abcdefAB"
	keyB = "kgOracleTestKeyB0123456789abcdefAB"
)

// The oracle's rules, one case each: what an environment may answer for
// a key around a change, a fault, an expiry.
func TestOracleRules(t *testing.T) {
	rest := testSlot(t, "rest-valid-key.json")
	w := settings.staleness() // 9 s
	type ask struct {
		env     time.Duration // when the environment started
		sent    time.Duration
		key     string
		verdict string
		want    verdict
	}
	for _, tc := range []struct {
		name  string
		setup func(o *Oracle, s *store, c *clock) // after the initial {a: keyA} at 0
		asks  []ask
	}{
		{"a key added may be refused until the next refresh, not after", func(o *Oracle, s *store, c *clock) {
			write(t, o, s, c, time.Minute, "keys add", map[string]any{"a": keyA, "b": keyB})
		}, []ask{
			{0, time.Minute - time.Second, keyB, "200", wrong},
			{0, time.Minute + time.Second, keyB, "401", right},
			{0, time.Minute + time.Second, keyB, "200", right},
			{0, time.Minute + w - time.Second, keyB, "401", right},
			{0, time.Minute + w + time.Second, keyB, "401", wrong},
			{0, time.Minute + w + time.Second, keyA, "200", right},
		}},
		{"a key revoked may be accepted until the next refresh, not after", func(o *Oracle, s *store, c *clock) {
			write(t, o, s, c, time.Minute, "keys revoke", map[string]any{"b": keyB})
		}, []ask{
			{0, time.Minute - time.Second, keyA, "401", wrong},
			{0, time.Minute + w - time.Second, keyA, "200", right},
			{0, time.Minute + w + time.Second, keyA, "200", wrong},
		}},
		{"an environment started after a revoke (revoke --now) never accepts the key", func(o *Oracle, s *store, c *clock) {
			write(t, o, s, c, time.Minute, "keys revoke --now", map[string]any{"b": keyB})
		}, []ask{
			{time.Minute + time.Second, time.Minute + 2*time.Second, keyA, "200", wrong},
			{time.Minute + time.Second, time.Minute + 2*time.Second, keyA, "401", right},
			{0, time.Minute + 2*time.Second, keyA, "200", right},
		}},
		{"a fault stretches the window by its length and the backoff", func(o *Oracle, s *store, c *clock) {
			write(t, o, s, c, time.Minute, "keys revoke", map[string]any{"b": keyB})
			c.t = c.at(time.Minute + time.Second)
			f := o.FaultOn("down")
			c.t = c.at(time.Minute + 20*time.Second)
			o.FaultOff(f)
		}, []ask{
			{0, time.Minute + 25*time.Second, keyA, "200", right},
			{0, time.Minute + 20*time.Second + settings.shadow() + time.Second, keyA, "200", right},
			{0, time.Minute + 20*time.Second + settings.shadow() + w + time.Second, keyA, "200", wrong},
		}},
		{"a cold start in a fault answers 503; an environment with a set never does", func(o *Oracle, s *store, c *clock) {
			c.t = c.at(time.Minute)
			f := o.FaultOn("access denied")
			c.t = c.at(time.Minute + 10*time.Second)
			o.FaultOff(f)
		}, []ask{
			{time.Minute + 2*time.Second, time.Minute + 3*time.Second, keyA, "503", right},
			{time.Minute + 2*time.Second, time.Minute + 10*time.Second + settings.shadow() - time.Second, keyA, "503", right},
			{time.Minute + 2*time.Second, time.Minute + 10*time.Second + settings.shadow() + w + time.Second, keyA, "503", wrong},
			{0, time.Minute + 3*time.Second, keyA, "503", wrong},
			{0, 30 * time.Second, keyA, "503", wrong},
		}},
		{"an expiry takes effect at its moment", func(o *Oracle, s *store, c *clock) {
			exp := c.at(time.Minute).Format(time.RFC3339)
			write(t, o, s, c, 10*time.Second, "keys add", map[string]any{"a": keyA, "b": map[string]string{"key": keyB, "expires": exp}})
		}, []ask{
			{0, time.Minute - time.Second, keyB, "200", right},
			{0, time.Minute + time.Second, keyB, "200", wrong},
			{0, time.Minute + time.Second, keyB, "401", right},
		}},
		{"a rotated-away key works until its grace ends, from AWSCURRENT's creation", func(o *Oracle, s *store, c *clock) {
			write(t, o, s, c, time.Minute, "rotation", map[string]any{"a": keyB})
		}, []ask{
			{0, time.Minute + settings.Grace - time.Second, keyA, "200", right},
			{0, time.Minute + settings.Grace + time.Second, keyA, "200", wrong},
			{0, time.Minute + settings.Grace + time.Second, keyA, "401", right},
		}},
		{"a document that does not parse is never loaded: the last good set stays", func(o *Oracle, s *store, c *clock) {
			write(t, o, s, c, time.Minute, "keys revoke", map[string]any{"b": keyB})
			c.t = c.at(2 * time.Minute)
			f := o.FaultOn("bad document")
			o.Write("bad document", "", func() error { s.put(`{"api_keys":`); return nil })
			c.t = c.at(3 * time.Minute)
			o.Write("bad document fixed", "", func() error { s.put(s.values[s.previous]); return nil })
			o.FaultOff(f)
		}, []ask{
			{0, 2*time.Minute + 30*time.Second, keyA, "200", wrong},
			{0, 2*time.Minute + 30*time.Second, keyB, "200", right},
			{0, 2*time.Minute + 30*time.Second, keyB, "401", wrong},
		}},
		{"a refusal that only a load straddling a write explains is told apart", func(o *Oracle, s *store, c *clock) {
			write(t, o, s, c, time.Minute, "rotation", map[string]any{"a": keyB})
			until := c.at(time.Minute + settings.Grace).Format(time.RFC3339)
			write(t, o, s, c, time.Minute+5*time.Second, "keys add", map[string]any{"a": keyB, "b": keyA + "x",
				"a.previous": map[string]string{"sha256": sha(keyA), "expires": until}})
		}, []ask{
			{0, time.Minute + 6*time.Second, keyA, "200", right},
			{0, time.Minute + 6*time.Second, keyA, "401", straddled},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, s, c := oracleAt(t, map[string]any{"a": keyA})
			o.Learn(keyB)
			tc.setup(o, s, c)
			for _, a := range tc.asks {
				e := &env{function: "keygate", name: "keygate/0", started: c.at(a.env)}
				ans := &answer{env: e, req: request{slot: rest, key: a.key}, sent: c.at(a.sent), recv: c.at(a.sent + 2*time.Millisecond), verdict: a.verdict}
				if got, ok := o.judge(ans); got != a.want {
					t.Errorf("%s for key %s sent at %s (environment started at %s): judged %d, want %d (allowed: %v)",
						a.verdict, a.key[:16], a.sent, a.env, got, a.want, ok)
				}
			}
		})
	}
}

// A slot's answers follow events/expected.json for a valid key, and the
// refusal of its door otherwise.
func TestSlotAnswers(t *testing.T) {
	for _, tc := range []struct {
		slot              string
		valid, invalid    string
		noSet             string
		keyed, telling    bool
		wantClientInAllow bool
	}{
		{"rest-valid-key.json", "200", "401", "503", true, true, false},
		{"rest-scoped-key-post.json", "403", "401", "503", true, true, false},
		{"rest-no-key.json", "401", "401", "503", false, false, false},
		{"tokenauthorizer-valid-key.json", "allow:c", unauthorized, unavailable, true, true, true},
		{"tokenauthorizer-sourced-key.json", "deny:c", unauthorized, unavailable, true, true, false},
		{"httpauthorizer-scoped-key-post.json", notAllowed, notAllowed, notAllowed, true, false, false},
		{"httpauthorizer-valid-key.json", "allow:c", notAllowed, notAllowed, true, true, true},
	} {
		s := testSlot(t, tc.slot)
		got := [3]string{s.expect(validity{true, "c"}, true), s.expect(validity{}, true), s.expect(validity{}, false)}
		if got != [3]string{tc.valid, tc.invalid, tc.noSet} || s.keyed != tc.keyed || s.telling() != tc.telling {
			t.Errorf("%s: answers %q, keyed %v, telling %v; want %q, %v, %v", tc.slot, got, s.keyed, s.telling(),
				[3]string{tc.valid, tc.invalid, tc.noSet}, tc.keyed, tc.telling)
		}
	}
	_, local, err := slots()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range local {
		if s.class == sourced && s.keyed && s.expect(validity{true, "c"}, true) != strconv.Itoa(403) {
			t.Errorf("local %s: a valid office key from 127.0.0.1 must be forbidden", s.ev.Name)
		}
	}
	if want := samples.RightKey; testSlot(t, "rest-valid-key.json").fixture != want {
		t.Errorf("rest-valid-key.json's fixture is not %s", want)
	}
}
