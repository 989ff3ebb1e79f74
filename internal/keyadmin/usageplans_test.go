package keyadmin_test

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"

	"github.com/keygate/keygate/internal/apikey"
	"github.com/keygate/keygate/internal/keyadmin"
	"github.com/keygate/keygate/internal/testsupport/apigwfake"
	"github.com/keygate/keygate/internal/testsupport/smfake"
)

// usageOf is the usage of the named entry in AWSCURRENT (nil: none).
func (tl *tool) usageOf(t *testing.T, name string) *apikey.Usage {
	t.Helper()
	return tl.current(t).Keys[name].Usage
}

// checkPlanKey: the entry's usage names an API key that exists with the
// value the secret holds, enabled, named for the client, in exactly the
// plan with ID planID of the stack's plans.
func (tl *tool) checkPlanKey(t *testing.T, plans map[string]string, u *apikey.Usage, client, planID string) {
	t.Helper()
	if u == nil {
		t.Fatal("the entry has no usage")
	}
	k, ok := tl.gw.Keys()[u.KeyID]
	if !ok || k.Value != u.Key || !k.Enabled || k.Name != "keygate-"+client {
		t.Errorf("API key %s: %+v (exists %v), want enabled, named keygate-%s, with the value the secret holds", u.KeyID, k, ok, client)
	}
	for name, id := range plans {
		if in := slices.Contains(tl.gw.PlanKeys(id), u.KeyID); in != (id == planID) {
			t.Errorf("key in plan %s: %v, want %v", name, in, id == planID)
		}
	}
}

const twoClients = `{"api_keys":{"alice":"` + keyA + `","bob":"` + keyB + `"}}`

// add --plan makes the client's API key in the plan tagged so on the REST
// API's stage (not another API's plan of the same name), stores it in the
// entry, prints only the new key and never the API key's value.
func TestKeysAddPlan(t *testing.T) {
	tl := newTool(t, twoClients)
	plans := tl.withGateway(t)
	r := tl.run(t, "keys", "add", "carol", "--plan", "basic")
	wantCode(t, r, keyadmin.ExitOK, "Its usage plan: basic, on REST API "+restAPI)
	u := tl.usageOf(t, "carol")
	tl.checkPlanKey(t, plans, u, "carol", plans["basic"])
	if u.Plan != "basic" {
		t.Errorf("usage plan %q, want basic", u.Plan)
	}
	key := strings.TrimSpace(r.stdout)
	checkQuiet(t, r, key, tl.value(t))
	if got := tl.keys(t).Match; got == nil {
		t.Fatal("no set")
	}
	if e, res := tl.keys(t).Match(key, now); res != apikey.OK || e.UsageKey != u.Key {
		t.Errorf("the function matches the new key: %v, usage key equal: %v; want OK with the API key's value to hand API Gateway", res, e.UsageKey == u.Key)
	}

	// list: a PLAN column, and plan in --json; never the API key.
	r = tl.run(t, "keys", "list")
	wantCode(t, r, keyadmin.ExitOK)
	if !strings.Contains(r.stdout, "PLAN") || !strings.Contains(r.stdout, "basic") {
		t.Errorf("list lacks the plan:\n%s", r.stdout)
	}
	checkQuiet(t, r, "", tl.value(t))
	r = tl.run(t, "keys", "list", "--json")
	var l keyadmin.Listing
	if err := json.Unmarshal([]byte(r.stdout), &l); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range l.Entries {
		got[e.Name] = e.Plan
	}
	if want := map[string]string{"alice": "", "bob": "", "carol": "basic"}; !maps.Equal(got, want) {
		t.Errorf("list --json plans %v, want %v", got, want)
	}
	checkQuiet(t, r, "", tl.value(t))
}

// A failed add leaves no API key behind: an unknown plan makes none (and
// says which plans there are), an existing name or a failed join deletes
// the one it made.
func TestKeysAddPlanFailures(t *testing.T) {
	t.Run("unknown plan", func(t *testing.T) {
		tl := newTool(t, twoClients)
		tl.withGateway(t)
		before := tl.value(t)
		wantCode(t, tl.run(t, "keys", "add", "carol", "--plan", "platinum"), keyadmin.ExitError,
			"no usage plan tagged keygate:plan=platinum", "its plans: basic, gold")
		if tl.value(t) != before || len(tl.gw.Keys()) != 0 {
			t.Errorf("secret changed or API keys left: %v", tl.gw.Keys())
		}
	})
	t.Run("name taken", func(t *testing.T) {
		tl := newTool(t, twoClients)
		tl.withGateway(t)
		wantCode(t, tl.run(t, "keys", "add", "bob", "--plan", "gold"), keyadmin.ExitError, "already has an entry")
		if len(tl.gw.Keys()) != 0 {
			t.Errorf("API keys left: %v", tl.gw.Keys())
		}
	})
	t.Run("join refused", func(t *testing.T) {
		tl := newTool(t, twoClients)
		tl.withGateway(t)
		tl.gw.Fail("CreateUsagePlanKey", apigwfake.Fault{Code: "AccessDeniedException", Status: 403, Message: "not authorized"})
		before := tl.value(t)
		wantCode(t, tl.run(t, "keys", "add", "carol", "--plan", "gold"), keyadmin.ExitError, "needs apigateway:POST on /usageplans/")
		if tl.value(t) != before || len(tl.gw.Keys()) != 0 {
			t.Errorf("secret changed or API keys left: %v", tl.gw.Keys())
		}
	})
}

// set --plan: join (a new API key, for the client and its old keys), move
// (the same key, in the new plan and out of the old), stay (nothing
// written), leave (the key deleted after the secret no longer names it).
func TestKeysSetPlan(t *testing.T) {
	tl := newTool(t, twoClients)
	plans := tl.withGateway(t)
	r := tl.run(t, "keys", "rotate", "bob", "--grace", "1h")
	wantCode(t, r, keyadmin.ExitOK)

	r = tl.run(t, "keys", "set", "bob", "--plan", "basic")
	wantCode(t, r, keyadmin.ExitOK, `set the usage plan of "bob" and "bob.previous"`, "basic, was none", "next read of the secret")
	checkQuiet(t, r, "", tl.value(t))
	u := tl.usageOf(t, "bob")
	tl.checkPlanKey(t, plans, u, "bob", plans["basic"])
	if prev := tl.usageOf(t, "bob.previous"); prev == nil || *prev != *u {
		t.Errorf("bob.previous usage %+v, want bob's %+v: one client, one API key", prev, u)
	}

	r = tl.run(t, "keys", "set", "bob", "--plan", "gold")
	wantCode(t, r, keyadmin.ExitOK, "gold, was basic", "API Gateway applies the new plan to its next request")
	moved := tl.usageOf(t, "bob")
	if moved.KeyID != u.KeyID || moved.Key != u.Key || moved.Plan != "gold" {
		t.Errorf("after the move: %+v, want the same API key in gold", moved)
	}
	tl.checkPlanKey(t, plans, moved, "bob", plans["gold"])

	before := tl.value(t)
	wantCode(t, tl.run(t, "keys", "set", "bob", "--plan", "gold"), keyadmin.ExitOK, `"bob" is already in usage plan gold: nothing written`)
	if tl.value(t) != before {
		t.Error("a set to the same plan wrote the secret")
	}

	wantCode(t, tl.run(t, "keys", "set", "bob", "--plan", "none"), keyadmin.ExitOK, "none, was gold")
	if u := tl.usageOf(t, "bob"); u != nil {
		t.Errorf("bob still has usage %+v", u)
	}
	if u := tl.usageOf(t, "bob.previous"); u != nil {
		t.Errorf("bob.previous still has usage %+v", u)
	}
	if len(tl.gw.Keys()) != 0 {
		t.Errorf("API keys left: %v", tl.gw.Keys())
	}
	wantCode(t, tl.run(t, "keys", "set", "bob", "--plan", "none"), keyadmin.ExitOK, `"bob" is in no usage plan already`)
}

// A move the secret cannot record is undone at API Gateway: the key goes
// back to its plan.
func TestKeysSetPlanUndone(t *testing.T) {
	tl := newTool(t, twoClients)
	plans := tl.withGateway(t)
	wantCode(t, tl.run(t, "keys", "set", "bob", "--plan", "basic"), keyadmin.ExitOK)
	u := tl.usageOf(t, "bob")
	tl.sm.Fail("PutSecretValue", smfake.AccessDeniedFault)
	wantCode(t, tl.run(t, "keys", "set", "bob", "--plan", "gold"), keyadmin.ExitError)
	tl.checkPlanKey(t, plans, u, "bob", plans["basic"])
	if got := tl.usageOf(t, "bob"); *got != *u {
		t.Errorf("usage %+v, want %+v unchanged", got, u)
	}
}

// revoke deletes the client's API key (one, though its old key shares it),
// and keeps the others'.
func TestKeysRevokeDeletesThePlanKey(t *testing.T) {
	tl := newTool(t, twoClients)
	plans := tl.withGateway(t)
	wantCode(t, tl.run(t, "keys", "set", "alice", "--plan", "gold"), keyadmin.ExitOK)
	wantCode(t, tl.run(t, "keys", "set", "bob", "--plan", "basic"), keyadmin.ExitOK)
	wantCode(t, tl.run(t, "keys", "rotate", "bob", "--grace", "1h"), keyadmin.ExitOK)
	bob, alice := tl.usageOf(t, "bob"), tl.usageOf(t, "alice")
	r := tl.run(t, "keys", "revoke", "bob")
	wantCode(t, r, keyadmin.ExitOK, "Deleted API key "+bob.KeyID)
	if _, left := tl.gw.Keys()[bob.KeyID]; left {
		t.Error("bob's API key is left")
	}
	tl.checkPlanKey(t, plans, alice, "alice", plans["gold"])
	if n := strings.Count(strings.Join(tl.gw.Calls(), " "), "DeleteApiKey"); n != 1 {
		t.Errorf("%d DeleteApiKey calls, want 1", n)
	}
}

// The command line: what --plan needs and refuses, before any call.
func TestPlanFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  bool // KEYGATE_REST_API set
		says string
	}{
		{[]string{"add", "carol", "--plan", "basic"}, false, "--plan needs the REST API"},
		{[]string{"add", "carol", "--plan", "none"}, true, "leave --plan out for none"},
		{[]string{"add", "carol", "--plan", "Gold Plan"}, true, "--plan takes the name of a usage plan"},
		{[]string{"set", "carol", "--plan", "-x"}, true, "--plan takes the name of a usage plan"},
		{[]string{"add", "carol", "--rest-api", restAPI}, false, "--rest-api and --stage go with --plan"},
		{[]string{"set", "carol", "--stage", "live", "--allow-any"}, false, "--rest-api and --stage go with --plan"},
	} {
		tl := newTool(t, twoClients)
		if tc.env {
			tl.env["KEYGATE_REST_API"] = restAPI
		}
		wantCode(t, tl.run(t, append([]string{"keys"}, tc.args...)...), keyadmin.ExitUsage, tc.says)
	}
	// KEYGATE_REST_API exported for --plan does not trip revoke.
	tl := newTool(t, twoClients)
	tl.env["KEYGATE_REST_API"] = restAPI
	wantCode(t, tl.run(t, "keys", "revoke", "bob"), keyadmin.ExitOK)
}

// A move whose key is in the new plan already (a change that failed after
// that step, run again) completes: the key ends in that plan alone.
func TestKeysSetPlanAgain(t *testing.T) {
	tl := newTool(t, twoClients)
	plans := tl.withGateway(t)
	wantCode(t, tl.run(t, "keys", "set", "bob", "--plan", "basic"), keyadmin.ExitOK)
	u := tl.usageOf(t, "bob")
	if _, err := tl.gw.Client().CreateUsagePlanKey(t.Context(), &apigateway.CreateUsagePlanKeyInput{
		UsagePlanId: aws.String(plans["gold"]), KeyId: aws.String(u.KeyID), KeyType: aws.String("API_KEY"),
	}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, tl.run(t, "keys", "set", "bob", "--plan", "gold"), keyadmin.ExitOK, "gold, was basic")
	tl.checkPlanKey(t, plans, tl.usageOf(t, "bob"), "bob", plans["gold"])
}
