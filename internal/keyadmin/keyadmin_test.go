package keyadmin_test

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/keygate/keygate/internal/apikey"
	"github.com/keygate/keygate/internal/keyadmin"
	"github.com/keygate/keygate/internal/smapi"
	"github.com/keygate/keygate/internal/smclient"
	"github.com/keygate/keygate/internal/testsupport/smfake"
)

func TestKeysList(t *testing.T) {
	tests := []struct {
		name    string
		secret  string
		entries int
		want    []string // table fields, separated by single spaces
	}{
		{"plain", keyA, 1, []string{"default key"}},
		{"api_key", `{"api_key":"` + keyA + `"}`, 1, []string{"default key"}},
		{"api_keys", `{"api_keys":{"bob":"` + keyB + `","alice":{"key":"` + keyA + `","expires":"2099-01-01T00:00:00Z"},"carol":{"sha256":"` + hashC + `","expires":"2001-01-01T00:00:00Z"}}}`, 3,
			[]string{"alice key", "2099-01-01T00:00:00Z", "bob key", "carol sha256", "2001-01-01T00:00:00Z (expired)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tl := newTool(t, tt.secret)
			r := tl.run(t, "keys", "list")
			wantCode(t, r, keyadmin.ExitOK, secretID)
			got := strings.Join(strings.Fields(r.stdout), " ")
			if !strings.HasPrefix(got, "NAME KIND CREATED EXPIRES") {
				t.Errorf("no header: %s", r.stdout)
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("list lacks %q:\n%s", w, r.stdout)
				}
			}
			checkQuiet(t, r, "", tt.secret)

			r = tl.run(t, "keys", "list", "--json")
			wantCode(t, r, keyadmin.ExitOK)
			var l keyadmin.Listing
			if err := json.Unmarshal([]byte(r.stdout), &l); err != nil {
				t.Fatalf("--json output: %v\n%s", err, r.stdout)
			}
			if len(l.Entries) != tt.entries || l.SecretID != secretID || l.VersionID == "" || l.Created.IsZero() {
				t.Errorf("--json listing %+v", l)
			}
			checkQuiet(t, r, "", tt.secret)
			if n := tl.sm.Calls("PutSecretValue") + tl.sm.Calls("UpdateSecretVersionStage"); n != 0 {
				t.Errorf("list wrote (%d calls)", n)
			}
		})
	}
}

func TestKeysAdd(t *testing.T) {
	base := `{"api_keys":{"alice":"` + keyA + `","carol":{"sha256":"` + hashC + `"}},"owner":"team-x"}`
	tests := []struct {
		name    string
		secret  string
		args    []string
		stored  string // key | sha256
		expires *time.Time
	}{
		{"hash by default", base, []string{"bob"}, apikey.KindSHA256, nil},
		{"store key", base, []string{"--store-key", "bob"}, apikey.KindKey, nil},
		{"ttl", base, []string{"bob", "--ttl", "720h"}, apikey.KindSHA256, ptr(now.Add(720 * time.Hour))},
		{"expires", base, []string{"bob", "--expires", "2099-12-31T23:59:59Z", "--store-key"}, apikey.KindKey, ptr(time.Date(2099, 12, 31, 23, 59, 59, 0, time.UTC))},
		{"convert plain", keyA, []string{"bob", "--convert"}, apikey.KindSHA256, nil},
		{"convert api_key", `{"api_key":"` + keyA + `","owner":"team-x"}`, []string{"bob", "--convert"}, apikey.KindSHA256, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tl := newTool(t, tt.secret)
			before := tl.sm.Stages(secretID)
			r := tl.run(t, append([]string{"keys", "add"}, tt.args...)...)
			wantCode(t, r, keyadmin.ExitOK, `"bob"`, "only this once")
			key := strings.TrimSpace(r.stdout)
			if len(key) != apikey.GeneratedLength {
				t.Fatalf("stdout %q is not a generated key", r.stdout)
			}
			checkQuiet(t, r, key, tt.secret, tl.value(t))
			tl.checkWritten(t, before)

			doc := tl.current(t)
			e := doc.Keys["bob"]
			if doc.Format != apikey.FormatKeySet || e.Kind() != tt.stored || e.Digest() != apikey.Digest(key) {
				t.Fatalf("bob's entry: format %s, kind %s, digest matches %v", doc.Format, e.Kind(), e.Digest() == apikey.Digest(key))
			}
			if (e.Expires == nil) != (tt.expires == nil) || e.Expires != nil && !e.Expires.Equal(*tt.expires) {
				t.Errorf("expires %v, want %v", e.Expires, tt.expires)
			}
			if strings.Contains(tt.secret, "owner") && !strings.Contains(tl.value(t), `"owner":"team-x"`) {
				t.Error("an unrelated top-level field was lost")
			}
			// The function now takes the new key and every old one.
			set := tl.keys(t)
			for _, k := range []string{key, keyA} {
				if !accepts(set, k, now) {
					t.Errorf("the function rejects a key after add")
				}
			}
			if strings.Contains(tt.name, "convert") && len(doc.Keys) != 2 {
				t.Errorf("converted secret has %v, want default and bob", doc.Names())
			}
		})
	}
}

func TestKeysAddRefused(t *testing.T) {
	tests := []struct {
		name, secret string
		args         []string
		stderrHas    []string
	}{
		{"name exists", `{"api_keys":{"bob":"` + keyB + `"}}`, []string{"bob"}, []string{`already has an entry "bob"`, "keys rotate bob"}},
		{"single key without --convert", keyA, []string{"bob"}, []string{"plain format", "--convert", `"default"`}},
		{"api_key without --convert", `{"api_key":"` + keyA + `"}`, []string{"bob"}, []string{"json-api_key format", "--convert"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tl := newTool(t, tt.secret)
			r := tl.run(t, append([]string{"keys", "add"}, tt.args...)...)
			wantCode(t, r, keyadmin.ExitError, tt.stderrHas...)
			if r.stdout != "" {
				t.Errorf("a refused add printed %q", r.stdout)
			}
			if tl.value(t) != tt.secret || tl.sm.Calls("PutSecretValue") != 0 {
				t.Error("a refused add wrote the secret")
			}
			checkQuiet(t, r, "", tt.secret)
		})
	}
}

func TestKeysRevoke(t *testing.T) {
	secret := `{"api_keys":{"alice":"` + keyA + `","bob":{"sha256":"` + apikey.HashEntry(keyB, nil).SHA256 + `"},"bob.previous":{"key":"` + keyC + `","expires":"2099-01-01T00:00:00Z"}}}`
	tl := newTool(t, secret)
	if set := tl.keys(t); !accepts(set, keyB, now) || !accepts(set, keyC, now) {
		t.Fatal("setup: bob's keys do not work")
	}
	before := tl.sm.Stages(secretID)
	r := tl.run(t, "keys", "revoke", "bob")
	wantCode(t, r, keyadmin.ExitOK, `revoked "bob" and "bob.previous"`)
	checkQuiet(t, r, "", secret, tl.value(t))
	tl.checkWritten(t, before)
	if names := tl.current(t).Names(); strings.Join(names, ",") != "alice" {
		t.Errorf("entries %v, want alice only", names)
	}
	// The function, with a day's KEY_GRACE, drops bob at its next load:
	// no AWSPREVIOUS version keeps the revoked keys alive.
	set := tl.keys(t)
	if accepts(set, keyB, now) || accepts(set, keyC, now) || !accepts(set, keyA, now) {
		t.Error("after revoke the function still takes bob's keys, or no longer alice's")
	}
}

func TestKeysRevokeRefused(t *testing.T) {
	tests := []struct {
		name, secret, who string
		stderrHas         []string
	}{
		{"no such entry", `{"api_keys":{"alice":"` + keyA + `"}}`, "bob", []string{`has no entry "bob"`, "keys list"}},
		{"last key", `{"api_keys":{"alice":"` + keyA + `"}}`, "alice", []string{"last unexpired key", "keys add"}},
		{"last unexpired key", `{"api_keys":{"alice":"` + keyA + `","old":{"key":"` + keyB + `","expires":"2001-01-01T00:00:00Z"}}}`, "alice", []string{"last unexpired key"}},
		{"single key", keyA, "default", []string{"only key"}},
		{"single key, other name", keyA, "bob", []string{"holds a single key", `"default"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tl := newTool(t, tt.secret)
			r := tl.run(t, "keys", "revoke", tt.who)
			wantCode(t, r, keyadmin.ExitError, tt.stderrHas...)
			if tl.value(t) != tt.secret || tl.sm.Calls("PutSecretValue") != 0 {
				t.Error("a refused revoke wrote the secret")
			}
			checkQuiet(t, r, "", tt.secret)
		})
	}
}

func TestKeysRotate(t *testing.T) {
	hashB := apikey.HashEntry(keyB, nil).SHA256
	tests := []struct {
		name, secret string
		args         []string
		format       apikey.Format
		kind         string
		expires      *time.Time // of the new entry
		prev         string     // the entry that keeps the old key, "" for none
		prevExpires  time.Time
		oldKey       string
	}{
		{"hash-only entry", `{"api_keys":{"alice":"` + keyA + `","bob":{"sha256":"` + hashB + `"}}}`, []string{"bob"},
			apikey.FormatKeySet, apikey.KindSHA256, nil, "bob.previous", now.Add(24 * time.Hour), keyB},
		{"key entry, short grace", `{"api_keys":{"alice":"` + keyA + `","bob":"` + keyB + `"}}`, []string{"bob", "--grace", "90m"},
			apikey.FormatKeySet, apikey.KindKey, nil, "bob.previous", now.Add(90 * time.Minute), keyB},
		{"expiry kept, grace capped by it", `{"api_keys":{"alice":"` + keyA + `","bob":{"key":"` + keyB + `","expires":"` + stamp(now.Add(time.Hour)) + `"}}}`, []string{"bob"},
			apikey.FormatKeySet, apikey.KindKey, ptr(now.Add(time.Hour)), "bob.previous", now.Add(time.Hour), keyB},
		{"expiry replaced", `{"api_keys":{"alice":"` + keyA + `","bob":{"key":"` + keyB + `","expires":"` + stamp(now.Add(time.Hour)) + `"}}}`, []string{"bob", "--ttl", "48h", "--grace", "2h"},
			apikey.FormatKeySet, apikey.KindKey, ptr(now.Add(48 * time.Hour)), "bob.previous", now.Add(time.Hour), keyB},
		{"no grace", `{"api_keys":{"alice":"` + keyA + `","bob":"` + keyB + `"}}`, []string{"bob", "--grace", "0"},
			apikey.FormatKeySet, apikey.KindKey, nil, "", time.Time{}, keyB},
		{"plain, no grace: format kept", keyA, []string{"default", "--grace", "0s"},
			apikey.FormatPlain, apikey.KindKey, nil, "", time.Time{}, keyA},
		{"api_key, no grace: format kept", `{"api_key":"` + keyA + `"}`, []string{"default", "--grace", "0s"},
			apikey.FormatJSONKey, apikey.KindKey, nil, "", time.Time{}, keyA},
		{"plain converted", keyA, []string{"default", "--convert"},
			apikey.FormatKeySet, apikey.KindKey, nil, "default.previous", now.Add(24 * time.Hour), keyA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tl := newTool(t, tt.secret)
			before := tl.sm.Stages(secretID)
			r := tl.run(t, append([]string{"keys", "rotate"}, tt.args...)...)
			wantCode(t, r, keyadmin.ExitOK, "rotated", "only this once")
			key := strings.TrimSpace(r.stdout)
			checkQuiet(t, r, key, tt.secret, tl.value(t))
			tl.checkWritten(t, before)

			doc := tl.current(t)
			name := tt.args[0]
			e, _ := doc.Entry(name)
			if doc.Format != tt.format || e.Kind() != tt.kind || e.Digest() != apikey.Digest(key) {
				t.Fatalf("format %s, kind %s, new key stored %v", doc.Format, e.Kind(), e.Digest() == apikey.Digest(key))
			}
			if (e.Expires == nil) != (tt.expires == nil) || e.Expires != nil && !e.Expires.Equal(*tt.expires) {
				t.Errorf("new entry expires %v, want %v", e.Expires, tt.expires)
			}
			set := tl.keys(t)
			if !accepts(set, key, now) {
				t.Error("the function rejects the new key")
			}
			if tt.prev == "" {
				if accepts(set, tt.oldKey, now) || doc.Format == apikey.FormatKeySet && len(doc.Keys) != 2 {
					t.Errorf("without grace the old key still works (entries %v)", doc.Names())
				}
				if !strings.Contains(r.stderr, "stops working at the next refresh") {
					t.Errorf("stderr does not say the old key stops: %s", r.stderr)
				}
				return
			}
			p, ok := doc.Keys[tt.prev]
			if !ok || p.Digest() != apikey.Digest(tt.oldKey) || p.Expires == nil || !p.Expires.Equal(tt.prevExpires) {
				t.Fatalf("%s: present %v, holds the old key %v, expires %v, want %v", tt.prev, ok, p.Digest() == apikey.Digest(tt.oldKey), p.Expires, tt.prevExpires)
			}
			// Only its hash: a rotation's Regenerate leaves it as it is.
			if !p.HashOnly() {
				t.Errorf("%s stores the old key itself, want only its SHA-256", tt.prev)
			}
			if !strings.Contains(r.stderr, tt.prev) || !strings.Contains(r.stderr, stamp(tt.prevExpires)) {
				t.Errorf("stderr does not say where the old key lives and until when: %s", r.stderr)
			}
			// The old key works until the grace ends, then not.
			if !accepts(set, tt.oldKey, tt.prevExpires.Add(-time.Second)) || accepts(set, tt.oldKey, tt.prevExpires) {
				t.Error("the old key's grace is not what the entry says")
			}
		})
	}
}

// A second rotation within the grace period keeps the first one's old key
// for the rest of its grace (as NAME.previous) and the second one's as
// NAME.previous.2: every caller keeps exactly the grace it was given.
func TestKeysRotateTwice(t *testing.T) {
	tl := newTool(t, `{"api_keys":{"alice":"`+keyA+`","bob":"`+keyB+`"}}`)
	first := tl.run(t, "keys", "rotate", "bob")
	wantCode(t, first, keyadmin.ExitOK)
	second := tl.run(t, "keys", "rotate", "bob", "--grace", "1h")
	wantCode(t, second, keyadmin.ExitOK, `as "bob.previous.2" until `+stamp(now.Add(time.Hour)))
	k1, k2 := strings.TrimSpace(first.stdout), strings.TrimSpace(second.stdout)
	if k1 == k2 {
		t.Fatal("the two rotations printed the same key")
	}
	set := tl.keys(t)
	if !accepts(set, keyB, now.Add(24*time.Hour-time.Second)) || accepts(set, keyB, now.Add(24*time.Hour)) ||
		!accepts(set, k1, now) || !accepts(set, k2, now) || accepts(set, k1, now.Add(time.Hour)) {
		t.Error("after two rotations: want the newest key, the one before it for an hour, and the original for the rest of its 24h")
	}
	checkQuiet(t, second, k2, tl.value(t))
}

func TestKeysRotateRefused(t *testing.T) {
	long := strings.Repeat("n", 60)
	tests := []struct {
		name, secret string
		args         []string
		stderrHas    []string
	}{
		{"no such entry", `{"api_keys":{"alice":"` + keyA + `"}}`, []string{"bob"}, []string{`has no entry "bob"`}},
		{"single key with grace, no --convert", keyA, []string{"default"}, []string{"--convert", "--grace 0", "rotate-secret"}},
		{"name too long for .previous", `{"api_keys":{"` + long + `":"` + keyA + `"}}`, []string{long}, []string{".previous", "--grace 0"}},
		{"expired entry", `{"api_keys":{"alice":"` + keyA + `","bob":{"key":"` + keyB + `","expires":"2001-01-01T00:00:00Z"}}}`, []string{"bob"}, []string{"expired", "--ttl"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tl := newTool(t, tt.secret)
			r := tl.run(t, append([]string{"keys", "rotate"}, tt.args...)...)
			wantCode(t, r, keyadmin.ExitError, tt.stderrHas...)
			if r.stdout != "" || tl.value(t) != tt.secret || tl.sm.Calls("PutSecretValue") != 0 {
				t.Errorf("a refused rotate printed %q or wrote the secret", r.stdout)
			}
			checkQuiet(t, r, "", tt.secret)
		})
	}
}

// Changes wait for a rotation in progress (--force overrides), and keep a
// rotation's grace period running for the function's KEY_GRACE, read from
// its configuration.
func TestKeysGuards(t *testing.T) {
	secret := `{"api_keys":{"alice":"` + keyA + `"}}`
	rotated := `{"api_keys":{"alice":"` + keyB + `"}}`
	rotation := func(age time.Duration, vars map[string]string) func(t *testing.T, tl *tool) {
		return func(t *testing.T, tl *tool) {
			id := tl.sm.Put(secretID, rotated)
			tl.sm.SetCreated(secretID, id, now.Add(-age))
			tl.withFunction(t, vars)
		}
	}
	tests := []struct {
		name      string
		setup     func(t *testing.T, tl *tool)
		args      []string
		code      int
		stderrHas []string
	}{
		{"rotation in progress", func(t *testing.T, tl *tool) { tl.sm.StartRotation(t, secretID) },
			nil, keyadmin.ExitError, []string{"AWSPENDING", "update-secret-version-stage", "--force"}},
		{"rotation in progress, forced", func(t *testing.T, tl *tool) { tl.sm.StartRotation(t, secretID) },
			[]string{"--force"}, keyadmin.ExitOK, nil},
		{"rotation grace running: old key kept", rotation(time.Hour, map[string]string{"API_KEY_SECRET_ID": secretID}),
			nil, keyadmin.ExitOK, []string{`until ` + stamp(now.Add(23*time.Hour)) + `, as "alice.previous"`}},
		{"rotation grace over", rotation(25*time.Hour, map[string]string{"API_KEY_SECRET_ID": secretID}),
			nil, keyadmin.ExitOK, nil},
		{"rotation grace over by the function's KEY_GRACE", rotation(2*time.Hour, map[string]string{"API_KEY_SECRET_ID": secretID, "KEY_GRACE": "1h"}),
			nil, keyadmin.ExitOK, nil},
		{"rotation grace running by the function's KEY_GRACE", rotation(2*time.Hour, map[string]string{"API_KEY_SECRET_ID": secretID, "KEY_GRACE": "3h"}),
			nil, keyadmin.ExitOK, []string{`until ` + stamp(now.Add(time.Hour)) + `, as "alice.previous"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tl := newTool(t, secret)
			tt.setup(t, tl)
			before, _ := tl.sm.Value(secretID, "AWSCURRENT")
			r := tl.run(t, append([]string{"keys", "add", "bob"}, tt.args...)...)
			wantCode(t, r, tt.code, tt.stderrHas...)
			after, _ := tl.sm.Value(secretID, "AWSCURRENT")
			if written := after != before; written != (tt.code == keyadmin.ExitOK) {
				t.Errorf("written %v, want %v", written, tt.code == keyadmin.ExitOK)
			}
			if carried := strings.Contains(r.stderr, "grace period is running"); carried != (len(tt.stderrHas) > 0 && tt.code == keyadmin.ExitOK) {
				t.Errorf("carry reported %v:\n%s", carried, r.stderr)
			}
		})
	}
}

// racingClient lets another writer in between the tool's read and its
// write, the window the re-read closes.
type racingClient struct {
	smapi.Client
	reads int
	race  func()
}

func (c *racingClient) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	c.reads++
	if c.reads == 2 {
		c.race()
	}
	return c.Client.GetSecretValue(ctx, in, optFns...)
}

func TestKeysConcurrentChange(t *testing.T) {
	tl := newTool(t, `{"api_keys":{"alice":"`+keyA+`"}}`)
	other := `{"api_keys":{"alice":"` + keyA + `","carol":"` + keyC + `"}}`
	tl.client = func(c smapi.Client) smapi.Client {
		return &racingClient{Client: c, race: func() {
			id := tl.sm.Put(secretID, other)
			tl.sm.SetCreated(secretID, id, now.Add(-48*time.Hour)) // no grace check in the way
		}}
	}
	r := tl.run(t, "keys", "add", "bob")
	wantCode(t, r, keyadmin.ExitError, "changed while this command ran", "run the command again")
	if r.stdout != "" || tl.value(t) != other || tl.sm.Calls("PutSecretValue") != 0 {
		t.Error("the tool overwrote a concurrent change")
	}
}

func TestKeysServiceErrors(t *testing.T) {
	secret := `{"api_keys":{"alice":"` + keyA + `"}}`
	tests := []struct {
		name      string
		setup     func(tl *tool)
		args      []string
		code      int
		stdoutKey bool // the new key was written, so it is printed
		stderrHas []string
	}{
		{"missing secret", func(tl *tool) { tl.env["API_KEY_SECRET_ID"] = "keygate/missing" }, []string{"list"}, keyadmin.ExitError, false,
			[]string{`secret "keygate/missing" was not found in us-east-1`, "--secret-id", "--region"}},
		{"no permission to read", func(tl *tool) { tl.sm.Deny(secretID, true) }, []string{"list"}, keyadmin.ExitError, false,
			[]string{"secretsmanager:GetSecretValue on secret", "denied", "PutSecretValue"}},
		{"no permission to write", func(tl *tool) { tl.sm.Fail("PutSecretValue", smfake.AccessDeniedFault) }, []string{"add", "bob"}, keyadmin.ExitError, false,
			[]string{"secretsmanager:PutSecretValue on secret", "denied"}},
		{"label clean-up fails after the write", func(tl *tool) { tl.sm.Fail("UpdateSecretVersionStage", smfake.ThrottlingFault) }, []string{"add", "bob"}, keyadmin.ExitError, true,
			[]string{"could not remove AWSPREVIOUS", "aws secretsmanager update-secret-version-stage", "only this once"}},
		{"invalid secret", func(tl *tool) { tl.sm.Put(secretID, "not a key") }, []string{"list"}, keyadmin.ExitError, false,
			[]string{"not a valid key set", "put-secret-value"}},
		{"service unreachable", func(tl *tool) { tl.sm.Fail(smfake.AnyOperation, smfake.ConnectionResetFault) }, []string{"list"}, keyadmin.ExitError, false,
			[]string{"secretsmanager:GetSecretValue", "failed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tl := newTool(t, secret)
			tt.setup(tl)
			r := tl.run(t, append([]string{"keys"}, tt.args...)...)
			wantCode(t, r, tt.code, tt.stderrHas...)
			if got := len(strings.TrimSpace(r.stdout)) == apikey.GeneratedLength; got != tt.stdoutKey {
				t.Errorf("stdout %q: key printed %v, want %v", r.stdout, got, tt.stdoutKey)
			}
			checkQuiet(t, r, strings.TrimSpace(r.stdout), secret, "not a key")
		})
	}
}

func TestUsage(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		env       map[string]string
		code      int
		stdoutHas string
		stderrHas string
	}{
		{"no arguments", nil, nil, keyadmin.ExitUsage, "", "Usage:"},
		{"help", []string{"help"}, nil, keyadmin.ExitOK, "Usage:", ""},
		{"--help", []string{"--help"}, nil, keyadmin.ExitOK, "Exit status", ""},
		{"keys help", []string{"keys", "help"}, nil, keyadmin.ExitOK, "keys rotate", ""},
		{"subcommand -h", []string{"keys", "add", "-h"}, nil, keyadmin.ExitOK, "--store-key", ""},
		{"set -h", []string{"keys", "set", "-h"}, nil, keyadmin.ExitOK, "--allow-none", ""},
		{"set without name", []string{"keys", "set", "--allow-any"}, nil, keyadmin.ExitUsage, "", "keys set needs a client NAME"},
		{"set without a change", []string{"keys", "set", "bob"}, nil, keyadmin.ExitUsage, "", "keys set needs a change"},
		{"unknown command", []string{"frob"}, nil, keyadmin.ExitUsage, "", `unknown command "frob"`},
		{"keys alone", []string{"keys"}, nil, keyadmin.ExitUsage, "", "list, usage, add, set, revoke or rotate"},
		{"unknown subcommand", []string{"keys", "frob"}, nil, keyadmin.ExitUsage, "", `unknown subcommand "frob"`},
		{"add without name", []string{"keys", "add"}, nil, keyadmin.ExitUsage, "", "needs a client NAME"},
		{"two names", []string{"keys", "revoke", "a", "b"}, nil, keyadmin.ExitUsage, "", `unexpected argument "b"`},
		{"bad name", []string{"keys", "add", "bad name"}, nil, keyadmin.ExitUsage, "", "invalid client name"},
		{"unknown flag", []string{"keys", "add", "bob", "--frob"}, nil, keyadmin.ExitUsage, "", "frob"},
		{"flag of another subcommand", []string{"keys", "revoke", "bob", "--grace", "1h"}, nil, keyadmin.ExitUsage, "", "grace"},
		{"bad ttl", []string{"keys", "add", "bob", "--ttl", "soon"}, nil, keyadmin.ExitUsage, "", "--ttl"},
		{"bad expires", []string{"keys", "add", "bob", "--expires", "tomorrow"}, nil, keyadmin.ExitUsage, "", "RFC 3339"},
		{"past expires", []string{"keys", "add", "bob", "--expires", "2001-01-01T00:00:00Z"}, nil, keyadmin.ExitUsage, "", "not in the future"},
		{"expires and ttl", []string{"keys", "add", "bob", "--expires", "2099-01-01T00:00:00Z", "--ttl", "1h"}, nil, keyadmin.ExitUsage, "", "not both"},
		{"negative grace", []string{"keys", "rotate", "bob", "--grace", "-1h"}, nil, keyadmin.ExitUsage, "", "--grace"},
		{"--key-grace is gone", []string{"keys", "add", "bob", "--key-grace", "1h"}, nil, keyadmin.ExitUsage, "", "--key-grace is gone"},
		{"--key-grace= is gone", []string{"keys", "rotate", "bob", "-key-grace=1h"}, nil, keyadmin.ExitUsage, "", "Pass --function NAME or set KEYGATE_FUNCTION"},
		{"list takes no --force", []string{"keys", "list", "--force"}, nil, keyadmin.ExitUsage, "", "force"},
		{"list takes no --key-grace", []string{"keys", "list", "--key-grace", "1h"}, nil, keyadmin.ExitUsage, "", "key-grace"},
		{"no secret", []string{"keys", "list"}, map[string]string{}, keyadmin.ExitUsage, "", "--secret-id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := tt.env
			if env == nil {
				env = map[string]string{"API_KEY_SECRET_ID": secretID}
			}
			var stdout, stderr strings.Builder
			code := keyadmin.Run(context.Background(), tt.args, keyadmin.Env{
				Stdout: &stdout, Stderr: &stderr,
				Getenv: func(k string) string { return env[k] },
				NewClient: func(context.Context, string) (smapi.Client, string, error) {
					t.Error("a usage error reached Secrets Manager")
					return nil, "", context.Canceled
				},
			})
			if code != tt.code || !strings.Contains(stdout.String(), tt.stdoutHas) || !strings.Contains(stderr.String(), tt.stderrHas) {
				t.Errorf("exit %d (want %d)\nstdout: %s\nstderr: %s", code, tt.code, stdout.String(), stderr.String())
			}
		})
	}
}

// The --secret-id flag wins over API_KEY_SECRET_ID, before or after NAME.
func TestSecretIDFlag(t *testing.T) {
	tl := newTool(t, "")
	tl.sm.Put("other", `{"api_keys":{"alice":"`+keyA+`"}}`)
	tl.env["API_KEY_SECRET_ID"] = "keygate/missing"
	r := tl.run(t, "keys", "add", "--secret-id", "other", "bob", "--store-key")
	wantCode(t, r, keyadmin.ExitOK, "other")
	if v, _ := tl.sm.Value("other", "AWSCURRENT"); !strings.Contains(v, `"bob"`) {
		t.Error("bob was not added to the secret the flag names")
	}
}

// The SDK's default configuration (smclient, as cmd/keygate wires it),
// pointed at the fake through the standard endpoint variable.
func TestDefaultChainClient(t *testing.T) {
	tl := newTool(t, `{"api_keys":{"alice":"`+keyA+`"}}`)
	empty := t.TempDir() + "/empty"
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, kv := range append(tl.sm.Env(), "AWS_CONFIG_FILE="+empty, "AWS_SHARED_CREDENTIALS_FILE="+empty, "AWS_PROFILE=", "AWS_DEFAULT_REGION=", "AWS_EC2_METADATA_DISABLED=true") {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	run := func(args ...string) result {
		var stdout, stderr strings.Builder
		code := keyadmin.Run(context.Background(), args, keyadmin.Env{
			Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" },
			NewClient: func(ctx context.Context, region string) (smapi.Client, string, error) {
				return smclient.New(ctx, region, nil)
			},
		})
		return result{code, stdout.String(), stderr.String()}
	}
	r := run("keys", "list", "--secret-id", secretID)
	wantCode(t, r, keyadmin.ExitOK)
	if !strings.Contains(r.stdout, "alice") {
		t.Errorf("list: %s", r.stdout)
	}
	r = run("keys", "list", "--secret-id", secretID, "--region", "eu-west-1")
	wantCode(t, r, keyadmin.ExitOK) // the fake answers any region
	t.Setenv("AWS_REGION", "")
	r = run("keys", "list", "--secret-id", secretID)
	wantCode(t, r, keyadmin.ExitError, "no AWS region", "--region")
}

func ptr[T any](v T) *T { return &v }

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// Hand-written keys shorter than apikey.MinKeyLength are flagged by list,
// by name only; hash-only entries cannot be measured and are not.
func TestKeysListShortKeys(t *testing.T) {
	const shortA, shortB = "hunter2", "abcdefghijklmno" // 7 and 15 characters
	for _, tt := range []struct {
		name, secret string
		short        []string
	}{
		{"plain", shortA, []string{"default"}},
		{"api_key", `{"api_key":"` + shortB + `"}`, []string{"default"}},
		{"api_keys", `{"api_keys":{"bob":"` + shortA + `","alice":"` + keyA + `","carol":{"sha256":"` + hashC + `"},"dave":{"key":"` + shortB + `"}}}`, []string{"bob", "dave"}},
		{"none", `{"api_keys":{"alice":"` + keyA + `","bob":"` + keyA[:16] + `"}}`, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tl := newTool(t, tt.secret)
			r := tl.run(t, "keys", "list")
			wantCode(t, r, keyadmin.ExitOK)
			if warned := strings.Contains(r.stderr, "shorter than 16 characters"); warned != (tt.short != nil) {
				t.Fatalf("warned %v, want %v:\n%s", warned, tt.short != nil, r.stderr)
			}
			for _, n := range tt.short {
				if !strings.Contains(r.stderr, `"`+n+`"`) {
					t.Errorf("the warning does not name %q:\n%s", n, r.stderr)
				}
			}
			checkQuiet(t, r, "", tt.secret)

			r = tl.run(t, "keys", "list", "--json")
			var l keyadmin.Listing
			if err := json.Unmarshal([]byte(r.stdout), &l); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range l.Entries {
				if e.Short {
					got = append(got, e.Name)
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.short, ",") {
				t.Errorf("--json marks %v short, want %v", got, tt.short)
			}
		})
	}
}
