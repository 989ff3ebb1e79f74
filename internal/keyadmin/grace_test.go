package keyadmin_test

import (
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/internal/config"
	"github.com/keygate/keygate/internal/keyadmin"
)

// More keys for the rotation scenarios.
const (
	keyD = "kgAdminTestKeyDelta000000000000000000004"
	keyE = "kgAdminTestKeyEcho0000000000000000000005"
)

// rotateTo stands for a rotation (the rotation function, or
// put-secret-value) that wrote value an hour ago, with the function that
// reads the secret named (KEYGATE_FUNCTION) and no KEY_GRACE in its
// configuration: its grace, the function's default (24h), runs for 23 more
// hours. It returns when that grace ends.
func rotateTo(t *testing.T, tl *tool, value string) time.Time {
	t.Helper()
	id := tl.sm.Put(secretID, value)
	created := now.Add(-time.Hour)
	tl.sm.SetCreated(secretID, id, created)
	tl.withFunction(t, map[string]string{"API_KEY_SECRET_ID": secretID})
	return created.Add(config.DefaultGrace)
}

// An emergency revoke inside a rotation's grace period removes the client's
// old and new keys at once, and every other client keeps its old key for
// exactly the grace it had.
func TestRevokeInRotationGrace(t *testing.T) {
	v1 := `{"api_keys":{"alice":"` + keyA + `","bob":"` + keyB + `"}}`
	v2 := `{"api_keys":{"alice":"` + keyC + `","bob":"` + keyD + `"}}`
	tl := newTool(t, v1)
	graceEnd := rotateTo(t, tl, v2)
	for _, k := range []string{keyA, keyB, keyC, keyD} {
		if !accepts(tl.keys(t), k, now) {
			t.Fatal("before the revoke the function should take all four keys")
		}
	}
	before := tl.sm.Stages(secretID)

	r := tl.run(t, "keys", "revoke", "bob")
	wantCode(t, r, keyadmin.ExitOK, `revoked "bob" and "bob.previous"`, `until `+stamp(graceEnd)+`, as "alice.previous"`)
	tl.checkWritten(t, before)
	checkQuiet(t, r, "", v1, v2)

	set := tl.keys(t)
	for _, tc := range []struct {
		key  string
		at   time.Time
		want bool
	}{
		{keyC, now, true},                        // alice's new key
		{keyA, now, true},                        // alice's old key, in grace
		{keyA, graceEnd.Add(-time.Second), true}, // to the end of it
		{keyA, graceEnd, false},                  // and not past it
		{keyB, now, false},                       // bob's old key: revoked
		{keyD, now, false},                       // bob's new key: revoked
	} {
		if got := accepts(set, tc.key, tc.at); got != tc.want {
			t.Errorf("key %s… at %s: accepted %v, want %v", tc.key[:18], stamp(tc.at), got, tc.want)
		}
	}
}

// Old keys a CLI rotation kept (NAME.previous) and old keys of a later
// rotation can both be in grace: the carried ones take the next free
// NAME.previous.N, never past their own expiry, and revoke removes them all.
func TestCarriedNamesAndExpiries(t *testing.T) {
	bExp := now.Add(2 * time.Hour)
	v1 := `{"api_keys":{"alice":"` + keyA + `","alice.previous":{"key":"` + keyB + `","expires":"` + stamp(bExp) + `"},"carol":"` + keyE + `"}}`
	v2 := `{"api_keys":{"alice":"` + keyC + `","alice.previous":{"key":"` + keyD + `","expires":"` + stamp(bExp) + `"},"carol":"` + keyE + `"}}`
	tl := newTool(t, v1)
	graceEnd := rotateTo(t, tl, v2)

	r := tl.run(t, "keys", "add", "dave")
	wantCode(t, r, keyadmin.ExitOK, `as "alice.previous.2" and "alice.previous.3"`)
	doc := tl.current(t)
	if got := strings.Join(doc.Names(), " "); got != "alice alice.previous alice.previous.2 alice.previous.3 carol dave" {
		t.Fatalf("entries %q", got)
	}
	for name, want := range map[string]time.Time{"alice.previous.2": graceEnd, "alice.previous.3": bExp} {
		e, _ := doc.Entry(name)
		if !e.HashOnly() || e.Expires == nil || !e.Expires.Equal(want) {
			t.Errorf("%s = %+v, want a hash-only entry expiring %s", name, e, stamp(want))
		}
	}
	set := tl.keys(t)
	if !accepts(set, keyA, graceEnd.Add(-time.Second)) || accepts(set, keyA, graceEnd) ||
		!accepts(set, keyB, bExp.Add(-time.Second)) || accepts(set, keyB, bExp) || !accepts(set, keyE, now) {
		t.Error("carried keys do not keep the grace they had")
	}

	r = tl.run(t, "keys", "revoke", "alice")
	wantCode(t, r, keyadmin.ExitOK, `"alice" and "alice.previous" and "alice.previous.2" and "alice.previous.3"`)
	set = tl.keys(t)
	for _, k := range []string{keyA, keyB, keyC, keyD} {
		if accepts(set, k, now) {
			t.Errorf("key %s… of the revoked client still works", k[:18])
		}
	}
	if got := strings.Join(tl.current(t).Names(), " "); got != "carol dave" {
		t.Errorf("entries after the revoke %q, want carol dave", got)
	}
}

// A single-key secret has no room for the old key: a change that keeps the
// format is refused (--force cuts the old key off); one that converts the
// secret keeps the old key as default.previous.
func TestSingleKeyInRotationGrace(t *testing.T) {
	t.Run("refused", func(t *testing.T) {
		tl := newTool(t, keyA)
		rotateTo(t, tl, keyC)
		r := tl.run(t, "keys", "rotate", "default", "--grace", "0")
		wantCode(t, r, keyadmin.ExitError, `"default"`, "single key", "--convert", "--force")
		if v := tl.value(t); v != keyC {
			t.Error("a refused change wrote the secret")
		}
		checkQuiet(t, r, "", keyA, keyC)
	})
	t.Run("forced", func(t *testing.T) {
		tl := newTool(t, keyA)
		rotateTo(t, tl, keyC)
		r := tl.run(t, "keys", "rotate", "default", "--grace", "0", "--force")
		wantCode(t, r, keyadmin.ExitOK)
		if set := tl.keys(t); accepts(set, keyA, now) || accepts(set, keyC, now) {
			t.Error("--force should leave only the new key")
		}
	})
	t.Run("converted", func(t *testing.T) {
		tl := newTool(t, keyA)
		graceEnd := rotateTo(t, tl, keyC)
		r := tl.run(t, "keys", "add", "bob", "--convert")
		wantCode(t, r, keyadmin.ExitOK, `as "default.previous"`)
		set := tl.keys(t)
		if !accepts(set, keyC, now) || !accepts(set, keyA, graceEnd.Add(-time.Second)) || accepts(set, keyA, graceEnd) {
			t.Error("the converted secret does not keep the old key for its grace")
		}
	})
}

// A client a put-secret-value dropped keeps its old key for the grace
// period; `keys revoke` still finds it there and cuts it off.
func TestRevokeDroppedClientInGrace(t *testing.T) {
	v1 := `{"api_keys":{"alice":"` + keyA + `","bob":"` + keyB + `"}}`
	v2 := `{"api_keys":{"alice":"` + keyC + `"}}`
	tl := newTool(t, v1)
	rotateTo(t, tl, v2)
	if !accepts(tl.keys(t), keyB, now) {
		t.Fatal("before the revoke bob's old key should work in its grace")
	}
	r := tl.run(t, "keys", "revoke", "bob")
	wantCode(t, r, keyadmin.ExitOK, `revoked "bob.previous"`)
	set := tl.keys(t)
	if accepts(set, keyB, now) || !accepts(set, keyA, now) || !accepts(set, keyC, now) {
		t.Error("want bob's old key rejected, alice's old and new keys accepted")
	}
	if r := tl.run(t, "keys", "revoke", "carol"); r.code != keyadmin.ExitError || !strings.Contains(r.stderr, `no entry "carol"`) {
		t.Errorf("revoking an unknown client: exit %d, %s", r.code, r.stderr)
	}
}

// A change drops old keys whose grace has ended, and only those: an
// expired client entry stays listed until it is revoked.
func TestChangePrunesExpiredOldKeys(t *testing.T) {
	past, future := stamp(now.Add(-time.Hour)), stamp(now.Add(time.Hour))
	secret := `{"api_keys":{` +
		`"alice":"` + keyA + `",` +
		`"alice.previous":{"sha256":"` + hashC + `","expires":"` + past + `"},` +
		`"bob.previous.2":{"key":"` + keyB + `","expires":"` + past + `"},` +
		`"carol.previous":{"key":"` + keyD + `","expires":"` + future + `"},` +
		`"x.previousness":{"key":"` + keyE + `","expires":"` + past + `"}}}`
	tl := newTool(t, secret)
	r := tl.run(t, "keys", "add", "dave")
	wantCode(t, r, keyadmin.ExitOK, `Dropped "alice.previous" and "bob.previous.2"`)
	checkQuiet(t, r, strings.TrimSpace(r.stdout), secret)
	if got := strings.Join(tl.current(t).Names(), " "); got != "alice carol.previous dave x.previousness" {
		t.Errorf("entries %q, want the expired old keys gone and the rest kept", got)
	}
}

// issue 11, case 6: `keys rotate NAME` inside a rotation's grace period.
// put-secret-value moved svc from K0 to K1, so K0 works for the grace the
// function gives AWSPREVIOUS; rotating svc then must keep both the key it
// rotates away (K1, for --grace) and K0 (for what is left of its grace),
// each under its own name, and say so.
func TestRotateInRotationGraceKeepsBothOldKeys(t *testing.T) {
	const k0, k1 = keyA, keyB
	tl := newTool(t, `{"api_keys":{"svc":"`+k0+`","other":"`+keyE+`"}}`)
	graceEnd := rotateTo(t, tl, `{"api_keys":{"svc":"`+k1+`","other":"`+keyE+`"}}`)

	r := tl.run(t, "keys", "rotate", "svc", "--grace", "2h")
	wantCode(t, r, keyadmin.ExitOK)
	k2 := strings.TrimSpace(r.stdout)
	set := tl.keys(t)
	for _, tc := range []struct {
		what string
		key  string
		at   time.Time
		want bool
	}{
		{"the new key", k2, now, true},
		{"the rotated-away key, in its --grace", k1, now.Add(2*time.Hour - time.Second), true},
		{"the rotated-away key, after its --grace", k1, now.Add(2 * time.Hour), false},
		{"the key of the earlier change, in its grace", k0, now, true},
		{"the key of the earlier change, to the end of its grace", k0, graceEnd.Add(-time.Second), true},
		{"the key of the earlier change, after its grace", k0, graceEnd, false},
		{"another client's key", keyE, now, true},
	} {
		if got := accepts(set, tc.key, tc.at); got != tc.want {
			t.Errorf("%s at %s: accepted %v, want %v", tc.what, stamp(tc.at), got, tc.want)
		}
	}
	// The report names each old key by the entry that holds it.
	doc := tl.current(t)
	for _, name := range []string{"svc.previous", "svc.previous.2"} {
		if !strings.Contains(r.stderr, `"`+name+`"`) {
			t.Errorf("stderr does not name %s:\n%s", name, r.stderr)
		}
		if _, ok := doc.Entry(name); !ok {
			t.Errorf("no entry %s: %v", name, doc.Names())
		}
	}
}

// Two rotations of one client in a row: the first one's old key keeps the
// rest of its grace; it is not replaced by the second one's.
func TestRotateTwiceKeepsEachGrace(t *testing.T) {
	tl := newTool(t, `{"api_keys":{"svc":"`+keyA+`","other":"`+keyE+`"}}`)
	r := tl.run(t, "keys", "rotate", "svc", "--grace", "3h")
	wantCode(t, r, keyadmin.ExitOK)
	k1 := strings.TrimSpace(r.stdout)
	r = tl.run(t, "keys", "rotate", "svc", "--grace", "1h")
	wantCode(t, r, keyadmin.ExitOK)
	k2 := strings.TrimSpace(r.stdout)
	set := tl.keys(t)
	if !accepts(set, k2, now) || !accepts(set, keyA, now.Add(3*time.Hour-time.Second)) || accepts(set, keyA, now.Add(3*time.Hour)) ||
		!accepts(set, k1, now.Add(time.Hour-time.Second)) || accepts(set, k1, now.Add(time.Hour)) {
		t.Errorf("each old key should keep its own grace: %v", tl.current(t).Names())
	}
}
