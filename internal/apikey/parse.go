package apikey

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/keygate/keygate/internal/access"
)

// ErrFormat marks a secret that is not a valid key configuration. Messages
// wrapping it name the field or client at fault, never a key.
var ErrFormat = errors.New("invalid API key secret")

// Format is the shape a secret string takes.
type Format int

const (
	// FormatPlain: the secret string is the key itself.
	FormatPlain Format = iota
	// FormatJSONKey: {"api_key": "<key>"}.
	FormatJSONKey
	// FormatKeySet: {"api_keys": {"<client>": <entry>, …}}.
	FormatKeySet
)

func (f Format) String() string {
	switch f {
	case FormatJSONKey:
		return "json-api_key"
	case FormatKeySet:
		return "api_keys"
	default:
		return "plain"
	}
}

// DefaultClient names the single key of the plain and api_key formats.
const DefaultClient = "default"

// Document is a parsed secret, kept in a form that can be changed and written
// back in the same format (the rotation function and the CLI do that).
type Document struct {
	Format Format
	// Key is the key of the plain and api_key formats.
	Key string
	// Keys are the named entries of the api_keys format.
	Keys map[string]KeyEntry
	// extra keeps unrelated top-level JSON fields so a rewrite preserves them.
	extra map[string]json.RawMessage
}

// KeyEntry is one client's entry in an api_keys secret. Exactly one of Key
// and SHA256 is set.
type KeyEntry struct {
	Key     string     `json:"key,omitempty"`
	SHA256  string     `json:"sha256,omitempty"`
	Expires *time.Time `json:"expires,omitempty"`
	// Allow, Sources and Meta are the entry's access rules (package
	// access) as the secret writes them: "METHOD /path" patterns, CIDRs,
	// and string members for the backend. Nil when absent: a nil Allow is
	// every route, an empty one none (Sources alike).
	Allow   []string          `json:"allow,omitempty"`
	Sources []string          `json:"sources,omitempty"`
	Meta    map[string]string `json:"meta,omitempty"`
	// Usage names the API Gateway usage plan that throttles and counts
	// the client behind keygate's REST authorizer; nil: none.
	Usage *Usage `json:"usage,omitempty"`
	// Bare records that the entry was written as a plain string, so a
	// rewrite keeps it that way.
	Bare bool `json:"-"`
}

// Usage ties a client to an API Gateway usage plan: the API key that
// stands for the client there (an identifier the client never sees: it
// sends only its keygate key, and keygate's authorizer hands API Gateway
// this key's value as the usage identifier) and the plan it belongs to.
type Usage struct {
	Plan  string `json:"plan"`
	KeyID string `json:"key_id"`
	Key   string `json:"key"`
}

// plain reports whether the entry can be written as a bare string.
func (e KeyEntry) plain() bool {
	return e.Key != "" && e.Expires == nil && e.Allow == nil && e.Sources == nil && e.Meta == nil && e.Usage == nil
}

// MarshalJSON writes the entry as an object; an empty allow or sources
// list is written (it means none), an absent one is not (it means any).
func (e KeyEntry) MarshalJSON() ([]byte, error) {
	type entry struct {
		Key     string            `json:"key,omitempty"`
		SHA256  string            `json:"sha256,omitempty"`
		Expires *time.Time        `json:"expires,omitempty"`
		Allow   *[]string         `json:"allow,omitempty"`
		Sources *[]string         `json:"sources,omitempty"`
		Meta    map[string]string `json:"meta,omitempty"`
		Usage   *Usage            `json:"usage,omitempty"`
	}
	out := entry{Key: e.Key, SHA256: e.SHA256, Expires: e.Expires, Meta: e.Meta, Usage: e.Usage}
	if e.Allow != nil {
		out.Allow = &e.Allow
	}
	if e.Sources != nil {
		out.Sources = &e.Sources
	}
	return json.Marshal(out)
}

// ValidClientName reports whether name may name a client: 1 to 64
// characters from [A-Za-z0-9._@-], starting with a letter or digit. Names
// reach logs, so they are kept to characters that cannot forge or break a
// log line. A loop rather than a regexp: a package-level regexp is compiled
// at every cold start.
func ValidClientName(name string) bool {
	if len(name) == 0 || len(name) > 64 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case i > 0 && (c == '.' || c == '_' || c == '@' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// Parse reads a secret string in any of the three formats and validates it.
func Parse(secret string) (Document, error) {
	trimmed := strings.TrimSpace(secret)
	if trimmed == "" {
		return Document{}, formatErr("the secret is empty or only whitespace")
	}
	if trimmed[0] != '{' {
		// A trailing newline is the usual residue of `echo key > file`;
		// HTTP strips surrounding whitespace from header values anyway.
		if err := checkKey(trimmed); err != nil {
			return Document{}, formatErr("the secret string " + err.Error())
		}
		return Document{Format: FormatPlain, Key: trimmed}, nil
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal([]byte(trimmed), &top); err != nil {
		return Document{}, formatErr("the secret starts with '{' but is not a valid JSON object")
	}
	rawKey, hasKey := top["api_key"]
	rawKeys, hasKeys := top["api_keys"]
	delete(top, "api_key")
	delete(top, "api_keys")
	doc := Document{extra: top}
	switch {
	case hasKey && hasKeys:
		return Document{}, formatErr("the secret has both api_key and api_keys: keep one")
	case hasKey:
		var k string
		if err := json.Unmarshal(rawKey, &k); err != nil {
			return Document{}, formatErr("api_key must be a string")
		}
		if err := checkKey(k); err != nil {
			return Document{}, formatErr("api_key " + err.Error())
		}
		doc.Format, doc.Key = FormatJSONKey, k
	case hasKeys:
		keys, err := parseKeySet(rawKeys)
		if err != nil {
			return Document{}, err
		}
		doc.Format, doc.Keys = FormatKeySet, keys
	default:
		return Document{}, formatErr("the JSON secret has neither an api_key nor an api_keys field")
	}
	return doc, nil
}

func parseKeySet(raw json.RawMessage) (map[string]KeyEntry, error) {
	var named map[string]json.RawMessage
	if err := json.Unmarshal(raw, &named); err != nil || named == nil {
		return nil, formatErr("api_keys must be an object of client names to keys")
	}
	if len(named) == 0 {
		return nil, formatErr("api_keys is empty: add at least one key")
	}
	keys := make(map[string]KeyEntry, len(named))
	// In name order: a secret with several faults reports the same one
	// every time.
	for _, name := range slices.Sorted(maps.Keys(named)) {
		rawEntry := named[name]
		if !ValidClientName(name) {
			return nil, formatErr("api_keys has an invalid client name (use 1-64 of A-Z a-z 0-9 . _ @ -, starting with a letter or digit)")
		}
		e, err := parseEntry(rawEntry)
		if err != nil {
			return nil, fmt.Errorf("%w: api_keys[%q]: %v", ErrFormat, name, err)
		}
		keys[name] = e
	}
	return keys, checkUnique(keys)
}

func parseEntry(raw json.RawMessage) (KeyEntry, error) {
	var e KeyEntry
	if len(raw) > 0 && raw[0] == '"' {
		if err := json.Unmarshal(raw, &e.Key); err != nil {
			return e, errors.New("is not a valid JSON string")
		}
		e.Bare = true
		return e, checkKey(e.Key)
	}
	var obj struct {
		Key     *string         `json:"key"`
		SHA256  *string         `json:"sha256"`
		Expires *string         `json:"expires"`
		Allow   json.RawMessage `json:"allow"`
		Sources json.RawMessage `json:"sources"`
		Meta    json.RawMessage `json:"meta"`
		Usage   json.RawMessage `json:"usage"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	// A misspelt field ("expire", "source") must not silently leave a key
	// immortal, or unrestricted.
	dec.DisallowUnknownFields()
	if err := dec.Decode(&obj); err != nil {
		return e, errors.New(`must be a key string or an object with "key" or "sha256" and optional "expires", "allow", "sources", "meta", "usage"`)
	}
	switch {
	case obj.Key != nil && obj.SHA256 != nil:
		return e, errors.New(`has both "key" and "sha256": keep one`)
	case obj.Key != nil:
		if err := checkKey(*obj.Key); err != nil {
			return e, fmt.Errorf("key %v", err)
		}
		e.Key = *obj.Key
	case obj.SHA256 != nil:
		if b, err := hex.DecodeString(*obj.SHA256); err != nil || len(b) != 32 {
			return e, errors.New("sha256 must be 64 hexadecimal characters (the SHA-256 of the key)")
		}
		e.SHA256 = strings.ToLower(*obj.SHA256)
	default:
		return e, errors.New(`has neither "key" nor "sha256"`)
	}
	if obj.Expires != nil {
		t, err := time.Parse(time.RFC3339, *obj.Expires)
		if err != nil {
			return e, errors.New("expires must be an RFC 3339 time such as 2026-12-31T23:59:59Z")
		}
		e.Expires = &t
	}
	var err error
	if e.Allow, err = stringList(obj.Allow, "allow", `"METHOD /path" patterns such as "GET /reports/*"`); err != nil {
		return e, err
	}
	if e.Sources, err = stringList(obj.Sources, "sources", `CIDRs such as "203.0.113.0/24" or "2001:db8::/32"`); err != nil {
		return e, err
	}
	if e.Meta, err = metaObject(obj.Meta); err != nil {
		return e, err
	}
	if e.Usage, err = usageObject(obj.Usage); err != nil {
		return e, err
	}
	_, err = e.policy()
	return e, err
}

// usageObject decodes and checks usage: {"plan", "key_id", "key"}, all
// three. Its errors never show a value.
func usageObject(raw json.RawMessage) (*Usage, error) {
	if raw == nil {
		return nil, nil
	}
	var u Usage
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&u); err != nil || string(raw) == "null" {
		return nil, errors.New(`usage must be an object of "plan", "key_id" and "key" (set by keygate keys set NAME --plan PLAN)`)
	}
	if err := u.check(); err != nil {
		return nil, err
	}
	return &u, nil
}

// check: a plan name, an API Gateway API key ID and value as API Gateway
// makes them (a value of at least 20 characters that a header could
// carry).
func (u Usage) check() error {
	switch {
	case !ValidPlanName(u.Plan):
		return errors.New("usage.plan must be a plan name: 1-64 of a-z 0-9 _ -, starting with a letter or digit")
	case !validKeyID(u.KeyID):
		return errors.New("usage.key_id must be an API Gateway API key ID (letters and digits)")
	case len(u.Key) < 20 || len(u.Key) > 128 || sendable(u.Key) != nil:
		return errors.New("usage.key must be the API Gateway API key's value: 20 to 128 printable characters, no space or comma")
	}
	return nil
}

// ValidPlanName reports whether s can name a usage plan in an entry (the
// value of the plan's keygate:plan tag).
func ValidPlanName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || i > 0 && (c == '_' || c == '-')) {
			return false
		}
	}
	return true
}

func validKeyID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// stringList decodes a list of strings; absent (nil raw) is nil, and an
// empty list stays an empty, non-nil one.
func stringList(raw json.RawMessage, field, what string) ([]string, error) {
	if raw == nil {
		return nil, nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil || list == nil {
		return nil, fmt.Errorf("%s must be a list of %s", field, what)
	}
	return list, nil
}

// metaObject decodes meta: an object of string members.
func metaObject(raw json.RawMessage) (map[string]string, error) {
	if raw == nil {
		return nil, nil
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil || members == nil {
		return nil, errors.New("meta must be an object of string members")
	}
	meta := make(map[string]string, len(members))
	for _, name := range slices.Sorted(maps.Keys(members)) {
		var v string
		if err := json.Unmarshal(members[name], &v); err != nil {
			if !validMetaName(name) {
				return nil, errors.New("meta has a member whose name is not [a-z][a-z0-9_]{0,31}")
			}
			return nil, fmt.Errorf("meta[%q] must be a string", name)
		}
		meta[name] = v
	}
	return meta, nil
}

// formatErr is ErrFormat with what is wrong, so that every fault in a
// secret's format can be told apart from other errors with errors.Is.
func formatErr(detail string) error { return fmt.Errorf("%w: %s", ErrFormat, detail) }

// CouldBeKey reports whether s could be an API key (printable ASCII,
// without spaces or commas): a setting holding such a value is never echoed
// in a message, since it may be a key pasted into the wrong variable.
func CouldBeKey(s string) bool { return sendable(s) == nil }

// checkKey rejects keys that no client could send in an x-api-key header,
// and kg_ keys keygate did not make: the function refuses every presented
// kg_ key whose checksum does not match without looking it up.
func checkKey(k string) error {
	if err := sendable(k); err != nil {
		return err
	}
	if Minted(k) && !WellFormed(k) {
		return errors.New("starts with kg_ but is not a key keygate made (39 characters, the last 6 a checksum of the 30 before them): the function refuses every such key; generate one with `keygate keys rotate`, or use a key without the kg_ prefix")
	}
	return nil
}

// sendable rejects what a client cannot send in an x-api-key header: HTTP
// strips surrounding whitespace and API Gateway's HTTP API splits header
// values on commas.
func sendable(k string) error {
	if strings.TrimSpace(k) == "" {
		return errors.New("is empty or only whitespace")
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; c < 0x21 || c > 0x7e || c == ',' {
			return errors.New("contains characters that cannot be sent in an x-api-key header (allowed: printable ASCII except space and comma)")
		}
	}
	return nil
}

func checkUnique(keys map[string]KeyEntry) error {
	seen := make(map[[32]byte]string, len(keys))
	for _, name := range sortedNames(keys) {
		d := keys[name].digest()
		if other, dup := seen[d]; dup {
			return fmt.Errorf("%w: api_keys[%q] and api_keys[%q] hold the same key: give each client its own", ErrFormat, other, name)
		}
		seen[d] = name
	}
	// Meta goes to backends and into headers, a usage key to API
	// Gateway: a key found there has leaked.
	for _, name := range sortedNames(keys) {
		if u := keys[name].Usage; u != nil {
			if _, isKey := seen[Digest(u.Key)]; isKey {
				return fmt.Errorf("%w: api_keys[%q].usage.key is a key of this secret: a usage key stands for a client at API Gateway and must be a value of its own (keygate keys set %s --plan %s makes one)", ErrFormat, name, name, u.Plan)
			}
		}
		for _, m := range slices.Sorted(maps.Keys(keys[name].Meta)) {
			if _, isKey := seen[Digest(keys[name].Meta[m])]; isKey {
				return fmt.Errorf("%w: api_keys[%q].meta[%q] holds a key of this secret: meta reaches backends and request headers, and is no place for secrets", ErrFormat, name, m)
			}
		}
	}
	return nil
}

func sortedNames(keys map[string]KeyEntry) []string {
	return slices.Sorted(maps.Keys(keys))
}

func (e KeyEntry) digest() [32]byte {
	if e.SHA256 != "" {
		var d [32]byte
		hex.Decode(d[:], []byte(e.SHA256)) // validated by parseEntry
		return d
	}
	return Digest(e.Key)
}

// Entries converts the document into matchable entries tagged with stage.
func (d Document) Entries(stage string) []Entry {
	if d.Format != FormatKeySet {
		return []Entry{{Client: DefaultClient, Digest: Digest(d.Key), Stage: stage}}
	}
	out := make([]Entry, 0, len(d.Keys))
	for _, name := range sortedNames(d.Keys) {
		ke := d.Keys[name]
		e := Entry{Client: name, Digest: ke.digest(), Stage: stage}
		if ke.Usage != nil {
			e.UsageKey = ke.Usage.Key
		}
		if ke.Expires != nil {
			e.Expires = *ke.Expires
		}
		var err error
		if e.Policy, err = ke.policy(); err != nil {
			// Parse refuses such an entry; one built otherwise may do
			// nothing at all (fail closed).
			e.Policy = &access.Policy{Allow: []access.Pattern{}, Sources: []netip.Prefix{}}
		}
		out = append(out, e)
	}
	return out
}

// Names lists the clients of an api_keys document in sorted order.
func (d Document) Names() []string { return sortedNames(d.Keys) }

// Marshal writes the document back in its own format, keeping unrelated
// top-level fields. It validates first: a document that Parse would reject
// is never produced.
func (d Document) Marshal() (string, error) {
	var out string
	switch d.Format {
	case FormatPlain:
		out = d.Key
	default:
		top := make(map[string]any, len(d.extra)+1)
		for k, v := range d.extra {
			top[k] = v
		}
		if d.Format == FormatJSONKey {
			top["api_key"] = d.Key
		} else {
			entries := make(map[string]any, len(d.Keys))
			for name, e := range d.Keys {
				if e.Bare && e.plain() {
					entries[name] = e.Key
				} else {
					entries[name] = e
				}
			}
			top["api_keys"] = entries
		}
		b, err := json.Marshal(top)
		if err != nil {
			return "", fmt.Errorf("encode secret: %w", err)
		}
		out = string(b)
	}
	if _, err := Parse(out); err != nil {
		return "", err
	}
	return out, nil
}
