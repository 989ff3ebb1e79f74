package keyadmin_test

import (
	"encoding/json"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/internal/apikey"
	"github.com/keygate/keygate/internal/keyadmin"
)

// rawEntry is the named entry of an api_keys secret value, field by field
// as written.
func rawEntry(t *testing.T, value, name string) map[string]json.RawMessage {
	t.Helper()
	var top struct {
		Keys map[string]json.RawMessage `json:"api_keys"`
	}
	if err := json.Unmarshal([]byte(value), &top); err != nil {
		t.Fatalf("the secret is not JSON: %v", err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(top.Keys[name], &fields); err != nil {
		t.Fatalf("api_keys[%q] is not an object", name)
	}
	return fields
}

func TestKeysSet(t *testing.T) {
	hashB := apikey.HashEntry(keyB, nil).SHA256
	prevExpires := now.Add(2 * time.Hour)
	rules := `"allow":["GET /reports"],"sources":["203.0.113.0/24"],"meta":{"plan":"gold","tenant":"t-42"}`
	secret := `{"api_keys":{"alice":"` + keyA + `",` +
		`"bob":{"sha256":"` + hashB + `","expires":"2099-01-01T00:00:00Z",` + rules + `},` +
		`"bob.previous":{"key":"` + keyD + `","expires":"` + stamp(prevExpires) + `",` + rules + `}}}`
	allow, sources := []string{"GET /reports"}, []string{"203.0.113.0/24"}
	meta := map[string]string{"plan": "gold", "tenant": "t-42"}

	tests := []struct {
		name      string
		args      []string
		allow     []string
		sources   []string
		meta      map[string]string
		stderrHas []string
	}{
		{"replace allow", []string{"--allow", "GET /a/*", "--allow", "POST /b"},
			[]string{"GET /a/*", "POST /b"}, sources, meta, []string{"allow: GET /a/*, POST /b (was GET /reports)"}},
		{"--allow-none", []string{"--allow-none"},
			[]string{}, sources, meta, []string{"allow: none (was GET /reports)"}},
		{"--allow-any", []string{"--allow-any"},
			nil, sources, meta, []string{"allow: any (was GET /reports)"}},
		{"replace sources", []string{"--source", "2001:db8::/32", "--source", "198.51.100.0/24"},
			allow, []string{"2001:db8::/32", "198.51.100.0/24"}, meta, []string{"sources: 2001:db8::/32, 198.51.100.0/24 (was 203.0.113.0/24)"}},
		{"--source-none", []string{"--source-none"},
			allow, []string{}, meta, []string{"sources: none (was 203.0.113.0/24)"}},
		{"--source-any", []string{"--source-any"},
			allow, nil, meta, []string{"sources: any (was 203.0.113.0/24)"}},
		{"set a meta member", []string{"--meta", "region=REGION-X"},
			allow, sources, map[string]string{"plan": "gold", "tenant": "t-42", "region": "REGION-X"}, []string{"meta: plan, region, tenant (was plan, tenant; values are not shown)"}},
		{"change a meta value", []string{"--meta", "plan=SILVER-X"},
			allow, sources, map[string]string{"plan": "SILVER-X", "tenant": "t-42"}, []string{"meta: plan, tenant (was plan, tenant; values are not shown)"}},
		{"remove a meta member", []string{"--meta", "plan="},
			allow, sources, map[string]string{"tenant": "t-42"}, []string{"meta: tenant (was plan, tenant"}},
		{"remove every member one by one", []string{"--meta", "plan=", "--meta", "tenant="},
			allow, sources, nil, []string{"meta: - (was plan, tenant"}},
		{"--meta-clear", []string{"--meta-clear"},
			allow, sources, nil, []string{"meta: - (was plan, tenant"}},
		{"--meta-clear with --meta: exactly those", []string{"--meta-clear", "--meta", "region=REGION-X"},
			allow, sources, map[string]string{"region": "REGION-X"}, []string{"meta: region (was plan, tenant"}},
		{"everything, flags before NAME", []string{"--allow-any", "--source-any", "--meta-clear"},
			nil, nil, nil, []string{"allow: any", "sources: any", "meta: -"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tl := newTool(t, secret)
			before := tl.sm.Stages(secretID)
			args := append([]string{"keys", "set", "bob"}, tt.args...)
			if strings.Contains(tt.name, "before NAME") {
				args = append(append([]string{"keys", "set"}, tt.args...), "bob")
			}
			r := tl.run(t, args...)
			wantCode(t, r, keyadmin.ExitOK, append(tt.stderrHas, `set the rules of "bob" and "bob.previous" in secret `+secretID, "Keys, kinds and expiries are unchanged")...)
			if r.stdout != "" {
				t.Errorf("set printed %q on stdout", r.stdout)
			}
			checkQuiet(t, r, "", secret, tl.value(t))
			for _, v := range []string{"gold", "t-42", "REGION-X", "SILVER-X"} {
				if strings.Contains(r.stderr, v) {
					t.Errorf("stderr shows a meta value:\n%s", r.stderr)
				}
			}
			tl.checkWritten(t, before)

			// NAME and its old key: the rules asked for, the same key,
			// kind and expiry.
			doc := tl.current(t)
			for name, want := range map[string]struct {
				key, kind string
				expires   time.Time
			}{
				"bob":          {keyB, apikey.KindSHA256, time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)},
				"bob.previous": {keyD, apikey.KindKey, prevExpires},
			} {
				e := doc.Keys[name]
				if e.Digest() != apikey.Digest(want.key) || e.Kind() != want.kind || e.Expires == nil || !e.Expires.Equal(want.expires) {
					t.Errorf("%s: key kept %v, kind %s, expires %v: want the same key, %s, %s", name, e.Digest() == apikey.Digest(want.key), e.Kind(), e.Expires, want.kind, stamp(want.expires))
				}
				if !equalList(e.Allow, tt.allow) || !equalList(e.Sources, tt.sources) || !maps.Equal(e.Meta, tt.meta) {
					t.Errorf("%s: allow %q sources %q meta %v, want %q %q %v", name, e.Allow, e.Sources, e.Meta, tt.allow, tt.sources, tt.meta)
				}
				// As written: an empty list is [], an absent one is not
				// there, and no members is no meta.
				raw := rawEntry(t, tl.value(t), name)
				for field, list := range map[string][]string{"allow": tt.allow, "sources": tt.sources} {
					got, present := raw[field]
					if present != (list != nil) || list != nil && len(list) == 0 && string(got) != "[]" {
						t.Errorf("%s: %q written as %s (present %v), want %q", name, field, got, present, list)
					}
				}
				if _, present := raw["meta"]; present != (tt.meta != nil) {
					t.Errorf("%s: meta present %v, want %v", name, present, tt.meta != nil)
				}
			}
			if a := doc.Keys["alice"]; a.Key != keyA || !a.Bare {
				t.Error("alice's entry changed")
			}
			// The function holds the new rules for both of bob's keys.
			for _, k := range []string{keyB, keyD} {
				allow, sources, meta, _ := policyOf(t, tl, k)
				if !equalList(allow, tt.allow) || !equalList(sources, tt.sources) || !maps.Equal(meta, tt.meta) {
					t.Errorf("the function's policy: allow %q sources %q meta %v, want %q %q %v", allow, sources, meta, tt.allow, tt.sources, tt.meta)
				}
			}
		})
	}
}

// An old key never keeps more than its client's current rules: a set
// that leaves NAME as it is still gives them to NAME.previous.
func TestKeysSetAlignsOldKeys(t *testing.T) {
	secret := `{"api_keys":{"bob":{"key":"` + keyB + `","allow":["GET /reports"]},` +
		`"bob.previous":{"key":"` + keyD + `","expires":"` + stamp(now.Add(time.Hour)) + `"}}}`
	tl := newTool(t, secret)
	r := tl.run(t, "keys", "set", "bob", "--allow", "GET /reports")
	wantCode(t, r, keyadmin.ExitOK, `set the rules of "bob.previous"`, `"bob" had these rules already; its old keys now have them too`)
	if e := tl.current(t).Keys["bob.previous"]; !equalList(e.Allow, []string{"GET /reports"}) || e.Digest() != apikey.Digest(keyD) {
		t.Errorf("bob.previous: allow %q", e.Allow)
	}
	// Again: nothing left to change, nothing written.
	puts := tl.sm.Calls("PutSecretValue")
	value := tl.value(t)
	r = tl.run(t, "keys", "set", "bob", "--allow", "GET /reports")
	wantCode(t, r, keyadmin.ExitOK, `"bob" already has these rules, and so do its old keys if it has any: nothing written`)
	if tl.sm.Calls("PutSecretValue") != puts || tl.value(t) != value {
		t.Error("a set that changes nothing wrote the secret")
	}
}

// Inside a rotation's grace period, the old keys a change carries over
// take the client's new rules, and keep their grace as any change keeps
// it.
func TestKeysSetInRotationGrace(t *testing.T) {
	t.Run("api_keys", func(t *testing.T) {
		rules := `"allow":["GET /reports/*"]`
		v1 := `{"api_keys":{"alice":"` + keyA + `","bob":{"key":"` + keyB + `",` + rules + `}}}`
		v2 := `{"api_keys":{"alice":"` + keyC + `","bob":{"key":"` + keyD + `",` + rules + `}}}`
		tl := newTool(t, v1)
		graceEnd := rotateTo(t, tl, v2)
		r := tl.run(t, "keys", "set", "bob", "--allow-none")
		wantCode(t, r, keyadmin.ExitOK, `set the rules of "bob" and "bob.previous"`, `until `+stamp(graceEnd)+`, as "alice.previous" and "bob.previous"`)
		checkQuiet(t, r, "", v1, v2)
		doc := tl.current(t)
		if p := doc.Keys["bob.previous"]; p.Digest() != apikey.Digest(keyB) || !equalList(p.Allow, []string{}) || p.Expires == nil || !p.Expires.Equal(graceEnd) {
			t.Errorf("bob.previous: old key %v, allow %q, expires %v; want bob's old key, allow none, until %s", p.Digest() == apikey.Digest(keyB), p.Allow, p.Expires, stamp(graceEnd))
		}
		if p := doc.Keys["alice.previous"]; p.Allow != nil {
			t.Errorf("another client's old key took bob's rules: %q", p.Allow)
		}
		set := tl.keys(t)
		if allow, _, _, _ := policyOf(t, tl, keyB); !equalList(allow, []string{}) {
			t.Errorf("the function gives bob's old key allow %q, want none", allow)
		}
		if !accepts(set, keyB, graceEnd.Add(-time.Second)) || accepts(set, keyB, graceEnd) {
			t.Error("bob's old key does not keep its grace")
		}
	})
	// A single-key secret converted by the set: the old key, which only
	// the conversion gives room, takes the rules too.
	t.Run("converted single key", func(t *testing.T) {
		tl := newTool(t, keyA)
		graceEnd := rotateTo(t, tl, keyC)
		r := tl.run(t, "keys", "set", "default", "--convert", "--source", "198.51.100.0/24")
		wantCode(t, r, keyadmin.ExitOK, `set the rules of "default" and "default.previous"`, `as "default.previous"`)
		doc := tl.current(t)
		for name, key := range map[string]string{"default": keyC, "default.previous": keyA} {
			if e := doc.Keys[name]; e.Digest() != apikey.Digest(key) || !equalList(e.Sources, []string{"198.51.100.0/24"}) {
				t.Errorf("%s: right key %v, sources %q", name, e.Digest() == apikey.Digest(key), e.Sources)
			}
		}
		if !accepts(tl.keys(t), keyA, graceEnd.Add(-time.Second)) || accepts(tl.keys(t), keyA, graceEnd) {
			t.Error("the old key does not keep its grace")
		}
	})
}

func TestKeysSetOnSingleKey(t *testing.T) {
	for _, secret := range []string{keyA, `{"api_key":"` + keyA + `"}`} {
		tl := newTool(t, secret)
		r := tl.run(t, "keys", "set", "default", "--allow", "GET /*")
		wantCode(t, r, keyadmin.ExitError, "holds one key", "--convert")
		if tl.value(t) != secret || tl.sm.Calls("PutSecretValue") != 0 {
			t.Fatal("a refused set wrote the secret")
		}
		r = tl.run(t, "keys", "set", "default", "--allow", "GET /*", "--convert")
		wantCode(t, r, keyadmin.ExitOK, `set the rules of "default"`)
		doc := tl.current(t)
		if e := doc.Keys["default"]; doc.Format != apikey.FormatKeySet || e.Key != keyA || !equalList(e.Allow, []string{"GET /*"}) {
			t.Errorf("converted: format %s, key kept %v, allow %q", doc.Format, e.Key == keyA, e.Allow)
		}
		checkQuiet(t, r, "", secret)
	}
}

func TestKeysSetRefused(t *testing.T) {
	secret := `{"api_keys":{"alice":"` + keyA + `","bob":{"key":"` + keyB + `","meta":{"a":"1","b":"2","c":"3","d":"4","e":"5","f":"6","g":"7","h":"8","i":"9"}}}}`
	tests := []struct {
		name      string
		secret    string
		args      []string
		code      int
		stderrHas []string
	}{
		{"no change", secret, []string{"bob"}, keyadmin.ExitUsage, []string{"keys set needs a change", "--allow-any"}},
		{"--allow with --allow-any", secret, []string{"bob", "--allow", "GET /", "--allow-any"}, keyadmin.ExitUsage, []string{"give one of --allow (repeated), --allow-any and --allow-none"}},
		{"--allow-any with --allow-none", secret, []string{"bob", "--allow-any", "--allow-none"}, keyadmin.ExitUsage, []string{"--allow-none"}},
		{"--source with --source-none", secret, []string{"bob", "--source", "192.0.2.0/24", "--source-none"}, keyadmin.ExitUsage, []string{"give one of --source (repeated), --source-any and --source-none"}},
		{"--meta-clear with a removal", secret, []string{"bob", "--meta-clear", "--meta", "a="}, keyadmin.ExitUsage, []string{"--meta-clear removes every member, so --meta a= has nothing to remove"}},
		{"a member set and removed", secret, []string{"bob", "--meta", "a=x", "--meta", "a="}, keyadmin.ExitUsage, []string{`names the member "a" more than once`}},
		{"a removal with a bad name", secret, []string{"bob", "--meta", "Bad="}, keyadmin.ExitUsage, []string{"meta has a member whose name is not"}},
		{"a bad pattern", secret, []string{"bob", "--allow", "GET"}, keyadmin.ExitUsage, []string{"allow[0]"}},
		{"a flag of add", secret, []string{"bob", "--store-key"}, keyadmin.ExitUsage, []string{"store-key"}},
		{"no such entry", secret, []string{"carol", "--allow-any"}, keyadmin.ExitError, []string{`has no entry "carol"`}},
		{"an old key on its own", `{"api_keys":{"bob":{"key":"` + keyB + `","allow":[]},"bob.previous":{"key":"` + keyD + `","allow":[]}}}`,
			[]string{"bob.previous", "--allow-any"}, keyadmin.ExitError, []string{`"bob.previous" is an old key of "bob"`, "keygate keys set bob", "keygate keys revoke bob.previous"}},
		{"eleven members with the old ones", secret, []string{"bob", "--meta", "j=10", "--meta", "k=11"}, keyadmin.ExitError, []string{`api_keys["bob"]: meta has 11 members, more than 10`, "nothing written"}},
		{"a meta value that is a key", secret, []string{"bob", "--meta", "token=" + keyA}, keyadmin.ExitError, []string{`api_keys["bob"].meta["token"] holds a key of this secret`}},
		{"over the size limit", "", []string{"alice", "--meta", "note=" + strings.Repeat("n", 200)}, keyadmin.ExitError, []string{"over Secrets Manager's limit of 65,536"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.secret == "" {
				tt.secret = padded(t, keyadmin.MaxSecretSize-100)
			}
			tl := newTool(t, tt.secret)
			r := tl.run(t, append([]string{"keys", "set"}, tt.args...)...)
			wantCode(t, r, tt.code, tt.stderrHas...)
			if r.stdout != "" || tl.value(t) != tt.secret || tl.sm.Calls("PutSecretValue") != 0 {
				t.Errorf("a refused set printed %q or wrote the secret", r.stdout)
			}
			checkQuiet(t, r, "", tt.secret)
		})
	}
}
