package apikey_test

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/internal/access"
	"github.com/keygate/keygate/internal/apikey"
)

// An entry's allow, sources and meta, in every kind of entry, reach the
// matchable entry's policy; an absent field is no restriction, an empty
// list is nothing.
func TestParseAccessRules(t *testing.T) {
	doc, err := apikey.Parse(`{"api_keys":{
		"reports":{"key":"kgReportsKey0123","allow":["GET /reports","GET /reports/*","HEAD /reports/*"],
			"sources":["203.0.113.0/24","2001:db8::/32"],"meta":{"tenant":"t-42","plan":"gold"}},
		"hashed":{"sha256":"` + hexDigest("kgHashedKey0123") + `","allow":[],"expires":"2030-01-01T00:00:00Z"},
		"nowhere":{"key":"kgNowhereKey0123","sources":[]},
		"mobile":"kgMobileKey0123"}}`)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	got := map[string]*access.Policy{}
	for _, e := range doc.Entries("AWSCURRENT") {
		got[e.Client] = e.Policy
	}
	pat := func(s string) access.Pattern {
		p, err := access.ParsePattern(s)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	want := map[string]*access.Policy{
		"reports": {
			Allow:   []access.Pattern{pat("GET /reports"), pat("GET /reports/*"), pat("HEAD /reports/*")},
			Sources: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("2001:db8::/32")},
			Meta:    map[string]string{"tenant": "t-42", "plan": "gold"},
		},
		"hashed":  {Allow: []access.Pattern{}},
		"nowhere": {Sources: []netip.Prefix{}},
		"mobile":  nil,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("policies %+v\nwant %+v", got, want)
	}
	// Written back, the document keeps every rule, an empty list too.
	out, err := doc.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	again, err := apikey.Parse(out)
	if err != nil || !reflect.DeepEqual(again.Keys, doc.Keys) {
		t.Errorf("round trip: %v\n%+v\nwant %+v", err, again.Keys, doc.Keys)
	}
	for _, s := range []string{`"allow":[]`, `"sources":[]`, `"mobile":"kgMobileKey0123"`} {
		if !strings.Contains(out, s) {
			t.Errorf("Marshal = %s, want it to hold %s", out, s)
		}
	}
}

// Every fault is a format error named by client and field, and never
// shows the value (it could be a key pasted in the wrong place).
func TestParseAccessRulesRejects(t *testing.T) {
	const pasted = "kgPastedKey0123456789abcdefABCDEF"
	entry := func(fields string) string { return `{"api_keys":{"c":{"key":"kgClientKey0123",` + fields + `}}}` }
	for _, tt := range []struct {
		name, secret, says string
	}{
		{"pattern without a method", entry(`"allow":["/reports"]`), `api_keys["c"]: allow[0] must be "METHOD /path"`},
		{"pattern with a relative path", entry(`"allow":["GET /ok","GET reports"]`), `allow[1] has a relative path`},
		{"lower-case method", entry(`"allow":["get /reports"]`), `allow[0] has a method`},
		{"a key pasted as a pattern", entry(`"allow":["` + pasted + `"]`), `allow[0] must be "METHOD /path"`},
		{"allow not a list", entry(`"allow":"GET /"`), `allow must be a list`},
		{"allow null", entry(`"allow":null`), `allow must be a list`},
		{"a pattern not a string", entry(`"allow":[5]`), `allow must be a list`},
		{"bad CIDR", entry(`"sources":["203.0.113.0/33"]`), `sources[0] is not a CIDR`},
		{"a bare address", entry(`"sources":["203.0.113.7"]`), `sources[0] is not a CIDR`},
		{"host bits", entry(`"sources":["203.0.113.7/24"]`), `sources[0] has bits set`},
		{"a key pasted as a source", entry(`"sources":["` + pasted + `"]`), `sources[0] is not a CIDR`},
		{"bad meta name", entry(`"meta":{"Tenant":"x"}`), `meta has a member whose name is not`},
		{"meta name too long", entry(`"meta":{"` + strings.Repeat("a", 33) + `":"x"}`), `meta has a member whose name is not`},
		{"meta value not a string", entry(`"meta":{"tier":3}`), `meta["tier"] must be a string`},
		{"meta not an object", entry(`"meta":["a"]`), `meta must be an object`},
		{"too many meta members", entry(`"meta":{"a":"1","b":"2","c":"3","d":"4","e":"5","f":"6","g":"7","h":"8","i":"9","j":"10","k":"11"}`), `meta has 11 members, more than 10`},
		{"meta value too long", entry(`"meta":{"note":"` + strings.Repeat("x", 257) + `"}`), `meta["note"] must be at most 256`},
		{"meta value with a control character", entry(`"meta":{"note":"a\u0007b"}`), `meta["note"] holds a control character`},
		{"meta holding a key of the secret", `{"api_keys":{"a":"kgAliceKey0123","b":{"key":"kgBobKey0123","meta":{"note":"kgAliceKey0123"}}}}`, `api_keys["b"].meta["note"] holds a key of this secret`},
		{"unknown field beside them", entry(`"allow":["GET /"],"source":["203.0.113.0/24"]`), `must be a key string or an object`},
		{"kg_ key with a bad checksum", `{"api_keys":{"c":"kg_` + strings.Repeat("A", 36) + `"}}`, `starts with kg_ but is not a key keygate made`},
		{"kg_ key too short", `kg_abc`, `starts with kg_ but is not a key keygate made`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := apikey.Parse(tt.secret)
			if !errors.Is(err, apikey.ErrFormat) || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("Parse = %v, want a format error saying %q", err, tt.says)
			}
			if strings.Contains(err.Error(), pasted) || strings.Contains(err.Error(), "kgClientKey0123") || strings.Contains(err.Error(), "kgAliceKey0123") {
				t.Errorf("the error shows a value: %v", err)
			}
		})
	}
	// At the limits.
	ok := entry(`"meta":{"a":"1","b":"2","c":"3","d":"4","e":"5","f":"6","g":"7","h":"8","i":"9","` + strings.Repeat("j", 32) + `":"` + strings.Repeat("é", 256) + `"}`)
	if _, err := apikey.Parse(ok); err != nil {
		t.Errorf("10 members, a 32-character name and a 256-character value: %v", err)
	}
	if _, err := apikey.Parse(`{"api_keys":{"c":"` + apikey.Generate() + `"}}`); err != nil {
		t.Errorf("a generated kg_ key: %v", err)
	}
}

// A key's new versions keep its rules: the old key kept for a grace period
// (Hashed), the key of a rotation (WithKey), a copy (Clone), a rotation of
// the whole secret (Regenerate). An old key that could do more than the
// new one would widen access for the grace period.
func TestRulesSurviveEdits(t *testing.T) {
	exp := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	e := apikey.KeyEntry{Key: "kgReportsKey0123", Allow: []string{"GET /reports/*"}, Sources: []string{"203.0.113.0/24"}, Meta: map[string]string{"tenant": "t-42"}}
	same := func(name string, got apikey.KeyEntry) {
		t.Helper()
		if !reflect.DeepEqual(got.Allow, e.Allow) || !reflect.DeepEqual(got.Sources, e.Sources) || !reflect.DeepEqual(got.Meta, e.Meta) {
			t.Errorf("%s lost the rules: %+v", name, got)
		}
		got.Allow[0], got.Sources[0], got.Meta["tenant"] = "x", "y", "z"
		if e.Allow[0] == "x" || e.Sources[0] == "y" || e.Meta["tenant"] == "z" {
			t.Fatalf("%s shares memory with the original", name)
		}
	}
	same("Hashed", e.Hashed(&exp))
	same("WithKey", e.WithKey("kgNewKey01234567", false, nil))
	same("WithKey, hash only", e.WithKey("kgNewKey01234567", true, &exp))
	doc, err := apikey.Parse(`{"api_keys":{"r":{"key":"kgReportsKey0123","allow":["GET /reports/*"],"sources":["203.0.113.0/24"],"meta":{"tenant":"t-42"}}}}`)
	if err != nil {
		t.Fatal(err)
	}
	same("Clone", doc.Clone().Keys["r"])
	re, _ := doc.Regenerate(apikey.Generate)
	same("Regenerate", re.Keys["r"])
	if re.Keys["r"].Key == e.Key {
		t.Error("Regenerate kept the key")
	}
}

// An entry's usage plan: all three members, checked without showing a
// value; kept by every edit; the usage key reaches the matchable entry.
func TestUsage(t *testing.T) {
	const usageKey = "UsageKeyValue0123456789abcdef"
	doc, err := apikey.Parse(`{"api_keys":{"reports":{"key":"kgReportsKey0123","usage":{"plan":"gold","key_id":"a1b2c3d4e5","key":"` + usageKey + `"}},"mobile":"kgMobileKey0123"}}`)
	if err != nil {
		t.Fatal(err)
	}
	want := &apikey.Usage{Plan: "gold", KeyID: "a1b2c3d4e5", Key: usageKey}
	if !reflect.DeepEqual(doc.Keys["reports"].Usage, want) {
		t.Errorf("usage %+v, want %+v", doc.Keys["reports"].Usage, want)
	}
	for _, e := range doc.Entries("") {
		if wantKey := map[string]string{"reports": usageKey}[e.Client]; e.UsageKey != wantKey {
			t.Errorf("%s: usage key %q, want %q", e.Client, e.UsageKey, wantKey)
		}
	}
	for name, got := range map[string]apikey.KeyEntry{
		"Hashed":     doc.Keys["reports"].Hashed(nil),
		"WithKey":    doc.Keys["reports"].WithKey("kgNewKey01234567", false, nil),
		"Clone":      doc.Clone().Keys["reports"],
		"Regenerate": func() apikey.KeyEntry { d, _ := doc.Regenerate(apikey.Generate); return d.Keys["reports"] }(),
	} {
		if !reflect.DeepEqual(got.Usage, want) || got.Usage == doc.Keys["reports"].Usage {
			t.Errorf("%s: usage %+v, want a copy of %+v", name, got.Usage, want)
		}
	}
	out, err := doc.Marshal()
	if again, perr := apikey.Parse(out); err != nil || perr != nil || !reflect.DeepEqual(again.Keys["reports"].Usage, want) {
		t.Errorf("round trip: %v %v", err, perr)
	}
	entry := func(usage string) string {
		return `{"api_keys":{"c":{"key":"kgClientKey0123","usage":` + usage + `}}}`
	}
	for _, tt := range []struct{ name, secret, says string }{
		{"null", entry(`null`), `usage must be an object`},
		{"unknown member", entry(`{"plan":"gold","key_id":"a1","key":"` + usageKey + `","quota":5}`), `usage must be an object`},
		{"no plan", entry(`{"key_id":"a1","key":"` + usageKey + `"}`), `usage.plan must be a plan name`},
		{"bad plan", entry(`{"plan":"Gold!","key_id":"a1","key":"` + usageKey + `"}`), `usage.plan must be a plan name`},
		{"bad key id", entry(`{"plan":"gold","key_id":"a-1","key":"` + usageKey + `"}`), `usage.key_id must be`},
		{"short key", entry(`{"plan":"gold","key_id":"a1","key":"short"}`), `usage.key must be`},
		{"a client's key as usage key", `{"api_keys":{"a":"kgAliceKey01234567890","c":{"key":"kgClientKey0123","usage":{"plan":"gold","key_id":"a1","key":"kgAliceKey01234567890"}}}}`, `api_keys["c"].usage.key is a key of this secret`},
	} {
		_, err := apikey.Parse(tt.secret)
		if !errors.Is(err, apikey.ErrFormat) || !strings.Contains(err.Error(), tt.says) || strings.Contains(err.Error(), usageKey) || strings.Contains(err.Error(), "kgAliceKey") {
			t.Errorf("%s: Parse = %v, want a format error saying %q without a value", tt.name, err, tt.says)
		}
	}
}
