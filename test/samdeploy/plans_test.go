//go:build samdeploy

package samdeploy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	apigtypes "github.com/aws/aws-sdk-go-v2/service/apigateway/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/keygate/keygate/test/internal/proc"
)

// plan is one usage plan as the template makes it with its defaults.
type plan struct {
	logical, name string
	rate          float64
	burst         int32
	quota         int32 // per day; 0: none
}

var stackPlans = []plan{
	{"GuardedApiBasicPlan", "basic", 2, 5, 10000},
	{"GuardedApiGoldPlan", "gold", 10, 20, 0},
}

// usagePlans checks the guarded REST API's usage plans (UsagePlans): on
// its stage Prod, the default limits, tagged as keygate keys --plan finds
// them; the API's key source is the authorizer and its methods need a
// key. Without UsagePlans the API keeps the default key source and no
// method needs one.
func (c *checker) usagePlans(api string, ms map[string]string) {
	r, err := aws_.apig.GetRestApi(c.ctx, &apigateway.GetRestApiInput{RestApiId: aws.String(api)})
	c.must(err, "GetRestApi "+api)
	source := apigtypes.ApiKeySourceTypeHeader
	if c.e.usagePlans {
		source = apigtypes.ApiKeySourceTypeAuthorizer
	}
	c.gap("guarded API key source", string(r.ApiKeySource), string(source), "")
	for _, route := range []string{"ANY /", "ANY /{proxy+}"} {
		m, err := aws_.apig.GetMethod(c.ctx, &apigateway.GetMethodInput{RestApiId: aws.String(api), ResourceId: aws.String(ms[route]), HttpMethod: aws.String("ANY")})
		c.must(err, "GetMethod "+route)
		c.eq(route+" ApiKeyRequired", aws.ToBool(m.ApiKeyRequired), c.e.usagePlans)
	}
	if !c.e.usagePlans {
		return
	}
	for _, p := range stackPlans {
		id := c.physical(p.logical)
		up, err := aws_.apig.GetUsagePlan(c.ctx, &apigateway.GetUsagePlanInput{UsagePlanId: aws.String(id)})
		c.must(err, "GetUsagePlan "+p.name)
		c.eq(p.logical+" name", aws.ToString(up.Name), c.e.stack+"-"+p.name)
		var stages []string
		for _, s := range up.ApiStages {
			stages = append(stages, aws.ToString(s.ApiId)+"/"+aws.ToString(s.Stage))
		}
		c.eq(p.logical+" stages", stages, []string{api + "/Prod"})
		var throttle [2]float64
		if up.Throttle != nil {
			throttle = [2]float64{up.Throttle.RateLimit, float64(up.Throttle.BurstLimit)}
		}
		c.eq(p.logical+" throttle (rate, burst)", throttle, [2]float64{p.rate, float64(p.burst)})
		quota := "none"
		if up.Quota != nil {
			quota = fmt.Sprint(up.Quota.Limit, " per ", up.Quota.Period)
		}
		want := "none"
		if p.quota > 0 {
			want = fmt.Sprint(p.quota, " per DAY")
		}
		c.eq(p.logical+" quota", quota, want)
		c.eq(p.logical+" tag keygate:plan", up.Tags["keygate:plan"], p.name)
	}
}

// planGrants is what the operator policy allows on the plans.
func (c *checker) planGrants(want map[string]grant) {
	if !c.e.usagePlans {
		return
	}
	gw := "arn:aws:apigateway:" + region + "::"
	basic, gold := c.res["GuardedApiBasicPlan"].physical, c.res["GuardedApiGoldPlan"].physical
	want["ListUsagePlans"] = grant{actions: []string{"apigateway:GET"}, resource: gw + "/usageplans"}
	want["MakeClientApiKeys"] = grant{actions: []string{"apigateway:POST"},
		resources: []string{gw + "/apikeys", gw + "/usageplans/" + basic + "/keys", gw + "/usageplans/" + gold + "/keys"}}
	want["DeleteClientApiKeys"] = grant{actions: []string{"apigateway:DELETE"},
		resources: []string{gw + "/apikeys/*", gw + "/usageplans/" + basic + "/keys/*", gw + "/usageplans/" + gold + "/keys/*"}}
}

var (
	cliOnce sync.Once
	cliBin  string
	cliErr  error
)

// keygate runs the key CLI, built from cmd/keygate as a user builds it,
// against the stack in LocalStack: the stack's outputs as its
// environment (API_KEY_SECRET_ID, KEYGATE_FUNCTION, KEYGATE_REST_API).
func keygate(t *testing.T, outputs map[string]string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cliOnce.Do(func() {
		cliBin = filepath.Join(work, "keygate")
		cmd := exec.Command("go", "build", "-o", cliBin, "./cmd/keygate")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			cliErr = fmt.Errorf("go build ./cmd/keygate: %v\n%s", err, out)
		}
	})
	if cliErr != nil {
		t.Fatal(cliErr)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.Command(cliBin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "KEYGATE_") && !strings.HasPrefix(kv, "API_KEY") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "AWS_REGION="+region, "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true",
		"AWS_ENDPOINT_URL="+server.URL,
		"API_KEY_SECRET_ID="+outputs["SecretArn"], "KEYGATE_FUNCTION="+outputs["FunctionName"], "KEYGATE_REST_API="+outputs["GuardedRestApiId"])
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	p, err := proc.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	case <-ctx.Done():
		p.Stop()
		return out.String(), errOut.String(), ctx.Err()
	}
	if !cmd.ProcessState.Success() {
		err = errors.New(cmd.ProcessState.String())
	}
	return out.String(), errOut.String(), err
}

// stackOutputs is the stack's outputs by key.
func stackOutputs(t *testing.T, stack string) map[string]string {
	t.Helper()
	st, err := aws_.cfn.DescribeStacks(t.Context(), &cloudformation.DescribeStacksInput{StackName: aws.String(stack)})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, o := range st.Stacks[0].Outputs {
		out[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	return out
}

// entryUsage is the usage the stack's secret holds for client.
func entryUsage(t *testing.T, secret, client string) map[string]string {
	t.Helper()
	v, err := aws_.sm.GetSecretValue(t.Context(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(secret)})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Keys map[string]json.RawMessage `json:"api_keys"` // an entry may be a bare key
	}
	var entry struct {
		Usage map[string]string `json:"usage"`
	}
	if err := json.Unmarshal([]byte(aws.ToString(v.SecretString)), &doc); err != nil {
		t.Fatalf("the secret is not in the api_keys format: %v", err)
	}
	if err := json.Unmarshal(doc.Keys[client], &entry); err != nil {
		t.Fatalf("api_keys[%q] is not an object: %v", client, err)
	}
	return entry.Usage
}

// planKeys is the IDs of the API keys in the stack's plan.
func planKeys(t *testing.T, outputs map[string]string, planName string) []string {
	t.Helper()
	out, err := aws_.apig.GetUsagePlans(t.Context(), &apigateway.GetUsagePlansInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, up := range out.Items {
		if up.Tags["keygate:plan"] != planName || !slices.ContainsFunc(up.ApiStages, func(s apigtypes.ApiStage) bool { return aws.ToString(s.ApiId) == outputs["GuardedRestApiId"] }) {
			continue
		}
		ks, err := aws_.apig.GetUsagePlanKeys(t.Context(), &apigateway.GetUsagePlanKeysInput{UsagePlanId: up.Id})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, k := range ks.Items {
			ids = append(ids, aws.ToString(k.Id))
		}
		return ids
	}
	t.Fatalf("no plan tagged keygate:plan=%s on %s", planName, outputs["GuardedRestApiId"])
	return nil
}

// checkPlanCLI drives the real keygate CLI against the deployed stack's
// plans: add --plan basic makes the client's API key there, with the
// value the secret keeps; set --plan gold moves the same key; revoke
// deletes it.
func checkPlanCLI(t *testing.T, outputs map[string]string) {
	secret := outputs["SecretArn"]
	stdout, stderr, err := keygate(t, outputs, "keys", "add", "partner", "--plan", "basic", "--convert")
	if err != nil {
		t.Fatalf("keys add --plan basic: %v\n%s", err, stderr)
	}
	u := entryUsage(t, secret, "partner")
	if u["plan"] != "basic" || u["key_id"] == "" {
		t.Fatalf("usage %v, want plan basic with an API key", u)
	}
	if strings.Contains(stdout+stderr, u["key"]) {
		t.Error("the CLI printed the API key's value")
	}
	k, err := aws_.apig.GetApiKey(t.Context(), &apigateway.GetApiKeyInput{ApiKey: aws.String(u["key_id"]), IncludeValue: aws.Bool(true)})
	if err != nil {
		t.Fatalf("GetApiKey %s: %v", u["key_id"], err)
	}
	if aws.ToString(k.Value) != u["key"] || !k.Enabled || aws.ToString(k.Name) != "keygate-partner" {
		t.Errorf("API key %s: name %q, enabled %v, value as the secret holds: %v", u["key_id"], aws.ToString(k.Name), k.Enabled, aws.ToString(k.Value) == u["key"])
	}
	if got := planKeys(t, outputs, "basic"); !slices.Equal(got, []string{u["key_id"]}) {
		t.Errorf("basic plan keys %v, want [%s]", got, u["key_id"])
	}

	if _, stderr, err := keygate(t, outputs, "keys", "set", "partner", "--plan", "gold"); err != nil {
		t.Fatalf("keys set --plan gold: %v\n%s", err, stderr)
	}
	if g := entryUsage(t, secret, "partner"); g["plan"] != "gold" || g["key_id"] != u["key_id"] {
		t.Errorf("usage after the move %v, want the same key in gold", g)
	}
	if got := planKeys(t, outputs, "gold"); !slices.Equal(got, []string{u["key_id"]}) {
		t.Errorf("gold plan keys %v, want [%s]", got, u["key_id"])
	}
	if got := planKeys(t, outputs, "basic"); len(got) != 0 {
		t.Errorf("basic plan keys %v after the move, want none", got)
	}

	stdout, stderr, err = keygate(t, outputs, "keys", "list")
	if err != nil || !strings.Contains(stdout, "PLAN") || !strings.Contains(stdout, "gold") {
		t.Errorf("keys list: %v\n%s%s", err, stdout, stderr)
	}

	if _, stderr, err := keygate(t, outputs, "keys", "revoke", "partner"); err != nil {
		t.Fatalf("keys revoke: %v\n%s", err, stderr)
	}
	if _, err := aws_.apig.GetApiKey(t.Context(), &apigateway.GetApiKeyInput{ApiKey: aws.String(u["key_id"])}); err == nil {
		t.Error("the revoked client's API key is still there")
	}
}
