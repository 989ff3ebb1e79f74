package apikey

// Fuzz targets for the secret parser and for the match structure. An
// internal test: FuzzMatch wraps the package's compare function.
// `make fuzz` runs them for minutes, `make test` briefly (fuzz-smoke).

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
)

var fuzzParseSeeds = []string{
	"",
	" \t\n",
	"kgPlainKey0123456789",
	"kgPlainKey0123456789\n",
	"kg key with spaces",
	"kgKey,withComma",
	"{kgLooksLikeJSON",
	`{"api_key":"kgJSONKey0123456789"}`,
	`{"api_key":"kgJSONKey0123456789","description":"<x&y>","n":[1,2]}`,
	`{"api_key":"kg\u0041scaped\u002c"}`,
	`{"api_key":12345678901}`,
	`{"api_key":"kgOne","api_keys":{"a":"kgTwo"}}`,
	`{"api_keys":{"alice":"kgAliceKey0001","bob":{"key":"kgBobKey00002","expires":"2026-12-31T23:59:59Z"}}}`,
	`{"api_keys":{"carol":{"sha256":"BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"}}}`,
	`{"api_keys":{"a":"kgSameKey000000","b":"kgSameKey000000"}}`,
	`{"api_keys":{"a":"kgBadKey 0000001","b":{"key":"kgBadKey,0000002"},"c d":"kgBadName0000003"}}`,
	`{"api_keys":{"a":{"key":"kgKey00000001","sha256":"00"}}}`,
	`{"api_keys":{"a":{"kye":"kgMisspelt000001"}}}`,
	`{"api_keys":{"a":{"key":"kgExpiring000001","expires":"tomorrow kgExpiring000001"}}}`,
	`{"api_keys":{"a":{"key":"kgExpiring000002","expires":"2027-01-01T00:59:59.5+01:00"}}}`,
	`{"api_keys":{"r":{"key":"kgReports0000001","allow":["GET /reports/*","* /x"],"sources":["203.0.113.0/24","2001:db8::/32"],"meta":{"tenant":"t-42"}}}}`,
	`{"api_keys":{"r":{"sha256":"BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD","allow":[],"sources":[]}}}`,
	`{"api_keys":{"r":{"key":"kgReports0000002","allow":["kgReports0000002"],"meta":{"k":"kgReports0000002"}}}}`,
	`{"api_keys":{"r":"kg_000000000000000000000000000000000000"}}`,
	`{"api_keys":{"a":{"KEY":"kgUpperField0001"}}}`,
	`{"api_keys":{}}`,
	`{"api_keys":[]}`,
	`{"api_keys":null}`,
	`{"api_keys":{"a":null}}`,
	`{"api_keys":{"a":"kgTruncated00001`,
	"{\"api_key\":\"kg\xffInvalidUTF8\"}",
}

// FuzzParse: Parse never panics; what it accepts round-trips through
// Marshal and Parse to the same entries, each holding the right digest, and
// every accepted key authorizes through a Set; what it rejects it rejects
// with a deterministic ErrFormat message that does not depend on, let alone
// contain, the key values in the secret.
//
// Stated soundly: a message may legitimately share text with a key (a key
// "api_keys!", a client named like its key). So the key values of the
// secret are found independently of Parse (fuzzKeyValues) and replaced by
// different ones of the same shape (every letter, digit and punctuation
// mark rotated within its class, which keeps every check Parse makes on a
// key); Parse must then fail with the same message. A message that held
// any part of a key would change with it. The checks that depend on a
// key's content (a key whose SHA-256 equals a sha256 entry, a kg_ key's
// checksum) are skipped.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzParseSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, secret string) {
		doc, err := Parse(secret)
		if err != nil {
			checkParseError(t, secret, err)
			return
		}
		checkAccepted(t, doc)
	})
}

func checkParseError(t *testing.T, secret string, err error) {
	t.Helper()
	if !errors.Is(err, ErrFormat) {
		t.Fatalf("error does not wrap ErrFormat: %v", err)
	}
	msg := err.Error()
	if _, again := Parse(secret); again == nil || again.Error() != msg {
		t.Fatalf("Parse is not deterministic: %q, then %v", msg, again)
	}
	keys, rotated, ok := fuzzKeyValues(secret)
	if !ok || slices.ContainsFunc(keys, Minted) {
		// A kg_ key is valid or not by its checksum: its content matters.
		return
	}
	_, err2 := Parse(rotated)
	if err2 == nil {
		t.Fatalf("rotating the key values made the secret valid: %q → %q", secret, rotated)
	}
	msg2 := err2.Error()
	for _, k := range keys {
		for i := 0; i+8 <= len(k); i++ {
			if w := k[i : i+8]; strings.Contains(msg, w) && !strings.Contains(msg2, w) {
				t.Fatalf("the message holds %q, part of a key value: %q", w, msg)
			}
		}
	}
	if msg != msg2 {
		t.Fatalf("the message depends on the key values:\n%q for %q\n%q for %q", msg, secret, msg2, rotated)
	}
}

func checkAccepted(t *testing.T, doc Document) {
	t.Helper()
	entries := doc.Entries("STAGE")
	checkEntries(t, doc, entries)

	out, err := doc.Marshal()
	if err != nil {
		t.Fatalf("Marshal of an accepted document: %v", err)
	}
	doc2, err := Parse(out)
	if err != nil {
		t.Fatalf("Parse(Marshal(doc)): %v\n%q", err, out)
	}
	if doc2.Format != doc.Format || doc2.Key != doc.Key || len(doc2.Keys) != len(doc.Keys) {
		t.Fatalf("round trip changed the document: %v %q %d keys → %v %q %d keys", doc.Format, doc.Key, len(doc.Keys), doc2.Format, doc2.Key, len(doc2.Keys))
	}
	for name, e := range doc.Keys {
		e2, ok := doc2.Keys[name]
		if !ok || e2.Key != e.Key || e2.SHA256 != e.SHA256 || e2.Bare != e.Bare || !sameTime(e.Expires, e2.Expires) {
			t.Fatalf("round trip changed entry %q: %+v → %+v", name, e, e2)
		}
	}
	entries2 := doc2.Entries("STAGE")
	if len(entries2) != len(entries) {
		t.Fatalf("round trip: %d entries → %d", len(entries), len(entries2))
	}
	for i := range entries {
		a, b := entries[i], entries2[i]
		if a.Client != b.Client || a.Digest != b.Digest || !a.Expires.Equal(b.Expires) || a.Stage != b.Stage {
			t.Fatalf("round trip changed an entry: %+v → %+v", a, b)
		}
	}
	if out2, err := doc2.Marshal(); err != nil || out2 != out {
		t.Fatalf("Marshal is not stable: %q, then %q (%v)", out, out2, err)
	}
}

// checkEntries: the digests are those of the keys (or the sha256 given),
// every key could be sent in a header, and every key authorizes its
// client through a Set until it expires.
func checkEntries(t *testing.T, doc Document, entries []Entry) {
	t.Helper()
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	set := NewSet(entries)
	if set.Len() != len(entries) {
		t.Fatalf("%d entries but %d distinct digests", len(entries), set.Len())
	}
	if doc.Format != FormatKeySet {
		if len(entries) != 1 || entries[0].Client != DefaultClient || entries[0].Digest != sha256.Sum256([]byte(doc.Key)) || entries[0].Stage != "STAGE" {
			t.Fatalf("entries %+v for a single key", entries)
		}
		checkSendable(t, doc.Key)
		if e, res := set.Match(doc.Key, now); res != OK || e.Client != DefaultClient {
			t.Fatalf("the accepted key does not authorize: %v", res)
		}
		return
	}
	if len(entries) != len(doc.Keys) || len(entries) == 0 {
		t.Fatalf("%d entries for %d keys", len(entries), len(doc.Keys))
	}
	for _, e := range entries {
		ke, ok := doc.Keys[e.Client]
		if !ok || !ValidClientName(e.Client) {
			t.Fatalf("entry for client %q, which the document does not name validly", e.Client)
		}
		switch {
		case (ke.Key == "") == (ke.SHA256 == ""):
			t.Fatalf("entry %q holds %q key and %q sha256: want exactly one", e.Client, ke.Key, ke.SHA256)
		case ke.Key != "":
			checkSendable(t, ke.Key)
			if e.Digest != sha256.Sum256([]byte(ke.Key)) {
				t.Fatalf("entry %q: digest is not the key's SHA-256", e.Client)
			}
			want := OK
			if ke.Expires != nil && !now.Before(*ke.Expires) {
				want = Expired
			}
			if m, res := set.Match(ke.Key, now); res != want || m.Client != e.Client {
				t.Fatalf("entry %q: Match = %v for %q, want %v", e.Client, res, m.Client, want)
			}
		default:
			if hex.EncodeToString(e.Digest[:]) != ke.SHA256 {
				t.Fatalf("entry %q: digest %x, sha256 %q", e.Client, e.Digest, ke.SHA256)
			}
		}
		if !sameTime(ke.Expires, &e.Expires) && !(ke.Expires == nil && e.Expires.IsZero()) {
			t.Fatalf("entry %q: expires %v, entry %v", e.Client, ke.Expires, e.Expires)
		}
	}
}

// checkSendable: an accepted key is printable ASCII without space or
// comma, so that one x-api-key header carries it intact.
func checkSendable(t *testing.T, k string) {
	t.Helper()
	if k == "" {
		t.Fatal("accepted an empty key")
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; c <= ' ' || c >= 0x7f || c == ',' {
			t.Fatalf("accepted a key with byte %#x, which no x-api-key header carries intact", c)
		}
	}
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

// fuzzPunct are the punctuation marks rotated among themselves: printable,
// allowed in a key, and neither JSON-special nor the '{' that makes a
// secret JSON.
const fuzzPunct = "!#$%&'()*+-./:;<=>?@[]^_`|~"

// rotate maps every letter, digit and fuzzPunct mark to the next one of
// its class (a bijection that keeps each byte's class) and leaves the rest.
func rotate(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case 'a' <= c && c <= 'z':
			b[i] = 'a' + (c-'a'+1)%26
		case 'A' <= c && c <= 'Z':
			b[i] = 'A' + (c-'A'+1)%26
		case '0' <= c && c <= '9':
			b[i] = '0' + (c-'0'+1)%10
		default:
			if j := strings.IndexByte(fuzzPunct, c); j >= 0 {
				b[i] = fuzzPunct[(j+1)%len(fuzzPunct)]
			}
		}
	}
	return string(b)
}

// fuzzKeyValues finds, without Parse, the key values a secret holds: the
// whole trimmed text of a plain secret; in JSON, the api_key string, the
// bare strings of api_keys and every member of an api_keys entry but
// sha256 and expires. It returns them and the secret with each replaced by
// its rotation. ok is false when a key's SHA-256 equals a sha256 entry (the
// rotation would change the outcome, not just the values).
func fuzzKeyValues(secret string) (keys []string, rotated string, ok bool) {
	start := len(secret) - len(strings.TrimLeftFunc(secret, unicode.IsSpace))
	end := len(strings.TrimRightFunc(secret, unicode.IsSpace))
	if start >= end {
		return nil, secret, true
	}
	if secret[start] != '{' {
		k := secret[start:end]
		return []string{k}, secret[:start] + rotate(k) + secret[end:], true
	}

	type span struct {
		from, to int
		value    string
	}
	type frame struct {
		role      string // top, api_keys, entry, other
		object    bool
		expectKey bool
		key       string
	}
	var (
		spans  []span
		hashes []string
		stack  []*frame
	)
	dec := json.NewDecoder(strings.NewReader(secret))
	for {
		before := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil { // io.EOF or a syntax error: Parse rejects the rest
			break
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch v := tok.(type) {
		case json.Delim:
			if v == '}' || v == ']' {
				stack = stack[:len(stack)-1]
				break
			}
			role := "other"
			switch {
			case top == nil && v == '{':
				role = "top"
			case top != nil && top.role == "top" && top.key == "api_keys" && v == '{':
				role = "api_keys"
			case top != nil && top.role == "api_keys" && v == '{':
				role = "entry"
			}
			if top != nil && top.object {
				top.expectKey = true
			}
			stack = append(stack, &frame{role: role, object: v == '{', expectKey: v == '{'})
		case string:
			if top != nil && top.object && top.expectKey {
				top.key, top.expectKey = v, false
				break
			}
			if top != nil {
				isKey := (top.role == "top" && top.key == "api_key") ||
					top.role == "api_keys" ||
					(top.role == "entry" && !strings.EqualFold(top.key, "sha256") && !strings.EqualFold(top.key, "expires"))
				if isKey {
					from := before + int64(strings.IndexByte(secret[before:], '"'))
					spans = append(spans, span{int(from), int(dec.InputOffset()), v})
				}
				if top.role == "entry" && strings.EqualFold(top.key, "sha256") {
					hashes = append(hashes, v)
				}
				if top.object {
					top.expectKey = true
				}
			}
		default:
			if top != nil && top.object {
				top.expectKey = true
			}
		}
		if len(stack) == 0 {
			break
		}
	}
	for _, h := range hashes {
		d, err := hex.DecodeString(h)
		if err != nil {
			continue
		}
		for _, s := range spans {
			if sum := sha256.Sum256([]byte(s.value)); bytes.Equal(d, sum[:]) {
				return nil, "", false
			}
		}
	}
	var b strings.Builder
	last := 0
	for _, s := range spans {
		enc, err := json.Marshal(rotate(s.value))
		if err != nil {
			return nil, "", false
		}
		b.WriteString(secret[last:s.from])
		b.Write(enc)
		last = s.to
		keys = append(keys, s.value)
	}
	b.WriteString(secret[last:])
	return keys, b.String(), true
}

// FuzzMatch proves the comparison's structure for any presented key:
// exactly one compare of two 32-byte values, the second the SHA-256 of what
// was presented, the first the matched entry's digest, or, for every wrong
// key alike, the same fixed all-zero array. No branch depends on how a
// wrong key differs from a right one.
func FuzzMatch(f *testing.F) {
	const (
		right   = "kgFuzzRightKey0123456789abcdefgh"
		expired = "kgFuzzExpiredKey0123456789abcdef"
	)
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	set := NewSet([]Entry{
		{Client: "right", Digest: Digest(right)},
		{Client: "expired", Digest: Digest(expired), Expires: now.Add(-time.Second)},
		{Client: "hashed", Digest: sha256.Sum256([]byte("kgHashOnly"))},
	})
	for _, s := range []string{"", right, expired, "kgHashOnly", right[:31], right + "x", strings.ToUpper(right), " " + right, strings.Repeat("k", 4096), "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, presented string) {
		type call struct{ a, b []byte }
		var calls []call
		orig := compare
		compare = func(a, b []byte) int {
			calls = append(calls, call{a, b})
			return orig(a, b)
		}
		e, res := set.Match(presented, now)
		compare = orig

		if len(calls) != 1 {
			t.Fatalf("%d comparisons, want exactly 1", len(calls))
		}
		c := calls[0]
		if len(c.a) != sha256.Size || len(c.b) != sha256.Size {
			t.Fatalf("compared %d and %d bytes, want 32 and 32", len(c.a), len(c.b))
		}
		if d := sha256.Sum256([]byte(presented)); !bytes.Equal(c.b, d[:]) {
			t.Fatal("the compared value is not the presented key's digest")
		}
		want := map[string]Result{right: OK, expired: Expired, "kgHashOnly": OK}
		r, known := want[presented]
		switch {
		case !known:
			if res != Invalid || e != (Entry{}) {
				t.Fatalf("a wrong key: %v for %q", res, e.Client)
			}
			if &c.a[0] != &absent[0] {
				t.Fatal("a wrong key was compared against something other than the fixed absent digest")
			}
		case res != r:
			t.Fatalf("Match = %v, want %v", res, r)
		case !bytes.Equal(c.a, e.Digest[:]):
			t.Fatal("a right key was not compared against its entry's digest")
		}
	})
}
