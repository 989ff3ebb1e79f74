package apikey_test

// Tests for the edits the rotation function and the CLI make to a parsed
// secret (edit.go). Each edit is checked by what reaches the function: the
// edited document is written with Marshal, read back with Parse, and its
// keys are tried against the Set built from it.

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate/internal/apikey"
)

var editNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// sha256Hex is computed with crypto/sha256 directly, not apikey.Digest, so
// HashEntry is checked against an independent value.
func sha256Hex(key string) string {
	d := sha256.Sum256([]byte(key))
	return hex.EncodeToString(d[:])
}

func mustParse(t *testing.T, secret string) apikey.Document {
	t.Helper()
	doc, err := apikey.Parse(secret)
	if err != nil {
		t.Fatalf("Parse fixture: %v", err)
	}
	return doc
}

func mustMarshal(t *testing.T, doc apikey.Document) string {
	t.Helper()
	out, err := doc.Marshal()
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	return out
}

// reparse writes doc and reads it back, as the function would.
func reparse(t *testing.T, doc apikey.Document) (apikey.Document, string) {
	t.Helper()
	out := mustMarshal(t, doc)
	again, err := apikey.Parse(out)
	if err != nil {
		t.Fatalf("Parse(Marshal()): %v\n%s", err, out)
	}
	return again, out
}

func topLevel(t *testing.T, out string) map[string]json.RawMessage {
	t.Helper()
	var top map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &top); err != nil {
		t.Fatalf("output is not a JSON object: %v\n%s", err, out)
	}
	return top
}

func keySetOf(t *testing.T, top map[string]json.RawMessage) map[string]json.RawMessage {
	t.Helper()
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(top["api_keys"], &keys); err != nil {
		t.Fatalf("api_keys: %v", err)
	}
	return keys
}

// sequence returns a generator of distinct, recognisable keys and a
// pointer to the keys it has handed out.
func sequence(prefix string) (func() string, *[]string) {
	var given []string
	return func() string {
		k := fmt.Sprintf("%s%02d", prefix, len(given))
		given = append(given, k)
		return k
	}, &given
}

func TestKindConstants(t *testing.T) {
	// The CLI prints these; a rename would change its output.
	if apikey.KindKey != "key" || apikey.KindSHA256 != "sha256" {
		t.Errorf("KindKey, KindSHA256 = %q, %q; want key, sha256", apikey.KindKey, apikey.KindSHA256)
	}
}

func TestKeyEntryKind(t *testing.T) {
	exp := editNow.Add(time.Hour)
	const key = "kgKindKey0123"
	tests := []struct {
		name     string
		entry    apikey.KeyEntry
		kind     string
		hashOnly bool
	}{
		{"bare key", apikey.KeyEntry{Key: key, Bare: true}, apikey.KindKey, false},
		{"key object", apikey.KeyEntry{Key: key}, apikey.KindKey, false},
		{"key with expiry", apikey.KeyEntry{Key: key, Expires: &exp}, apikey.KindKey, false},
		{"sha256", apikey.KeyEntry{SHA256: sha256Hex(key)}, apikey.KindSHA256, true},
		{"sha256 with expiry", apikey.KeyEntry{SHA256: sha256Hex(key), Expires: &exp}, apikey.KindSHA256, true},
		// Built by hand rather than by Parse, which lowercases.
		{"sha256 in upper case", apikey.KeyEntry{SHA256: strings.ToUpper(sha256Hex(key))}, apikey.KindSHA256, true},
		{"from HashEntry", apikey.HashEntry(key, nil), apikey.KindSHA256, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.entry.Kind(); got != tt.kind {
				t.Errorf("Kind = %q, want %q", got, tt.kind)
			}
			if got := tt.entry.HashOnly(); got != tt.hashOnly {
				t.Errorf("HashOnly = %v, want %v", got, tt.hashOnly)
			}
			if got, want := tt.entry.Digest(), apikey.Digest(key); got != want {
				t.Errorf("Digest = %x, want the key's SHA-256 %x", got, want)
			}
		})
	}
}

// Expired must agree with the Set: an entry is expired exactly when Match
// says so for its key.
func TestKeyEntryExpired(t *testing.T) {
	exp := editNow.Add(time.Hour)
	const key = "kgExpiringKey01"
	tests := []struct {
		name    string
		expires *time.Time
		now     time.Time
		want    bool
	}{
		{"no expiry", nil, editNow, false},
		{"no expiry, a century on", nil, editNow.AddDate(100, 0, 0), false},
		{"an hour before", &exp, exp.Add(-time.Hour), false},
		{"one nanosecond before", &exp, exp.Add(-time.Nanosecond), false},
		{"exactly at expiry", &exp, exp, true},
		{"after expiry", &exp, exp.Add(time.Second), true},
	}
	for _, tt := range tests {
		for _, entry := range []apikey.KeyEntry{
			{Key: key, Expires: tt.expires},
			apikey.HashEntry(key, tt.expires),
		} {
			t.Run(tt.name+" "+entry.Kind(), func(t *testing.T) {
				if got := entry.Expired(tt.now); got != tt.want {
					t.Fatalf("Expired = %v, want %v", got, tt.want)
				}
				doc := apikey.Document{Format: apikey.FormatKeySet, Keys: map[string]apikey.KeyEntry{"alice": entry}}
				again, _ := reparse(t, doc)
				want := apikey.OK
				if tt.want {
					want = apikey.Expired
				}
				if e, res := apikey.NewSet(again.Entries("")).Match(key, tt.now); res != want || e.Client != "alice" {
					t.Errorf("Match = %v for %q, want %v for alice", res, e.Client, want)
				}
			})
		}
	}
}

func TestHashEntry(t *testing.T) {
	exp := editNow.Add(24 * time.Hour)
	tests := []struct {
		name    string
		key     string
		sha256  string // "" means sha256Hex(key)
		expires *time.Time
	}{
		// SHA-256("abc"), from FIPS 180-2.
		{"known vector", "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", nil},
		{"generated key", apikey.Generate(), "", nil},
		{"punctuation", `kg!#$%&'*+-./:;<=>?@[\]^_{|}~"`, "", nil},
		{"with expiry", "kgHashedExpiring01", "", &exp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.sha256
			if want == "" {
				want = sha256Hex(tt.key)
			}
			e := apikey.HashEntry(tt.key, tt.expires)
			if e.SHA256 != want {
				t.Errorf("SHA256 = %q, want %q", e.SHA256, want)
			}
			if e.Key != "" || e.Bare {
				t.Errorf("entry holds Key %q, Bare %v: a hash-only entry holds neither", e.Key, e.Bare)
			}
			if !sameTimePtr(e.Expires, tt.expires) {
				t.Errorf("Expires = %v, want %v", e.Expires, tt.expires)
			}
			if tt.expires != nil && e.Expires == tt.expires {
				t.Error("the entry shares the caller's expiry: changing one changes the other")
			}
			// Hashing a hash-only entry again changes nothing.
			if again := e.Hashed(e.Expires); again.SHA256 != want || !sameTimePtr(again.Expires, e.Expires) {
				t.Errorf("Hashed of the hash-only entry = %+v, want the same hash and expiry", again)
			}

			// The secret written from it never holds the key, and the
			// function built from that secret accepts the key.
			doc := mustParse(t, `{"api_keys":{"other":"kgOtherClient01"}}`)
			doc.Keys["bob"] = e
			again, out := reparse(t, doc)
			if strings.Contains(out, tt.key) {
				t.Errorf("the written secret holds the key: %s", out)
			}
			if got := again.Keys["bob"].SHA256; got != want {
				t.Errorf("after a round trip SHA256 = %q, want %q", got, want)
			}
			set := apikey.NewSet(again.Entries("AWSCURRENT"))
			if m, res := set.Match(tt.key, editNow); res != apikey.OK || m.Client != "bob" {
				t.Errorf("Match(key) = %v for %q, want authorized for bob", res, m.Client)
			}
			if _, res := set.Match(tt.key+"x", editNow); res != apikey.Invalid {
				t.Errorf("Match(key+x) = %v, want invalid", res)
			}
			if tt.expires != nil {
				if _, res := set.Match(tt.key, *tt.expires); res != apikey.Expired {
					t.Errorf("Match at expiry = %v, want expired", res)
				}
			}
		})
	}
}

func sameTimePtr(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

func TestEntry(t *testing.T) {
	exp := time.Date(2026, 12, 31, 23, 59, 59, 0, time.UTC)
	every := `{"api_keys":{
		"alice":"kgAliceKey",
		"bob":{"key":"kgBobKey","expires":"2026-12-31T23:59:59Z"},
		"carol":{"sha256":"` + hexDigest("kgCarolKey") + `"},
		"dave":{"key":"kgDaveKey"}}}`
	tests := []struct {
		name   string
		secret string
		client string
		ok     bool
		want   apikey.KeyEntry
	}{
		{"plain default", "kgPlainKey", apikey.DefaultClient, true, apikey.KeyEntry{Key: "kgPlainKey", Bare: true}},
		{"plain other name", "kgPlainKey", "alice", false, apikey.KeyEntry{}},
		{"plain empty name", "kgPlainKey", "", false, apikey.KeyEntry{}},
		{"api_key default", `{"api_key":"kgJSONKey","note":"x"}`, apikey.DefaultClient, true, apikey.KeyEntry{Key: "kgJSONKey", Bare: true}},
		{"api_key other name", `{"api_key":"kgJSONKey"}`, "default.previous", false, apikey.KeyEntry{}},
		{"api_keys bare", every, "alice", true, apikey.KeyEntry{Key: "kgAliceKey", Bare: true}},
		{"api_keys with expiry", every, "bob", true, apikey.KeyEntry{Key: "kgBobKey", Expires: &exp}},
		{"api_keys sha256", every, "carol", true, apikey.KeyEntry{SHA256: hexDigest("kgCarolKey")}},
		{"api_keys object", every, "dave", true, apikey.KeyEntry{Key: "kgDaveKey"}},
		{"api_keys missing", every, "erin", false, apikey.KeyEntry{}},
		// "default" is only the name of a single key, not of every set.
		{"api_keys has no default", every, apikey.DefaultClient, false, apikey.KeyEntry{}},
		{"api_keys with a default", `{"api_keys":{"default":{"key":"kgDefaultKey"}}}`, apikey.DefaultClient, true, apikey.KeyEntry{Key: "kgDefaultKey"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := mustParse(t, tt.secret)
			got, ok := doc.Entry(tt.client)
			if ok != tt.ok {
				t.Fatalf("Entry(%q) ok = %v, want %v", tt.client, ok, tt.ok)
			}
			if !ok {
				return
			}
			assertEntries(t, map[string]apikey.KeyEntry{tt.client: got}, map[string]apikey.KeyEntry{tt.client: tt.want})
		})
	}
}

// cloneFixtures cover every format and entry kind, with unrelated fields.
var cloneFixtures = []struct{ name, secret string }{
	{"plain", "kgPlainKey\n"},
	{"api_key with extras", `{"api_key":"kgJSONKey","description":"prod","rotation":{"days":30}}`},
	{"api_keys every kind with extras", `{"owner":"team-a","api_keys":{
		"alice":"kgAliceKey",
		"bob":{"key":"kgBobKey","expires":"2026-12-31T23:59:59Z"},
		"carol":{"sha256":"` + hexDigest("kgCarolKey") + `","expires":"2027-06-30T00:00:00Z"},
		"dave":{"key":"kgDaveKey"}}}`},
}

// scribble changes everything in doc that a caller can reach, including
// what the Keys map and the Expires pointers point at.
func scribble(doc apikey.Document) {
	doc.Key = "kgScribbled"
	for name, e := range doc.Keys {
		if e.Expires != nil {
			*e.Expires = e.Expires.AddDate(-50, 0, 0)
		}
		e.Key, e.SHA256, e.Bare = "kgScribbled"+name, "", !e.Bare
		doc.Keys[name] = e
	}
	if doc.Keys != nil {
		doc.Keys["zed"] = apikey.KeyEntry{Key: "kgAddedKey"}
		delete(doc.Keys, "alice")
	}
}

func TestClone(t *testing.T) {
	for _, fx := range cloneFixtures {
		t.Run(fx.name, func(t *testing.T) {
			want := mustParse(t, fx.secret) // an independent copy to compare with
			wantOut := mustMarshal(t, want)

			t.Run("equal", func(t *testing.T) {
				doc := mustParse(t, fx.secret)
				c := doc.Clone()
				if c.Format != doc.Format || c.Key != doc.Key {
					t.Errorf("clone: %v %q, want %v %q", c.Format, c.Key, doc.Format, doc.Key)
				}
				assertEntries(t, c.Keys, doc.Keys)
				if out := mustMarshal(t, c); out != wantOut {
					t.Errorf("clone writes %s, want %s", out, wantOut)
				}
			})
			// unchanged checks that d still holds the fixture's keys and writes it back as parsed.
			unchanged := func(t *testing.T, d apikey.Document, which string) {
				t.Helper()
				if d.Key != want.Key {
					t.Errorf("%s Key = %q, want %q", which, d.Key, want.Key)
				}
				assertEntries(t, d.Keys, want.Keys)
				if out := mustMarshal(t, d); out != wantOut {
					t.Errorf("%s now writes %s, want %s", which, out, wantOut)
				}
			}
			t.Run("editing the clone leaves the original", func(t *testing.T) {
				doc := mustParse(t, fx.secret)
				scribble(doc.Clone())
				unchanged(t, doc, "original")
			})
			t.Run("editing the original leaves the clone", func(t *testing.T) {
				doc := mustParse(t, fx.secret)
				c := doc.Clone()
				scribble(doc)
				unchanged(t, c, "clone")
			})
		})
	}
	t.Run("zero document", func(t *testing.T) {
		c := apikey.Document{}.Clone()
		if c.Format != apikey.FormatPlain || c.Key != "" || c.Keys != nil {
			t.Errorf("clone of the zero document = %+v", c)
		}
	})
}

// Clones edited in parallel share nothing: the race detector would see a
// shared map or time.
func TestCloneConcurrent(t *testing.T) {
	doc := mustParse(t, cloneFixtures[len(cloneFixtures)-1].secret)
	wantOut := mustMarshal(t, doc)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			c := doc.Clone()
			scribble(c)
			c.Regenerate(apikey.Generate)
			c.ToKeySet()
		})
	}
	wg.Wait()
	if out := mustMarshal(t, doc); out != wantOut {
		t.Errorf("original now writes %s, want %s", out, wantOut)
	}
}

func TestRegenerate(t *testing.T) {
	old := map[string]string{ // client → key, hash-only ones included
		"alice": "kgAliceKey", "bob": "kgBobKey", "carol": "kgCarolKey", "dave": "kgDaveKey", "erin": "kgErinKey",
	}
	tests := []struct {
		name     string
		secret   string
		replaced int
		// json checks the written secret: fields kept, entry shapes.
		json func(t *testing.T, top map[string]json.RawMessage)
	}{
		{"plain", "kgPlainKey\n", 1, nil},
		{"api_key with extras", `{"api_key":"kgJSONKey","description":"prod","rotation":{"days":30}}`, 1,
			func(t *testing.T, top map[string]json.RawMessage) {
				wantRaw(t, top, "description", `"prod"`)
				wantRaw(t, top, "rotation", `{"days":30}`)
				if len(top) != 3 {
					t.Errorf("%d top-level fields, want 3", len(top))
				}
			}},
		{"api_keys bare strings", `{"api_keys":{"alice":"kgAliceKey","dave":"kgDaveKey"}}`, 2,
			func(t *testing.T, top map[string]json.RawMessage) {
				keys := keySetOf(t, top)
				for _, name := range []string{"alice", "dave"} {
					if raw := keys[name]; len(raw) == 0 || raw[0] != '"' {
						t.Errorf("%s = %s, want a bare string still", name, raw)
					}
				}
			}},
		{"api_keys every kind with extras", `{"owner":"team-a","api_keys":{
			"alice":"kgAliceKey",
			"bob":{"key":"kgBobKey","expires":"2026-12-31T23:59:59Z"},
			"carol":{"sha256":"` + hexDigest("kgCarolKey") + `"},
			"dave":{"key":"kgDaveKey"},
			"erin":{"sha256":"` + hexDigest("kgErinKey") + `","expires":"2027-06-30T00:00:00Z"}}}`, 3,
			func(t *testing.T, top map[string]json.RawMessage) {
				wantRaw(t, top, "owner", `"team-a"`)
				keys := keySetOf(t, top)
				if raw := keys["alice"]; len(raw) == 0 || raw[0] != '"' {
					t.Errorf("alice = %s, want a bare string still", raw)
				}
				for _, name := range []string{"bob", "dave"} {
					if raw := keys[name]; len(raw) == 0 || raw[0] != '{' {
						t.Errorf("%s = %s, want an object still", name, raw)
					}
				}
				wantRaw(t, keys, "carol", `{"sha256":"`+hexDigest("kgCarolKey")+`"}`)
				wantRaw(t, keys, "erin", `{"sha256":"`+hexDigest("kgErinKey")+`","expires":"2027-06-30T00:00:00Z"}`)
			}},
		{"api_keys hash-only", `{"api_keys":{"carol":{"sha256":"` + hexDigest("kgCarolKey") + `"}}}`, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := mustParse(t, tt.secret)
			want := mustParse(t, tt.secret)
			gen, given := sequence("kgFresh")
			next, n := doc.Regenerate(gen)

			if n != tt.replaced || len(*given) != n {
				t.Fatalf("replaced %d keys with %d generated, want %d", n, len(*given), tt.replaced)
			}
			if next.Format != doc.Format {
				t.Errorf("Format = %v, want %v", next.Format, doc.Format)
			}
			// The original is untouched.
			if doc.Key != want.Key {
				t.Errorf("original Key = %q, want %q", doc.Key, want.Key)
			}
			assertEntries(t, doc.Keys, want.Keys)

			again, out := reparse(t, next)
			if again.Format != doc.Format {
				t.Errorf("written as %v, want %v", again.Format, doc.Format)
			}
			assertEntries(t, again.Keys, next.Keys)
			if tt.json != nil {
				tt.json(t, topLevel(t, out))
			}

			set := apikey.NewSet(again.Entries("AWSPENDING"))
			fresh := map[string]bool{}
			for _, k := range *given {
				fresh[k] = true
			}
			if doc.Format != apikey.FormatKeySet {
				if next.Key != (*given)[0] || next.Key == doc.Key || again.Key != next.Key {
					t.Errorf("Key = %q (written %q), want the generated %q, not %q", next.Key, again.Key, (*given)[0], doc.Key)
				}
				if _, res := set.Match(doc.Key, editNow); res != apikey.Invalid {
					t.Errorf("the old key still matches: %v", res)
				}
				if e, res := set.Match(next.Key, editNow); res != apikey.OK || e.Client != apikey.DefaultClient {
					t.Errorf("the new key: %v for %q, want authorized for default", res, e.Client)
				}
				return
			}
			if len(next.Keys) != len(doc.Keys) {
				t.Fatalf("%d entries, want %d", len(next.Keys), len(doc.Keys))
			}
			for name, was := range doc.Keys {
				got, ok := next.Keys[name]
				if !ok {
					t.Errorf("entry %q lost", name)
					continue
				}
				if !sameTimePtr(got.Expires, was.Expires) {
					t.Errorf("%q Expires = %v, want %v", name, got.Expires, was.Expires)
				}
				if got.Expires != nil && got.Expires == was.Expires {
					t.Errorf("%q Expires shares the original's time", name)
				}
				if was.HashOnly() {
					if got.SHA256 != was.SHA256 || got.Key != "" {
						t.Errorf("hash-only %q changed: {Key:%q SHA256:%q}, want SHA256 %q", name, got.Key, got.SHA256, was.SHA256)
					}
				} else {
					if !fresh[got.Key] || got.Key == was.Key || got.SHA256 != "" || got.Bare != was.Bare {
						t.Errorf("%q = {Key:%q SHA256:%q Bare:%v}, want a generated key and Bare %v", name, got.Key, got.SHA256, got.Bare, was.Bare)
					}
					delete(fresh, got.Key) // each generated key used once
					if _, res := set.Match(was.Key, editNow); res != apikey.Invalid {
						t.Errorf("%q: the old key still matches: %v", name, res)
					}
				}
				// What each client now holds authorizes it: the new key, or
				// for a hash-only entry the key it always had.
				holds := got.Key
				if was.HashOnly() {
					holds = old[name]
				}
				if e, res := set.Match(holds, editNow); res != apikey.OK || e.Client != name {
					t.Errorf("%q: its key gives %v for %q, want authorized", name, res, e.Client)
				}
			}
			if len(fresh) != 0 {
				t.Errorf("generated keys not stored: %v", fresh)
			}
		})
	}
}

// With the real generator, a regenerated secret parses, and two rotations
// never hand out the same key.
func TestRegenerateWithGenerate(t *testing.T) {
	for _, fx := range cloneFixtures {
		t.Run(fx.name, func(t *testing.T) {
			doc := mustParse(t, fx.secret)
			first, n1 := doc.Regenerate(apikey.Generate)
			second, n2 := first.Regenerate(apikey.Generate)
			if n1 == 0 || n1 != n2 {
				t.Fatalf("replaced %d, then %d", n1, n2)
			}
			seen := map[string]string{}
			for i, d := range []apikey.Document{doc, first, second} {
				again, _ := reparse(t, d)
				if again.Format != doc.Format {
					t.Errorf("version %d written as %v, want %v", i, again.Format, doc.Format)
				}
				keys := []string{again.Key}
				for _, name := range again.Names() {
					keys = append(keys, again.Keys[name].Key)
				}
				for _, k := range keys {
					if k == "" {
						continue
					}
					if where, dup := seen[k]; dup {
						t.Errorf("version %d repeats a key of %s", i, where)
					}
					seen[k] = fmt.Sprintf("version %d", i)
				}
			}
		})
	}
}

func TestToKeySet(t *testing.T) {
	tests := []struct {
		name   string
		secret string
		key    string // the single key, which becomes "default"
		extras map[string]string
	}{
		{"plain", "kgPlainKey\n", "kgPlainKey", nil},
		{"api_key with extras", `{"api_key":"kgJSONKey","description":"prod","rotation":{"days":30}}`, "kgJSONKey",
			map[string]string{"description": `"prod"`, "rotation": `{"days":30}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := mustParse(t, tt.secret)
			want := mustParse(t, tt.secret)
			c := doc.ToKeySet()
			if c.Format != apikey.FormatKeySet || c.Key != "" {
				t.Errorf("Format %v, Key %q; want api_keys and no single key", c.Format, c.Key)
			}
			assertEntries(t, c.Keys, map[string]apikey.KeyEntry{apikey.DefaultClient: {Key: tt.key, Bare: true}})
			if doc.Format != want.Format || doc.Key != want.Key || doc.Keys != nil {
				t.Errorf("original changed: %v %q %v", doc.Format, doc.Key, doc.Keys)
			}

			again, out := reparse(t, c)
			if again.Format != apikey.FormatKeySet {
				t.Fatalf("written as %v, want api_keys", again.Format)
			}
			top := topLevel(t, out)
			if _, ok := top["api_key"]; ok {
				t.Errorf("api_key kept beside api_keys: %s", out)
			}
			for field, raw := range tt.extras {
				wantRaw(t, top, field, raw)
			}
			if len(top) != len(tt.extras)+1 {
				t.Errorf("%d top-level fields, want %d: %s", len(top), len(tt.extras)+1, out)
			}
			wantRaw(t, keySetOf(t, top), apikey.DefaultClient, `"`+tt.key+`"`)

			// The key keeps working, under the same client name.
			if e, res := apikey.NewSet(again.Entries("")).Match(tt.key, editNow); res != apikey.OK || e.Client != apikey.DefaultClient {
				t.Errorf("Match = %v for %q, want authorized for default", res, e.Client)
			}
			// More clients can now be added.
			c.Keys["bob"] = apikey.HashEntry("kgBobKey", nil)
			if again, _ := reparse(t, c); len(again.Keys) != 2 {
				t.Errorf("after adding bob: %v", again.Names())
			}
		})
	}

	t.Run("api_keys is copied", func(t *testing.T) {
		secret := cloneFixtures[len(cloneFixtures)-1].secret
		doc := mustParse(t, secret)
		want := mustParse(t, secret)
		c := doc.ToKeySet()
		if c.Format != apikey.FormatKeySet {
			t.Errorf("Format = %v", c.Format)
		}
		assertEntries(t, c.Keys, want.Keys)
		if out, wantOut := mustMarshal(t, c), mustMarshal(t, want); out != wantOut {
			t.Errorf("copy writes %s, want %s", out, wantOut)
		}
		scribble(c)
		assertEntries(t, doc.Keys, want.Keys)
	})
}

// The edits themselves return no errors; what could leak a key is the
// Marshal that validates their result. A bad generator or a bad key must
// be reported by client and fault, never by value.
func TestEditErrorsHoldNoKey(t *testing.T) {
	const leak = "kgLeakedValue7q"
	always := func(k string) func() string { return func() string { return k } }
	tests := []struct {
		name string
		edit func(t *testing.T) apikey.Document
		says string
	}{
		{"plain regenerated with a space", func(t *testing.T) apikey.Document {
			d, _ := mustParse(t, "kgPlainKey").Regenerate(always(leak + " x"))
			return d
		}, "the secret string contains characters"},
		{"api_key regenerated with a comma", func(t *testing.T) apikey.Document {
			d, _ := mustParse(t, `{"api_key":"kgJSONKey"}`).Regenerate(always(leak + ",x"))
			return d
		}, "api_key contains characters"},
		{"api_key regenerated empty", func(t *testing.T) apikey.Document {
			d, _ := mustParse(t, `{"api_key":"kgJSONKey"}`).Regenerate(always(""))
			return d
		}, "api_key is empty"},
		{"bare entry regenerated with non-ASCII", func(t *testing.T) apikey.Document {
			d, _ := mustParse(t, `{"api_keys":{"alice":"kgAliceKey"}}`).Regenerate(always(leak + "ключ"))
			return d
		}, `api_keys["alice"]: contains characters`},
		{"key entry regenerated with a newline", func(t *testing.T) apikey.Document {
			d, _ := mustParse(t, `{"api_keys":{"bob":{"key":"kgBobKey","expires":"2026-12-31T23:59:59Z"}}}`).Regenerate(always(leak + "\nx"))
			return d
		}, `api_keys["bob"]: key contains characters`},
		{"two entries given the same key", func(t *testing.T) apikey.Document {
			d, _ := mustParse(t, `{"api_keys":{"alice":"kgAliceKey","bob":{"key":"kgBobKey"}}}`).Regenerate(always(leak))
			return d
		}, `api_keys["alice"] and api_keys["bob"] hold the same key`},
		{"an entry given a hash-only entry's key", func(t *testing.T) apikey.Document {
			d, _ := mustParse(t, `{"api_keys":{"alice":"kgAliceKey","carol":{"sha256":"`+hexDigest(leak)+`"}}}`).Regenerate(always(leak))
			return d
		}, `api_keys["alice"] and api_keys["carol"] hold the same key`},
		{"bad single key converted", func(t *testing.T) apikey.Document {
			return apikey.Document{Format: apikey.FormatJSONKey, Key: leak + " x"}.ToKeySet()
		}, `api_keys["default"]: contains characters`},
		{"hashed entry beside its own key", func(t *testing.T) apikey.Document {
			d := mustParse(t, `{"api_keys":{"alice":"`+leak+`"}}`)
			d.Keys["bob"] = apikey.HashEntry(leak, nil)
			return d
		}, `api_keys["alice"] and api_keys["bob"] hold the same key`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := tt.edit(t).Marshal()
			if err == nil {
				t.Fatalf("Marshal wrote an invalid secret: %q", out)
			}
			if !errors.Is(err, apikey.ErrFormat) {
				t.Errorf("error %q does not wrap ErrFormat", err)
			}
			if !strings.Contains(err.Error(), tt.says) {
				t.Errorf("error %q does not say %q", err, tt.says)
			}
			assertNoLeak(t, err.Error(), leak)
		})
	}
}
