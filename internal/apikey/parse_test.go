package apikey_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/internal/apikey"
)

func hexDigest(key string) string {
	d := apikey.Digest(key)
	return fmt.Sprintf("%x", d[:])
}

func TestParseAccepts(t *testing.T) {
	exp := time.Date(2026, 12, 31, 23, 59, 59, 0, time.UTC)
	hashed := hexDigest("kgCarolKey")
	tests := []struct {
		name   string
		secret string
		format apikey.Format
		key    string                     // plain and api_key formats
		keys   map[string]apikey.KeyEntry // api_keys format
	}{
		{"plain", "kgPlainKey123", apikey.FormatPlain, "kgPlainKey123", nil},
		{"plain with trailing newline", "kgPlainKey123\n", apikey.FormatPlain, "kgPlainKey123", nil},
		{"plain with surrounding whitespace", " \t kgPlainKey123 \r\n", apikey.FormatPlain, "kgPlainKey123", nil},
		{"plain with punctuation", `kg!#$%&'*+-./:;<=>?@[\]^_{|}~"`, apikey.FormatPlain, `kg!#$%&'*+-./:;<=>?@[\]^_{|}~"`, nil},
		{"api_key", `{"api_key":"kgJSONKey"}`, apikey.FormatJSONKey, "kgJSONKey", nil},
		{"api_key with other fields", `{"description":"x","api_key":"kgJSONKey","n":1}`, apikey.FormatJSONKey, "kgJSONKey", nil},
		{"api_key surrounded by whitespace", "\n{ \"api_key\" : \"kgJSONKey\" }\n", apikey.FormatJSONKey, "kgJSONKey", nil},
		{"api_keys bare string", `{"api_keys":{"alice":"kgAliceKey"}}`, apikey.FormatKeySet, "",
			map[string]apikey.KeyEntry{"alice": {Key: "kgAliceKey", Bare: true}}},
		{"api_keys every entry kind", `{"api_keys":{
			"alice":"kgAliceKey",
			"bob":{"key":"kgBobKey","expires":"2026-12-31T23:59:59Z"},
			"carol":{"sha256":"` + strings.ToUpper(hashed) + `"},
			"d.e_f@g-h":{"key":"kgDaveKey","expires":null}}}`, apikey.FormatKeySet, "",
			map[string]apikey.KeyEntry{
				"alice":     {Key: "kgAliceKey", Bare: true},
				"bob":       {Key: "kgBobKey", Expires: &exp},
				"carol":     {SHA256: hashed},
				"d.e_f@g-h": {Key: "kgDaveKey"},
			}},
		{"expires with offset and fraction", `{"api_keys":{"bob":{"key":"kgBobKey","expires":"2027-01-01T00:59:59.000+01:00"}}}`, apikey.FormatKeySet, "",
			map[string]apikey.KeyEntry{"bob": {Key: "kgBobKey", Expires: &exp}}},
		{"64-character client name", `{"api_keys":{"` + strings.Repeat("n", 64) + `":"kgKey"}}`, apikey.FormatKeySet, "",
			map[string]apikey.KeyEntry{strings.Repeat("n", 64): {Key: "kgKey", Bare: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := apikey.Parse(tt.secret)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if doc.Format != tt.format {
				t.Errorf("Format = %v, want %v", doc.Format, tt.format)
			}
			if doc.Key != tt.key {
				t.Errorf("Key = %q, want %q", doc.Key, tt.key)
			}
			assertEntries(t, doc.Keys, tt.keys)
		})
	}
}

func assertEntries(t *testing.T, got, want map[string]apikey.KeyEntry) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d entries %v, want %d", len(got), names(got), len(want))
	}
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Errorf("entry %q missing", name)
			continue
		}
		if g.Key != w.Key || g.SHA256 != w.SHA256 || g.Bare != w.Bare {
			t.Errorf("entry %q = {Key:%q SHA256:%q Bare:%v}, want {Key:%q SHA256:%q Bare:%v}", name, g.Key, g.SHA256, g.Bare, w.Key, w.SHA256, w.Bare)
		}
		switch {
		case (g.Expires == nil) != (w.Expires == nil):
			t.Errorf("entry %q Expires = %v, want %v", name, g.Expires, w.Expires)
		case g.Expires != nil && !g.Expires.Equal(*w.Expires):
			t.Errorf("entry %q Expires = %v, want %v", name, *g.Expires, *w.Expires)
		}
	}
}

func names(m map[string]apikey.KeyEntry) []string {
	var out []string
	for n := range m {
		out = append(out, n)
	}
	return out
}

func TestParseRejects(t *testing.T) {
	const leak = "kgLeakedValue7q"
	hashed := hexDigest(leak)
	tests := []struct {
		name   string
		secret string
		// says is a fragment the message must hold: the field or client
		// at fault and the fix.
		says string
		// value is the offending key material the message must not hold.
		value string
	}{
		{"empty", "", "empty", ""},
		{"whitespace only", " \t\r\n ", "empty", ""},
		{"invalid JSON", `{"api_key":"` + leak, "not a valid JSON object", leak},
		{"JSON array", `{"api_key":["` + leak + `"]`, "not a valid JSON object", leak},
		{"api_key a number", `{"api_key":4242424242}`, "api_key must be a string", "4242424242"},
		{"api_key an object", `{"api_key":{"key":"` + leak + `"}}`, "api_key must be a string", leak},
		{"api_key empty", `{"api_key":""}`, "api_key is empty", ""},
		{"api_key whitespace", `{"api_key":"  \t "}`, "api_key is empty", ""},
		{"api_key null", `{"api_key":null}`, "api_key is empty", ""},
		{"api_key with space", `{"api_key":"` + leak + ` x"}`, "api_key contains characters", leak},
		{"both api_key and api_keys", `{"api_key":"` + leak + `","api_keys":{"a":"kgOther"}}`, "both api_key and api_keys", leak},
		{"neither field", `{"apikey":"` + leak + `"}`, "neither an api_key nor an api_keys", leak},
		{"empty object", `{}`, "neither an api_key nor an api_keys", ""},
		{"api_keys empty", `{"api_keys":{}}`, "api_keys is empty", ""},
		{"api_keys null", `{"api_keys":null}`, "api_keys must be an object", ""},
		{"api_keys a list", `{"api_keys":["` + leak + `"]}`, "api_keys must be an object", leak},
		{"api_keys a string", `{"api_keys":"` + leak + `"}`, "api_keys must be an object", leak},
		{"client name with space", `{"api_keys":{"bad name":"` + leak + `"}}`, "invalid client name", leak},
		{"client name empty", `{"api_keys":{"":"` + leak + `"}}`, "invalid client name", leak},
		{"client name starting with dash", `{"api_keys":{"-a":"` + leak + `"}}`, "invalid client name", leak},
		{"client name with newline", `{"api_keys":{"a\nb":"` + leak + `"}}`, "invalid client name", leak},
		{"client name with slash", `{"api_keys":{"a/b":"` + leak + `"}}`, "invalid client name", leak},
		{"client name too long", `{"api_keys":{"` + strings.Repeat("n", 65) + `":"` + leak + `"}}`, "invalid client name", leak},
		{"entry with key and sha256", `{"api_keys":{"alice":{"key":"` + leak + `","sha256":"` + hashed + `"}}}`, `api_keys["alice"]: has both "key" and "sha256"`, leak},
		{"entry with neither", `{"api_keys":{"alice":{"expires":"2026-12-31T23:59:59Z"}}}`, `api_keys["alice"]: has neither "key" nor "sha256"`, ""},
		{"entry empty object", `{"api_keys":{"alice":{}}}`, `api_keys["alice"]: has neither`, ""},
		{"entry null", `{"api_keys":{"alice":null}}`, `api_keys["alice"]: has neither`, ""},
		{"entry a number", `{"api_keys":{"alice":4242424242}}`, `api_keys["alice"]: must be a key string or an object`, "4242424242"},
		{"entry a list", `{"api_keys":{"alice":["` + leak + `"]}}`, `api_keys["alice"]: must be a key string or an object`, leak},
		{"entry key not a string", `{"api_keys":{"alice":{"key":4242424242}}}`, `api_keys["alice"]: must be a key string or an object`, "4242424242"},
		{"bad hex", `{"api_keys":{"alice":{"sha256":"` + strings.Repeat("zz", 32) + `"}}}`, `api_keys["alice"]: sha256 must be 64 hexadecimal`, strings.Repeat("zz", 32)},
		{"short hex", `{"api_keys":{"alice":{"sha256":"` + hashed[:62] + `"}}}`, `api_keys["alice"]: sha256 must be 64 hexadecimal`, hashed[:62]},
		{"long hex", `{"api_keys":{"alice":{"sha256":"` + hashed + `00"}}}`, `api_keys["alice"]: sha256 must be 64 hexadecimal`, hashed},
		{"empty sha256", `{"api_keys":{"alice":{"sha256":""}}}`, `api_keys["alice"]: sha256 must be 64 hexadecimal`, ""},
		{"bad expires", `{"api_keys":{"alice":{"key":"` + leak + `","expires":"tomorrow"}}}`, `api_keys["alice"]: expires must be an RFC 3339 time`, leak},
		{"date-only expires", `{"api_keys":{"alice":{"key":"` + leak + `","expires":"2026-12-31"}}}`, `api_keys["alice"]: expires must be an RFC 3339 time`, leak},
		{"numeric expires", `{"api_keys":{"alice":{"key":"` + leak + `","expires":1798761599}}}`, `api_keys["alice"]: must be a key string or an object`, leak},
		{"unknown field in an entry", `{"api_keys":{"alice":{"key":"` + leak + `","expire":"2026-12-31T23:59:59Z"}}}`, `api_keys["alice"]: must be a key string or an object`, leak},
		{"duplicate key", `{"api_keys":{"alice":"` + leak + `","bob":{"key":"` + leak + `"}}}`, `api_keys["alice"] and api_keys["bob"] hold the same key`, leak},
		{"duplicate key and hash", `{"api_keys":{"alice":"` + leak + `","bob":{"sha256":"` + hashed + `"}}}`, `api_keys["alice"] and api_keys["bob"] hold the same key`, leak},
		{"entry empty key", `{"api_keys":{"alice":""}}`, `api_keys["alice"]: is empty`, ""},
		{"entry whitespace key", `{"api_keys":{"alice":{"key":"   "}}}`, `api_keys["alice"]: key is empty`, ""},
	}
	// Every place a key can stand, with every character no header can carry.
	for _, bad := range []struct{ name, key string }{
		{"space", leak + " tail"},
		{"comma", leak + ",tail"},
		{"tab", leak + "\ttail"},
		{"newline", leak + "\ntail"},
		{"NUL", leak + "\x00tail"},
		{"control char", leak + "\x01tail"},
		{"DEL", leak + "\x7ftail"},
		{"non-ASCII", leak + "ключ"},
	} {
		js, _ := json.Marshal(bad.key)
		tests = append(tests,
			struct{ name, secret, says, value string }{"plain with " + bad.name, bad.key, "the secret string contains characters that cannot be sent", bad.key},
			struct{ name, secret, says, value string }{"api_key with " + bad.name, `{"api_key":` + string(js) + `}`, "api_key contains characters that cannot be sent", bad.key},
			struct{ name, secret, says, value string }{"bare entry with " + bad.name, `{"api_keys":{"alice":` + string(js) + `}}`, `api_keys["alice"]: contains characters that cannot be sent`, bad.key},
			struct{ name, secret, says, value string }{"key entry with " + bad.name, `{"api_keys":{"alice":{"key":` + string(js) + `}}}`, `api_keys["alice"]: key contains characters that cannot be sent`, bad.key},
		)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := apikey.Parse(tt.secret)
			if err == nil {
				t.Fatalf("Parse accepted it: %+v", doc)
			}
			if !errors.Is(err, apikey.ErrFormat) {
				t.Errorf("error %q does not wrap ErrFormat", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.says) {
				t.Errorf("error %q does not say %q", msg, tt.says)
			}
			assertNoLeak(t, msg, tt.value)
		})
	}
}

// assertNoLeak fails if msg holds value, or any run of six or more of its
// characters, raw or quoted.
func assertNoLeak(t *testing.T, msg, value string) {
	t.Helper()
	if value == "" {
		return
	}
	for _, form := range []string{value, fmt.Sprintf("%q", value), fmt.Sprintf("%+q", value)} {
		if strings.Contains(msg, form) {
			t.Fatalf("message %q contains the offending value", msg)
		}
	}
	runs := strings.FieldsFunc(value, func(r rune) bool { return r <= ' ' || r == ',' || r >= 0x7f })
	for _, run := range runs {
		if len(run) >= 6 && strings.Contains(msg, run) {
			t.Fatalf("message %q contains %q, part of the offending value", msg, run)
		}
	}
}

// TestParseDuplicateNamesBothClients: a key duplicated in a large set is
// reported by the two client names, in sorted order, and never by value.
func TestParseDuplicateNamesBothClients(t *testing.T) {
	entries := map[string]string{}
	for i := range 50 {
		entries[fmt.Sprintf("c%02d", i)] = fmt.Sprintf("kgDistinct%02d", i)
	}
	entries["zeta"] = "kgDistinct07"
	b, _ := json.Marshal(map[string]any{"api_keys": entries})
	_, err := apikey.Parse(string(b))
	if err == nil {
		t.Fatal("duplicate key accepted")
	}
	if !strings.Contains(err.Error(), `api_keys["c07"] and api_keys["zeta"]`) {
		t.Errorf("error %q does not name c07 and zeta", err)
	}
	assertNoLeak(t, err.Error(), "kgDistinct07")
}

func TestEntries(t *testing.T) {
	exp := time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		secret string
		want   []apikey.Entry
	}{
		{"plain", "kgPlain", []apikey.Entry{{Client: apikey.DefaultClient, Digest: apikey.Digest("kgPlain"), Stage: "S"}}},
		{"api_key", `{"api_key":"kgJSON"}`, []apikey.Entry{{Client: apikey.DefaultClient, Digest: apikey.Digest("kgJSON"), Stage: "S"}}},
		{"api_keys sorted, hash decoded, expiry kept", `{"api_keys":{
			"zed":"kgZed",
			"bob":{"sha256":"` + hexDigest("kgBob") + `"},
			"amy":{"key":"kgAmy","expires":"2026-12-31T00:00:00Z"}}}`, []apikey.Entry{
			{Client: "amy", Digest: apikey.Digest("kgAmy"), Expires: exp, Stage: "S"},
			{Client: "bob", Digest: apikey.Digest("kgBob"), Stage: "S"},
			{Client: "zed", Digest: apikey.Digest("kgZed"), Stage: "S"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := apikey.Parse(tt.secret)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			got := doc.Entries("S")
			if len(got) != len(tt.want) {
				t.Fatalf("got %d entries, want %d", len(got), len(tt.want))
			}
			for i := range got {
				g, w := got[i], tt.want[i]
				if g.Client != w.Client || g.Digest != w.Digest || g.Stage != w.Stage || !g.Expires.Equal(w.Expires) {
					t.Errorf("entry %d = %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

func TestNames(t *testing.T) {
	doc, err := apikey.Parse(`{"api_keys":{"zed":"kgZ","amy":"kgA","Bob":"kgB"}}`)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := doc.Names(), []string{"Bob", "amy", "zed"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Names = %v, want %v", got, want)
	}
}

func TestFormatString(t *testing.T) {
	for f, want := range map[apikey.Format]string{apikey.FormatPlain: "plain", apikey.FormatJSONKey: "json-api_key", apikey.FormatKeySet: "api_keys"} {
		if got := f.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", f, got, want)
		}
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	tests := []struct {
		name   string
		secret string
		// json checks the written JSON: top-level fields kept, entry shapes.
		json func(t *testing.T, top map[string]json.RawMessage)
	}{
		{"plain", "kgPlainKey\n", nil},
		{"api_key with extra fields", `{"api_key":"kgJSONKey","description":"prod key","rotation":{"days":30},"n":1}`,
			func(t *testing.T, top map[string]json.RawMessage) {
				wantRaw(t, top, "description", `"prod key"`)
				wantRaw(t, top, "rotation", `{"days":30}`)
				wantRaw(t, top, "n", `1`)
				wantRaw(t, top, "api_key", `"kgJSONKey"`)
			}},
		{"api_keys every entry kind with extras", `{"owner":"team-a","api_keys":{
			"alice":"kgAliceKey",
			"bob":{"key":"kgBobKey","expires":"2026-12-31T23:59:59Z"},
			"carol":{"sha256":"` + hexDigest("kgCarol") + `"},
			"dave":{"key":"kgDaveKey"}}}`,
			func(t *testing.T, top map[string]json.RawMessage) {
				wantRaw(t, top, "owner", `"team-a"`)
				var keys map[string]json.RawMessage
				if err := json.Unmarshal(top["api_keys"], &keys); err != nil {
					t.Fatalf("api_keys: %v", err)
				}
				wantRaw(t, keys, "alice", `"kgAliceKey"`) // bare stays bare
				wantRaw(t, keys, "bob", `{"key":"kgBobKey","expires":"2026-12-31T23:59:59Z"}`)
				wantRaw(t, keys, "carol", `{"sha256":"`+hexDigest("kgCarol")+`"}`)
				wantRaw(t, keys, "dave", `{"key":"kgDaveKey"}`) // an object stays an object
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := apikey.Parse(tt.secret)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			out, err := doc.Marshal()
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			again, err := apikey.Parse(out)
			if err != nil {
				t.Fatalf("Parse(Marshal()): %v\n%s", err, out)
			}
			if again.Format != doc.Format || again.Key != doc.Key {
				t.Errorf("round trip: format %v key %q, want %v %q", again.Format, again.Key, doc.Format, doc.Key)
			}
			assertEntries(t, again.Keys, doc.Keys)
			if tt.json != nil {
				var top map[string]json.RawMessage
				if err := json.Unmarshal([]byte(out), &top); err != nil {
					t.Fatalf("output is not a JSON object: %v\n%s", err, out)
				}
				tt.json(t, top)
			}
			// A second round is byte-for-byte stable.
			out2, err := again.Marshal()
			if err != nil || out2 != out {
				t.Errorf("second Marshal = %q, %v; want %q", out2, err, out)
			}
		})
	}
}

func wantRaw(t *testing.T, m map[string]json.RawMessage, field, want string) {
	t.Helper()
	raw, ok := m[field]
	if !ok {
		t.Errorf("field %q missing", field)
		return
	}
	if string(raw) != want {
		t.Errorf("field %q = %s, want %s", field, raw, want)
	}
}

// The CLI and the rotation function edit documents; Marshal must write the
// edit and refuse a document the function would reject.
func TestMarshalEdits(t *testing.T) {
	exp := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	doc, err := apikey.Parse(`{"api_keys":{"alice":"kgAliceKey"},"note":"kept"}`)
	if err != nil {
		t.Fatal(err)
	}
	doc.Keys["bob"] = apikey.KeyEntry{SHA256: hexDigest("kgBobKey")}
	alice := doc.Keys["alice"]
	alice.Expires = &exp // a bare entry that gains an expiry becomes an object
	doc.Keys["alice"] = alice
	out, err := doc.Marshal()
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	again, err := apikey.Parse(out)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	assertEntries(t, again.Keys, map[string]apikey.KeyEntry{
		"alice": {Key: "kgAliceKey", Expires: &exp},
		"bob":   {SHA256: hexDigest("kgBobKey")},
	})
	if !strings.Contains(out, `"note":"kept"`) {
		t.Errorf("extra field lost: %s", out)
	}

	const leak = "kgLeakedValue7q"
	bad := []struct {
		name string
		doc  apikey.Document
	}{
		{"plain with space", apikey.Document{Format: apikey.FormatPlain, Key: leak + " x"}},
		{"plain empty", apikey.Document{Format: apikey.FormatPlain}},
		{"api_key empty", apikey.Document{Format: apikey.FormatJSONKey}},
		{"api_key with comma", apikey.Document{Format: apikey.FormatJSONKey, Key: leak + ",x"}},
		{"api_keys empty", apikey.Document{Format: apikey.FormatKeySet}},
		{"api_keys bad name", apikey.Document{Format: apikey.FormatKeySet, Keys: map[string]apikey.KeyEntry{"bad name": {Key: leak}}}},
		{"api_keys key and sha256", apikey.Document{Format: apikey.FormatKeySet, Keys: map[string]apikey.KeyEntry{"a": {Key: leak, SHA256: hexDigest(leak)}}}},
		{"api_keys duplicate", apikey.Document{Format: apikey.FormatKeySet, Keys: map[string]apikey.KeyEntry{"a": {Key: leak}, "b": {Key: leak, Bare: true}}}},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			out, err := tt.doc.Marshal()
			if err == nil {
				t.Fatalf("Marshal wrote an invalid document: %q", out)
			}
			if !errors.Is(err, apikey.ErrFormat) {
				t.Errorf("error %q does not wrap ErrFormat", err)
			}
			assertNoLeak(t, err.Error(), leak)
		})
	}
}

func TestValidClientName(t *testing.T) {
	for name, want := range map[string]bool{
		"alice": true, "A": true, "0": true, "svc.billing_v2@team-a": true,
		strings.Repeat("a", 64): true, strings.Repeat("a", 65): false,
		"": false, "-a": false, ".a": false, "_a": false, "@a": false,
		"a b": false, "a/b": false, "a\"b": false, "a\nb": false, "ключ": false,
	} {
		if got := apikey.ValidClientName(name); got != want {
			t.Errorf("ValidClientName(%q) = %v, want %v", name, got, want)
		}
	}
}

// The loop must agree with the pattern it documents, for every byte at
// every position class (first, middle, last) and at the length limit.
func TestValidClientNameMatchesPattern(t *testing.T) {
	pattern := regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)
	for c := 0; c < 256; c++ {
		b := string(rune(c))
		if c >= 0x80 {
			b = string([]byte{byte(c)})
		}
		for _, name := range []string{b, b + "a", "a" + b, "a" + b + "a", strings.Repeat("a", 63) + b, strings.Repeat("a", 64) + b} {
			if got, want := apikey.ValidClientName(name), pattern.MatchString(name); got != want {
				t.Errorf("ValidClientName(%q) = %v, the pattern says %v", name, got, want)
			}
		}
	}
}
