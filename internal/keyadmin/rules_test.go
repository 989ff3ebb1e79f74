package keyadmin_test

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/keygate/keygate/internal/apikey"
	"github.com/keygate/keygate/internal/keyadmin"
)

// policyOf is the policy the function gives key, loading the secret as
// it does: patterns and networks in the secret's spelling.
func policyOf(t *testing.T, tl *tool, key string) (allow, sources []string, meta map[string]string, restricted bool) {
	t.Helper()
	e, r := tl.keys(t).Match(key, now)
	if r != apikey.OK {
		t.Fatalf("the function does not take the key: %v", r)
	}
	if e.Policy == nil {
		return nil, nil, nil, false
	}
	if e.Policy.Allow != nil {
		allow = []string{}
		for _, p := range e.Policy.Allow {
			allow = append(allow, p.String())
		}
	}
	if e.Policy.Sources != nil {
		sources = []string{}
		for _, n := range e.Policy.Sources {
			sources = append(sources, n.String())
		}
	}
	return allow, sources, e.Policy.Meta, true
}

func TestKeysAddWithRules(t *testing.T) {
	base := `{"api_keys":{"alice":"` + keyA + `"}}`
	tests := []struct {
		name    string
		args    []string
		allow   []string
		sources []string
		meta    map[string]string
		report  string // the rules line on stderr, "" for none
	}{
		{"all three", []string{"--allow", "GET /reports", "--allow", "GET /reports/*", "--source", "203.0.113.0/24", "--source", "2001:db8::/32", "--meta", "tenant=t-42", "--meta", "plan=gold"},
			[]string{"GET /reports", "GET /reports/*"}, []string{"203.0.113.0/24", "2001:db8::/32"}, map[string]string{"tenant": "t-42", "plan": "gold"},
			"Its rules: allow GET /reports, GET /reports/*; sources 203.0.113.0/24, 2001:db8::/32; meta plan, tenant."},
		{"allow only, key stored", []string{"--store-key", "--allow", "* /orders/*"},
			[]string{"* /orders/*"}, nil, nil, "Its rules: allow * /orders/*; sources any; meta -."},
		{"sources only, before NAME", []string{"--source", "198.51.100.7/32"},
			nil, []string{"198.51.100.7/32"}, nil, "Its rules: allow any; sources 198.51.100.7/32; meta -."},
		{"meta only; = in a value", []string{"--meta", "query=a=b"},
			nil, nil, map[string]string{"query": "a=b"}, "Its rules: allow any; sources any; meta query."},
		{"no rules", nil, nil, nil, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tl := newTool(t, base)
			args := append([]string{"keys", "add", "bob"}, tt.args...)
			if strings.Contains(tt.name, "before NAME") {
				args = append(append([]string{"keys", "add"}, tt.args...), "bob")
			}
			r := tl.run(t, args...)
			wantCode(t, r, keyadmin.ExitOK, `added "bob"`, tt.report)
			if tt.report == "" && strings.Contains(r.stderr, "Its rules") {
				t.Errorf("an add without rules reports some:\n%s", r.stderr)
			}
			key := strings.TrimSpace(r.stdout)
			checkQuiet(t, r, key, base, tl.value(t))
			for _, v := range tt.meta {
				if strings.Contains(r.stderr, v) {
					t.Errorf("stderr shows a meta value:\n%s", r.stderr)
				}
			}

			// The stored entry holds exactly the rules given…
			e := tl.current(t).Keys["bob"]
			if !equalList(e.Allow, tt.allow) || !equalList(e.Sources, tt.sources) || !maps.Equal(e.Meta, tt.meta) {
				t.Errorf("stored allow %q sources %q meta %v, want %q %q %v", e.Allow, e.Sources, e.Meta, tt.allow, tt.sources, tt.meta)
			}
			// …and the function, loading the secret, holds them as bob's
			// policy.
			allow, sources, meta, restricted := policyOf(t, tl, key)
			if restricted != (tt.allow != nil || tt.sources != nil || tt.meta != nil) {
				t.Fatalf("the function's entry has a policy: %v", restricted)
			}
			if !equalList(allow, tt.allow) || !equalList(sources, tt.sources) || !maps.Equal(meta, tt.meta) {
				t.Errorf("the function's policy: allow %q sources %q meta %v, want %q %q %v", allow, sources, meta, tt.allow, tt.sources, tt.meta)
			}
		})
	}
}

// equalList tells nil (absent: any) from empty (none).
func equalList(a, b []string) bool { return (a == nil) == (b == nil) && slices.Equal(a, b) }

// Rules the function would refuse are usage errors, found before the
// secret is read, and never repeated in the message.
func TestKeysAddBadRules(t *testing.T) {
	const secret = `{"api_keys":{"alice":"` + keyA + `"}}`
	long := "v" + strings.Repeat("w", apikey.MaxMetaValue)
	var eleven []string
	for i := range 11 {
		eleven = append(eleven, "--meta", string(rune('a'+i))+"=v")
	}
	tests := []struct {
		name      string
		args      []string
		hidden    string // a value that must not be echoed
		stderrHas []string
	}{
		{"--meta without =", []string{"--meta", "tenantXYZZY"}, "XYZZY", []string{"1st --meta has no '='"}},
		{"--meta without a value", []string{"--meta", "plan=gold", "--meta", "tenant="}, "", []string{"2nd --meta has no value"}},
		{"pattern without a method", []string{"--allow", "/reportsXYZZY"}, "XYZZY", []string{`api_keys["bob"]`, "allow[0]", `"METHOD /path"`}},
		{"relative path", []string{"--allow", "GET /ok", "--allow", "GET reportsXYZZY"}, "XYZZY", []string{"allow[1] has a relative path"}},
		{"method in lower case", []string{"--allow", "get /XYZZY"}, "XYZZY", []string{"allow[0] has a method"}},
		{"a key pasted as a pattern", []string{"--allow", keyA}, keyA, []string{"allow[0]"}},
		{"not a CIDR", []string{"--source", "192.0.2.0/33"}, "192.0.2", []string{"sources[0] is not a CIDR"}},
		{"an address, not a network", []string{"--source", "192.0.2.7"}, "192.0.2", []string{"sources[0]", "/32"}},
		{"host bits set", []string{"--source", "198.51.100.0/24", "--source", "192.0.2.7/24"}, "192.0.2", []string{"sources[1] has bits set"}},
		{"a key pasted as a network", []string{"--source", keyA}, keyA, []string{"sources[0]"}},
		{"meta name in capitals", []string{"--meta", "Tenant=XYZZY"}, "XYZZY", []string{"meta has a member whose name is not"}},
		{"meta value too long", []string{"--meta", "note=" + long}, long, []string{`meta["note"] must be at most 256 characters`}},
		{"meta value with a control character", []string{"--meta", "note=XYZ\x01ZY"}, "XYZ", []string{`meta["note"] holds a control character`}},
		{"eleven meta members", eleven, "", []string{"meta has 11 members, more than 10"}},
		{"a meta member twice", []string{"--meta", "plan=XYZZY", "--meta", "plan=gold"}, "XYZZY", []string{`--meta names the member "plan" more than once`}},
		{"--allow without its value", []string{"--allow"}, "", []string{"flag needs an argument", "allow"}},
		{"a flag of keys set", []string{"--allow-any"}, "", []string{"allow-any"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tl := newTool(t, secret)
			r := tl.run(t, append([]string{"keys", "add", "bob"}, tt.args...)...)
			wantCode(t, r, keyadmin.ExitUsage, tt.stderrHas...)
			if tt.hidden != "" && (strings.Contains(r.stderr, tt.hidden) || strings.Contains(r.stdout, tt.hidden)) {
				t.Errorf("the message repeats the value:\n%s", r.stderr)
			}
			if r.stdout != "" || tl.value(t) != secret || len(tl.sm.Requests()) != 0 {
				t.Errorf("a usage error printed %q or reached Secrets Manager (%d requests)", r.stdout, len(tl.sm.Requests()))
			}
		})
	}
}

// A meta value that is a key of the secret can only be found against the
// secret: the change is refused there, by name.
func TestKeysAddMetaHoldingAKey(t *testing.T) {
	const secret = `{"api_keys":{"alice":"` + keyA + `"}}`
	tl := newTool(t, secret)
	r := tl.run(t, "keys", "add", "bob", "--meta", "token="+keyA)
	wantCode(t, r, keyadmin.ExitError, `api_keys["bob"].meta["token"] holds a key of this secret`, "nothing written")
	if r.stdout != "" || tl.value(t) != secret || tl.sm.Calls("PutSecretValue") != 0 {
		t.Error("a refused add printed a key or wrote the secret")
	}
	checkQuiet(t, r, "", secret)
}

// list shows each entry's rules: in the table compactly (meta by member
// names), in --json in full.
func TestKeysListRules(t *testing.T) {
	hashB := apikey.HashEntry(keyB, nil).SHA256
	secret := `{"api_keys":{"alice":"` + keyA + `",` +
		`"bob":{"sha256":"` + hashB + `","allow":["GET /reports","GET /reports/*","HEAD /reports/*"],"sources":["203.0.113.0/24","2001:db8::/32"],"meta":{"tenant":"t-42","plan":"gold"}},` +
		`"carol":{"key":"` + keyC + `","allow":[],"sources":[]},` +
		`"dave":{"key":"` + keyD + `","allow":["* /*"],"sources":["198.51.100.7/32"]}}}`
	tl := newTool(t, secret)
	r := tl.run(t, "keys", "list")
	wantCode(t, r, keyadmin.ExitOK)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	rows := map[string]string{}
	for _, l := range lines {
		f := strings.Fields(l)
		// NAME KIND CREATED EXPIRES, then the rules.
		rows[f[0]] = strings.Join(f[4:], " ")
	}
	for name, want := range map[string]string{
		"NAME":  "ALLOW SOURCES META",
		"alice": "any any -",
		"bob":   "3 routes 2 networks plan,tenant",
		"carol": "none none -",
		"dave":  "1 route 1 network -",
	} {
		if rows[name] != want {
			t.Errorf("%s: rules column %q, want %q\n%s", name, rows[name], want, r.stdout)
		}
	}
	if strings.Contains(r.stdout+r.stderr, "t-42") || strings.Contains(r.stdout+r.stderr, "gold") {
		t.Errorf("the table shows meta values:\n%s", r.stdout)
	}
	checkQuiet(t, r, "", secret)

	r = tl.run(t, "keys", "list", "--json")
	wantCode(t, r, keyadmin.ExitOK)
	checkQuiet(t, r, "", secret)
	var l keyadmin.Listing
	if err := json.Unmarshal([]byte(r.stdout), &l); err != nil {
		t.Fatalf("--json: %v\n%s", err, r.stdout)
	}
	want := map[string]keyadmin.Listed{
		"alice": {},
		"bob": {Allow: []string{"GET /reports", "GET /reports/*", "HEAD /reports/*"}, Sources: []string{"203.0.113.0/24", "2001:db8::/32"},
			Meta: map[string]string{"tenant": "t-42", "plan": "gold"}},
		"carol": {Allow: []string{}, Sources: []string{}},
		"dave":  {Allow: []string{"* /*"}, Sources: []string{"198.51.100.7/32"}},
	}
	if len(l.Entries) != len(want) {
		t.Fatalf("--json lists %d entries, want %d", len(l.Entries), len(want))
	}
	for _, e := range l.Entries {
		w := want[e.Name]
		if !equalList(e.Allow, w.Allow) || !equalList(e.Sources, w.Sources) || !maps.Equal(e.Meta, w.Meta) {
			t.Errorf("--json %s: allow %q sources %q meta %v, want %q %q %v", e.Name, e.Allow, e.Sources, e.Meta, w.Allow, w.Sources, w.Meta)
		}
	}
	// As written: absent fields are left out, empty lists are [].
	var raw struct {
		Entries []map[string]json.RawMessage `json:"entries"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &raw); err != nil {
		t.Fatal(err)
	}
	for _, e := range raw.Entries {
		var name string
		json.Unmarshal(e["name"], &name)
		for _, field := range []string{"allow", "sources", "meta"} {
			got, present := e[field]
			switch {
			case name == "alice" && present, name == "carol" && field == "meta" && present:
				t.Errorf("--json %s has %s %s, want it absent", name, field, got)
			case name == "carol" && field != "meta" && string(got) != "[]":
				t.Errorf("--json carol: %s is %s, want []", field, got)
			}
		}
	}
}

// A rotation gives the new key the entry's rules, and the old key, kept
// for its grace, the same ones; a revoke removes both.
func TestKeysRotateKeepsRules(t *testing.T) {
	hashB := apikey.HashEntry(keyB, nil).SHA256
	rules := `"allow":["GET /reports/*"],"sources":["203.0.113.0/24"],"meta":{"tenant":"t-42"}`
	allow, sources, meta := []string{"GET /reports/*"}, []string{"203.0.113.0/24"}, map[string]string{"tenant": "t-42"}
	tests := []struct {
		name, secret string
		args         []string
		kind         string
		prev         bool
	}{
		{"hash-only, with grace", `{"api_keys":{"alice":"` + keyA + `","bob":{"sha256":"` + hashB + `",` + rules + `}}}`, nil, apikey.KindSHA256, true},
		{"key stored, no grace", `{"api_keys":{"alice":"` + keyA + `","bob":{"key":"` + keyB + `",` + rules + `}}}`, []string{"--grace", "0"}, apikey.KindKey, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tl := newTool(t, tt.secret)
			r := tl.run(t, append([]string{"keys", "rotate", "bob"}, tt.args...)...)
			wantCode(t, r, keyadmin.ExitOK, "rotated")
			key := strings.TrimSpace(r.stdout)
			checkQuiet(t, r, key, tt.secret, tl.value(t))
			doc := tl.current(t)
			keys := map[string]string{"bob": key}
			if tt.prev {
				keys["bob.previous"] = keyB
			} else if _, ok := doc.Keys["bob.previous"]; ok {
				t.Error("--grace 0 kept the old key")
			}
			for name, k := range keys {
				e := doc.Keys[name]
				if e.Digest() != apikey.Digest(k) || !equalList(e.Allow, allow) || !equalList(e.Sources, sources) || !maps.Equal(e.Meta, meta) {
					t.Errorf("%s: holds its key %v, allow %q sources %q meta %v; want the rules kept", name, e.Digest() == apikey.Digest(k), e.Allow, e.Sources, e.Meta)
				}
				a, s, m, _ := policyOf(t, tl, k)
				if !equalList(a, allow) || !equalList(s, sources) || !maps.Equal(m, meta) {
					t.Errorf("the function's policy for %s: allow %q sources %q meta %v", name, a, s, m)
				}
			}
			if e := doc.Keys["bob"]; e.Kind() != tt.kind {
				t.Errorf("kind %s, want %s", e.Kind(), tt.kind)
			}

			r = tl.run(t, "keys", "revoke", "bob")
			wantCode(t, r, keyadmin.ExitOK, `revoked "bob"`)
			if got := strings.Join(tl.current(t).Names(), ","); got != "alice" {
				t.Errorf("after the revoke: %s, want alice", got)
			}
		})
	}
}
