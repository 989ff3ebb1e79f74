package keyadmin_test

import (
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/internal/apikey"
	"github.com/keygate/keygate/internal/config"
	"github.com/keygate/keygate/internal/keyadmin"
)

// The secret of these tests before and after a rotation (a
// put-secret-value, or the rotation function) gave client a a new key.
const (
	beforeRotation = `{"api_keys":{"a":"` + keyA + `","b":"` + keyB + `"}}`
	afterRotation  = `{"api_keys":{"a":"` + keyC + `","b":"` + keyB + `"}}`
)

// rotatedAgo is a tool whose secret was rotated age ago: AWSPREVIOUS holds
// a's old key (keyA), which the function accepts until its KEY_GRACE after
// the new version's creation, returned.
func rotatedAgo(t *testing.T, age time.Duration) (*tool, time.Time) {
	t.Helper()
	tl := newTool(t, beforeRotation)
	id := tl.sm.Put(secretID, afterRotation)
	created := now.Add(-age)
	tl.sm.SetCreated(secretID, id, created)
	return tl, created
}

// holds reports whether doc holds key under any name.
func holds(doc apikey.Document, key string) bool {
	for _, n := range doc.Names() {
		if e, _ := doc.Entry(n); e.Digest() == apikey.Digest(key) {
			return true
		}
	}
	return false
}

// The replay of the bug: the function's KEY_GRACE is 3s, and once it has
// passed the function refuses a's old key. A change made then from a shell
// without KEY_GRACE must not bring that key back (it used to, as
// a.previous, for a grace of the CLI's own: 24h).
func TestChangeAfterTheFunctionsGraceKeepsTheOldKeyDead(t *testing.T) {
	tl, _ := rotatedAgo(t, 10*time.Second)
	f := tl.withFunction(t, map[string]string{"API_KEY_SECRET_ID": secretID, "KEY_GRACE": "3s"})
	if _, set := tl.env["KEY_GRACE"]; set {
		t.Fatal("the operator's shell must not set KEY_GRACE here")
	}
	r := tl.run(t, "keys", "add", "c")
	wantCode(t, r, keyadmin.ExitOK, `added "c"`)
	doc := tl.current(t)
	if _, ok := doc.Keys["a.previous"]; ok || holds(doc, keyA) {
		t.Errorf("the new version holds a's old key (entries %v): a key the function had cut off works again", doc.Names())
	}
	if strings.Contains(r.stderr, "grace period is running") {
		t.Errorf("the change says it carried old keys:\n%s", r.stderr)
	}
	if accepts(tl.keys(t), keyA, now) {
		t.Error("the function accepts a's old key after the change")
	}
	if f.requests() == 0 {
		t.Error("the function's configuration was not read")
	}
	checkQuiet(t, r, strings.TrimSpace(r.stdout), beforeRotation, afterRotation)
}

// The old keys are carried for exactly the function's grace, whatever the
// operator's shell holds: KEY_GRACE from the function's configuration,
// parsed as the function parses it (unset: its default).
func TestCarriedForTheFunctionsGrace(t *testing.T) {
	tests := []struct {
		name  string
		age   time.Duration     // since the rotation
		vars  map[string]string // the function's environment
		shell map[string]string // the operator's
		grace time.Duration     // the old key's, from the rotation; 0: not carried
	}{
		{"the function's grace is longer than the shell's", 2 * time.Hour,
			map[string]string{"API_KEY_SECRET_ID": secretID, "KEY_GRACE": "48h"}, map[string]string{"KEY_GRACE": "1h"}, 48 * time.Hour},
		{"the function's grace is shorter than the shell's", 10 * time.Second,
			map[string]string{"API_KEY_SECRET_ID": secretID, "KEY_GRACE": "3s"}, map[string]string{"KEY_GRACE": "48h"}, 0},
		{"unset: the function's default", 2 * time.Hour,
			map[string]string{"API_KEY_SECRET_ID": secretID}, map[string]string{"KEY_GRACE": "1h"}, config.DefaultGrace},
		{"written as the function reads it", 2 * time.Hour,
			map[string]string{"API_KEY_SECRET_ID": " " + secretID + " ", "KEY_GRACE": " 2h30m "}, nil, 150 * time.Minute},
		{"the secret named by its ARN", 2 * time.Hour,
			map[string]string{"KEY_GRACE": "3h"}, nil, 3 * time.Hour},
		{"zero: no grace", time.Second,
			map[string]string{"API_KEY_SECRET_ID": secretID, "KEY_GRACE": "0s"}, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tl, created := rotatedAgo(t, tt.age)
			if _, ok := tt.vars["API_KEY_SECRET_ID"]; !ok {
				tt.vars["API_KEY_SECRET_ID"] = tl.sm.ARN(secretID)
			}
			tl.withFunction(t, tt.vars)
			for k, v := range tt.shell {
				tl.env[k] = v
			}
			r := tl.run(t, "keys", "add", "c")
			wantCode(t, r, keyadmin.ExitOK)
			doc := tl.current(t)
			e, carried := doc.Entry("a.previous")
			if tt.grace == 0 {
				if carried || holds(doc, keyA) {
					t.Errorf("a's old key was carried (entries %v), past the function's grace", doc.Names())
				}
				return
			}
			until := created.Add(tt.grace)
			if !carried || e.Digest() != apikey.Digest(keyA) || !e.HashOnly() || e.Expires == nil || !e.Expires.Equal(until) {
				t.Fatalf("a.previous = %+v (present %v), want a's old key, hash only, expiring %s", e, carried, stamp(until))
			}
			wantCode(t, r, keyadmin.ExitOK, `until `+stamp(until)+`, as "a.previous"`)
			set := tl.keys(t)
			if !accepts(set, keyA, until.Add(-time.Second)) || accepts(set, keyA, until) {
				t.Error("the function does not take a's old key exactly until the end of its own grace")
			}
			checkQuiet(t, r, strings.TrimSpace(r.stdout), beforeRotation, afterRotation)
		})
	}
}

// A change that must carry old keys and cannot learn the function's
// KEY_GRACE writes nothing and says why and what to do; --force writes and
// cuts those keys off, and says so.
func TestGraceUnknownRefused(t *testing.T) {
	tests := []struct {
		name      string
		vars      map[string]string // the function's; nil: no function given
		args      []string
		stderrHas []string
	}{
		{"no function given", nil, nil,
			[]string{`"a"`, "KEY_GRACE", "--function NAME", "KEYGATE_FUNCTION", "FunctionName", "--force", "Nothing was written"}},
		{"the function reads another secret", map[string]string{"API_KEY_SECRET_ID": "some/other-secret"}, nil,
			[]string{"does not read this secret", "--function", "--force"}},
		{"the function takes its key from API_KEY", map[string]string{"API_KEY": keyD}, nil,
			[]string{"does not read this secret", "API_KEY", "KEY_GRACE says nothing about this secret's keys", "--function"}},
		{"the function's KEY_GRACE does not parse", map[string]string{"API_KEY_SECRET_ID": secretID, "KEY_GRACE": "1d"}, nil,
			[]string{`function "keygate-fn" rejects its own configuration`, `KEY_GRACE="1d"`, "KeyGrace", "--force"}},
		{"the function's LOG_LEVEL does not parse", map[string]string{"API_KEY_SECRET_ID": secretID, "LOG_LEVEL": "loud"}, nil,
			[]string{"rejects its own configuration", `LOG_LEVEL="loud"`}},
		{"a key pasted into KEY_GRACE", map[string]string{"API_KEY_SECRET_ID": secretID, "KEY_GRACE": keyD}, nil,
			[]string{"KEY_GRACE=(a value of 40 characters, not shown"}},
		{"no such function", map[string]string{"API_KEY_SECRET_ID": secretID}, []string{"--function", "other-fn"},
			[]string{`function "other-fn"`, "lambda:GetFunctionConfiguration", "--force"}},
	}
	for _, tt := range tests {
		for _, cmd := range [][]string{{"add", "c"}, {"revoke", "b"}, {"rotate", "b"}} {
			t.Run(tt.name+"/"+cmd[0], func(t *testing.T) {
				tl, _ := rotatedAgo(t, time.Hour)
				var f *lambdaFake
				if tt.vars != nil {
					f = tl.withFunction(t, tt.vars)
				}
				before := tl.value(t)
				r := tl.run(t, append(append([]string{"keys"}, cmd...), tt.args...)...)
				wantCode(t, r, keyadmin.ExitError, tt.stderrHas...)
				if r.stdout != "" || tl.value(t) != before || tl.sm.Calls("PutSecretValue") != 0 {
					t.Errorf("a refused change printed %q or wrote the secret", r.stdout)
				}
				if f != nil && f.updates != 0 {
					t.Error("the function's configuration was changed")
				}
				checkQuiet(t, r, "", beforeRotation, afterRotation, keyD)
			})
		}
	}

	t.Run("forced", func(t *testing.T) {
		tl, _ := rotatedAgo(t, time.Hour)
		r := tl.run(t, "keys", "add", "c", "--force")
		wantCode(t, r, keyadmin.ExitOK, `--force: the old keys of "a"`, "stop working")
		doc := tl.current(t)
		if holds(doc, keyA) || !holds(doc, keyC) || !holds(doc, keyB) {
			t.Errorf("--force should cut a's old key off and keep the rest: %v", doc.Names())
		}
		checkQuiet(t, r, strings.TrimSpace(r.stdout), beforeRotation, afterRotation)
	})
}

// A change with no old key to carry needs no function, and makes no
// Lambda call even when one is named (--function, which add, revoke and
// rotate all take).
func TestNothingToCarryNeedsNoFunction(t *testing.T) {
	past := stamp(now.Add(-time.Minute))
	tests := []struct {
		name  string
		setup func(t *testing.T, tl *tool)
		args  []string
	}{
		{"never rotated", func(t *testing.T, tl *tool) {}, []string{"add", "c"}},
		{"the rotation only added a client", func(t *testing.T, tl *tool) {
			tl.sm.Put(secretID, `{"api_keys":{"a":"`+keyA+`","b":"`+keyB+`","d":"`+keyD+`"}}`)
		}, []string{"add", "c"}},
		{"the old keys expired on their own", func(t *testing.T, tl *tool) {
			tl.sm.Put(secretID, `{"api_keys":{"a":{"key":"`+keyA+`","expires":"`+past+`"},"b":"`+keyB+`"}}`)
			tl.sm.Put(secretID, afterRotation)
		}, []string{"rotate", "b"}},
		{"the revoke removes the only client with an old key", func(t *testing.T, tl *tool) {
			tl.sm.Put(secretID, afterRotation)
		}, []string{"revoke", "a"}},
	}
	for _, tt := range tests {
		for _, named := range []bool{false, true} {
			name := tt.name + "/no function"
			if named {
				name = tt.name + "/function named"
			}
			t.Run(name, func(t *testing.T) {
				tl := newTool(t, beforeRotation)
				tt.setup(t, tl)
				args := append([]string{"keys"}, tt.args...)
				var f *lambdaFake
				if named {
					f = tl.withLambda(t, map[string]string{"API_KEY_SECRET_ID": secretID})
					args = append(args, "--function", fnName)
				}
				before := tl.sm.Stages(secretID)
				r := tl.run(t, args...)
				wantCode(t, r, keyadmin.ExitOK)
				tl.checkWritten(t, before)
				if f != nil && f.requests() != 0 {
					t.Errorf("%d Lambda calls, want none", f.requests())
				}
				if holds(tl.current(t), keyA) && tt.args[0] == "revoke" {
					t.Error("the revoked client's old key is still in the secret")
				}
			})
		}
	}
}

// A change that fails whatever old keys are carried fails with its own
// message, without asking for the function's KEY_GRACE.
func TestFailingChangeNeedsNoFunction(t *testing.T) {
	for _, tc := range []struct {
		args      []string
		stderrHas string
	}{
		{[]string{"revoke", "zed"}, `has no entry "zed"`},
		{[]string{"add", "b"}, `already has an entry "b"`},
		{[]string{"rotate", "zed"}, `has no entry "zed"`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			tl, _ := rotatedAgo(t, time.Hour)
			f := tl.withLambda(t, map[string]string{"API_KEY_SECRET_ID": secretID})
			r := tl.run(t, append(append([]string{"keys"}, tc.args...), "--function", fnName)...)
			wantCode(t, r, keyadmin.ExitError, tc.stderrHas)
			if strings.Contains(r.stderr, "KEY_GRACE") || f.requests() != 0 {
				t.Errorf("%d Lambda calls; stderr:\n%s", f.requests(), r.stderr)
			}
		})
	}
}
