//go:build samdeploy

package samdeploy

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	apigtypes "github.com/aws/aws-sdk-go-v2/service/apigateway/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// expect is one deployment's parameters, as the checks need them.
type expect struct {
	stack       string
	rotation    int    // RotationDays
	functionURL bool   // EnableFunctionUrl
	backend     string // BackendUrl
	alarmEmail  string // AlarmEmail: the stack makes a topic
	alarmTopic  string // AlarmTopicArn: an existing topic
	usagePlans  bool   // UsagePlans (with backend)
}

func (e expect) fn() string { return e.stack + "-keygate" }

// The resources template.yaml creates (logical IDs), by condition. SAM's
// REST API deployment has a hash in its ID: a prefix here.
var (
	baseResources = []string{
		"ApiKeySecret", "KeygateFunction", "KeygateFunctionLogGroup", "KeygateFunctionRole", "KeygateOperatorPolicy",
		"ServerlessRestApi", "ServerlessRestApiDeployment*", "ServerlessRestApiProdStage",
		"KeygateFunctionRootPermissionProd", "KeygateFunctionRootAnyMethodPermissionProd", "KeygateFunctionAnyPathPermissionProd",
	}
	rotationResources = []string{
		"KeygateRotationFunction", "KeygateRotationFunctionLogGroup", "KeygateRotationFunctionRole",
		"KeygateRotationPermission", "ApiKeyRotationSchedule",
	}
	functionURLResources = []string{"KeygateFunctionUrl", "KeygateFunctionUrlPermission", "KeygateFunctionUrlInvokePermission"}
	// The alarms, the dashboard and the Contributor Insights rules are in
	// every stack; the rotation function's alarm comes with it.
	monitoringResources = []string{
		"KeysUnavailableAlarm", "StaleKeySetAlarm", "FunctionErrorsAlarm", "FunctionThrottlesAlarm", "InvalidKeysAlarm",
		"KeygateDashboard", "TopClientsRule", "InvalidKeySourcesRule",
	}
	alarmEmailResources = []string{"AlarmTopic", "AlarmEmailSubscription"}
	guardResources      = []string{
		"GuardedApi", "GuardedApiAuthorizer", "GuardedApiAuthorizerPermission", "GuardedApiProxyResource",
		"GuardedApiRootMethod", "GuardedApiProxyMethod", "GuardedApiUnauthorized", "GuardedApiAccessDenied",
		"GuardedApiAuthorizerFailure", "GuardedApiStage",
	}
	plansResources = []string{"GuardedApiPlansDeployment", "GuardedApiBasicPlan", "GuardedApiGoldPlan"}
)

func (e expect) resources() []string {
	r := append(slices.Clone(baseResources), monitoringResources...)
	if e.rotation > 0 {
		r = append(r, append(rotationResources, "RotationErrorsAlarm")...)
	}
	if e.alarmEmail != "" {
		r = append(r, alarmEmailResources...)
	}
	if e.functionURL {
		r = append(r, functionURLResources...)
	}
	if e.backend != "" {
		r = append(r, guardResources...)
		if e.usagePlans {
			r = append(r, plansResources...)
		} else {
			r = append(r, "GuardedApiDeployment")
		}
	}
	sort.Strings(r)
	return r
}

// stackResource is one entry of ListStackResources.
type stackResource struct {
	logical, physical, typ, status string
}

// checker checks one stack: every resource through the API of its
// service, marking each one it checked; a resource nobody checked fails.
type checker struct {
	t       testing.TB
	ctx     context.Context
	e       expect
	res     map[string]stackResource // by logical ID, the deployment's hash dropped
	checked map[string]bool
	outputs map[string]string
}

// gap reports a value LocalStack does not keep: absent (lsValue) it is a
// logged gap, right it passes, anything else is an error.
func (c *checker) gap(what string, got, want, lsValue any) {
	c.t.Helper()
	switch {
	case reflect.DeepEqual(got, want):
	case reflect.DeepEqual(got, lsValue):
		c.t.Logf("LocalStack gap: %s is %v here (template: %v); it does not keep it", what, got, want)
	default:
		c.t.Errorf("%s: %v, want %v", what, got, want)
	}
}

func (c *checker) eq(what string, got, want any) {
	c.t.Helper()
	if !reflect.DeepEqual(got, want) {
		c.t.Errorf("%s: %#v, want %#v", what, got, want)
	}
}

// physical returns a resource's physical ID and marks it checked.
func (c *checker) physical(logical string) string {
	c.t.Helper()
	r, ok := c.res[logical]
	if !ok {
		c.t.Fatalf("the stack has no %s", logical)
	}
	c.checked[logical] = true
	return r.physical
}

func (c *checker) must(err error, what string) {
	c.t.Helper()
	if err != nil {
		c.t.Fatalf("%s: %v", what, err)
	}
}

// checkStack asserts on the stack e describes, resource by resource.
func checkStack(t testing.TB, e expect) {
	t.Helper()
	ctx := context.Background()
	c := &checker{t: t, ctx: ctx, e: e, res: map[string]stackResource{}, checked: map[string]bool{}, outputs: map[string]string{}}

	st, err := aws_.cfn.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(e.stack)})
	c.must(err, "DescribeStacks")
	s := st.Stacks[0]
	if status := string(s.StackStatus); status != "CREATE_COMPLETE" && status != "UPDATE_COMPLETE" {
		t.Fatalf("stack %s: %s (%s)", e.stack, status, aws.ToString(s.StackStatusReason))
	}
	params := map[string]string{}
	for _, p := range s.Parameters {
		params[aws.ToString(p.ParameterKey)] = aws.ToString(p.ParameterValue)
	}
	c.eq("parameter RotationDays", params["RotationDays"], fmt.Sprint(e.rotation))
	c.eq("parameter EnableFunctionUrl", params["EnableFunctionUrl"], fmt.Sprint(e.functionURL))
	c.eq("parameter BackendUrl", params["BackendUrl"], e.backend)
	c.eq("parameter EnableHttpApi", params["EnableHttpApi"], "false")
	c.eq("parameter AlarmEmail", params["AlarmEmail"], e.alarmEmail)
	c.eq("parameter AlarmTopicArn", params["AlarmTopicArn"], e.alarmTopic)
	c.eq("parameter UsagePlans", params["UsagePlans"], fmt.Sprint(e.usagePlans))
	if !strings.Contains(fmt.Sprint(s.Capabilities), "CAPABILITY_IAM") {
		t.Errorf("capabilities %v, want CAPABILITY_IAM (samconfig.toml)", s.Capabilities)
	}
	for _, o := range s.Outputs {
		c.outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}

	p := cloudformation.NewListStackResourcesPaginator(aws_.cfn, &cloudformation.ListStackResourcesInput{StackName: aws.String(e.stack)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		c.must(err, "ListStackResources")
		for _, r := range page.StackResourceSummaries {
			id := aws.ToString(r.LogicalResourceId)
			if strings.HasPrefix(id, "ServerlessRestApiDeployment") {
				id = "ServerlessRestApiDeployment*"
			}
			c.res[id] = stackResource{id, aws.ToString(r.PhysicalResourceId), aws.ToString(r.ResourceType), string(r.ResourceStatus)}
		}
	}
	var got []string
	for id, r := range c.res {
		got = append(got, id)
		if !strings.HasSuffix(r.status, "_COMPLETE") || strings.HasPrefix(r.status, "DELETE") || r.physical == "" {
			t.Errorf("%s (%s): status %s, physical ID %q", id, r.typ, r.status, r.physical)
		}
	}
	sort.Strings(got)
	if want := e.resources(); !reflect.DeepEqual(got, want) {
		t.Fatalf("stack resources:\n got %v\nwant %v", got, want)
	}

	c.secret()
	c.function()
	c.operatorPolicy()
	c.restAPI()
	c.rotation()
	c.functionURL()
	c.guarded()
	c.alarms()
	c.alarmTopic()
	c.dashboard()
	c.insightRules()
	c.outputsExact()

	types := map[string]bool{}
	for id, r := range c.res {
		types[r.typ] = true
		if !c.checked[id] {
			t.Errorf("%s (%s) is in the stack, and no check looked at it: add one", id, r.typ)
		}
	}
	t.Logf("%s: %d resources of %d types checked, %d outputs", e.stack, len(c.res), len(types), len(c.outputs))
}

func (c *checker) secretArn() string { return c.res["ApiKeySecret"].physical }
func (c *checker) fnArn() string {
	return fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", region, account, c.e.fn())
}

func (c *checker) secret() {
	arn := c.physical("ApiKeySecret")
	d, err := aws_.sm.DescribeSecret(c.ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(arn)})
	c.must(err, "DescribeSecret")
	c.eq("secret description", aws.ToString(d.Description), "API key of the keygate stack "+c.e.stack+" (read by its function at cold start)")
	c.eq("secret KMS key (the AWS managed one)", aws.ToString(d.KmsKeyId), "")
	v, err := aws_.sm.GetSecretValue(c.ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	c.must(err, "GetSecretValue")
	key := aws.ToString(v.SecretString)
	var upper, lower, digit, other bool
	for _, r := range key {
		switch {
		case unicode.IsUpper(r):
			upper = true
		case unicode.IsLower(r):
			lower = true
		case unicode.IsDigit(r):
			digit = true
		default:
			other = true
		}
	}
	if len(key) != 40 || !upper || !lower || !digit || other {
		c.t.Errorf("the generated key is %d characters (upper %v, lower %v, digit %v, other %v), want 40 letters and digits of each kind", len(key), upper, lower, digit, other)
	}
	// One version, current: the stack never rotates at deploy time.
	var stages [][]string
	for _, s := range d.VersionIdsToStages {
		stages = append(stages, s)
	}
	c.eq("secret versions", stages, [][]string{{"AWSCURRENT"}})
}

// logGroup checks a log group and returns its ARN (with LocalStack's and
// AWS's ":*" suffix).
func (c *checker) logGroup(logical, name string) string {
	c.eq(logical+" physical ID", c.physical(logical), name)
	out, err := aws_.logs.DescribeLogGroups(c.ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String(name)})
	c.must(err, "DescribeLogGroups")
	for _, g := range out.LogGroups {
		if aws.ToString(g.LogGroupName) == name {
			c.gap(name+" retention (days)", aws.ToInt32(g.RetentionInDays), int32(30), int32(0))
			return aws.ToString(g.Arn)
		}
	}
	c.t.Fatalf("log group %s not found", name)
	return ""
}

// policyDoc decodes an IAM policy document (URL-encoded JSON, as IAM's
// API returns it).
type statement struct {
	Sid       string
	Effect    string
	Principal any
	Action    any
	Resource  any
	Condition map[string]map[string]any
}

func policyDoc(t testing.TB, raw string) []statement {
	t.Helper()
	if s, err := url.QueryUnescape(raw); err == nil && strings.HasPrefix(strings.TrimSpace(raw), "%") {
		raw = s
	}
	var doc struct {
		Version   string
		Statement []statement
	}
	if err := json.Unmarshal([]byte(raw), &doc); err != nil {
		t.Fatalf("policy document %q: %v", raw, err)
	}
	if doc.Version != "2012-10-17" {
		t.Errorf("policy version %q", doc.Version)
	}
	return doc.Statement
}

// strs turns a policy's Action or Resource (a string or a list) into a
// sorted list.
func strs(v any) []string {
	var out []string
	switch x := v.(type) {
	case string:
		out = []string{x}
	case []any:
		for _, s := range x {
			out = append(out, fmt.Sprint(s))
		}
	}
	sort.Strings(out)
	return out
}

// grant is what one statement allows.
type grant struct {
	actions   []string
	resource  string
	resources []string // instead of resource, for more than one
	condition map[string]map[string]any
}

func (c *checker) statements(what string, sts []statement, want map[string]grant) {
	c.t.Helper()
	got := map[string]statement{}
	for _, s := range sts {
		got[s.Sid] = s
	}
	var gotSids, wantSids []string
	for sid := range got {
		gotSids = append(gotSids, sid)
	}
	for sid := range want {
		wantSids = append(wantSids, sid)
	}
	sort.Strings(gotSids)
	sort.Strings(wantSids)
	if !reflect.DeepEqual(gotSids, wantSids) {
		c.t.Errorf("%s: statements %v, want %v", what, gotSids, wantSids)
	}
	for sid, w := range want {
		s, ok := got[sid]
		if !ok {
			continue
		}
		actions := slices.Clone(w.actions)
		sort.Strings(actions)
		resources := w.resources
		if resources == nil {
			resources = []string{w.resource}
		}
		resources = slices.Sorted(slices.Values(resources))
		if s.Effect != "Allow" || !reflect.DeepEqual(strs(s.Action), actions) || !reflect.DeepEqual(strs(s.Resource), resources) ||
			!reflect.DeepEqual(s.Condition, w.condition) && !(len(s.Condition) == 0 && len(w.condition) == 0) {
			c.t.Errorf("%s, %s: %s %v on %v if %v; want Allow %v on %s if %v", what, sid, s.Effect, strs(s.Action), strs(s.Resource), s.Condition, actions, w.resource, w.condition)
		}
	}
}

// role checks an execution role: Lambda's trust, no managed policy, one
// inline policy name with the grants want.
func (c *checker) role(logical, policyName string, want map[string]grant) string {
	name := c.physical(logical)
	r, err := aws_.iam.GetRole(c.ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
	c.must(err, "GetRole "+name)
	trust := policyDoc(c.t, aws.ToString(r.Role.AssumeRolePolicyDocument))
	if len(trust) != 1 || trust[0].Effect != "Allow" || !reflect.DeepEqual(trust[0].Principal, map[string]any{"Service": "lambda.amazonaws.com"}) || !reflect.DeepEqual(strs(trust[0].Action), []string{"sts:AssumeRole"}) {
		c.t.Errorf("%s trust policy: %+v, want lambda.amazonaws.com may sts:AssumeRole", logical, trust)
	}
	att, err := aws_.iam.ListAttachedRolePolicies(c.ctx, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String(name)})
	c.must(err, "ListAttachedRolePolicies")
	if len(att.AttachedPolicies) > 0 {
		c.t.Errorf("%s has managed policies attached: %v", logical, att.AttachedPolicies)
	}
	inline, err := aws_.iam.ListRolePolicies(c.ctx, &iam.ListRolePoliciesInput{RoleName: aws.String(name)})
	c.must(err, "ListRolePolicies")
	c.eq(logical+" inline policies", inline.PolicyNames, []string{policyName})
	pol, err := aws_.iam.GetRolePolicy(c.ctx, &iam.GetRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String(policyName)})
	c.must(err, "GetRolePolicy")
	c.statements(logical+" policy "+policyName, policyDoc(c.t, aws.ToString(pol.PolicyDocument)), want)
	return aws.ToString(r.Role.Arn)
}

func (c *checker) function() {
	name := c.physical("KeygateFunction")
	c.eq("function name", name, c.e.fn())
	logArn := c.logGroup("KeygateFunctionLogGroup", "/aws/lambda/"+c.e.fn())
	roleArn := c.role("KeygateFunctionRole", "keygate", map[string]grant{
		"WriteLogs":  {actions: []string{"logs:CreateLogStream", "logs:PutLogEvents"}, resource: logArn},
		"ReadTheKey": {actions: []string{"secretsmanager:GetSecretValue"}, resource: c.secretArn()},
	})
	f, err := aws_.lam.GetFunctionConfiguration(c.ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(name)})
	c.must(err, "GetFunctionConfiguration")
	c.eq("function ARN", aws.ToString(f.FunctionArn), c.fnArn())
	c.eq("function state", fmt.Sprint(f.State, "/", f.LastUpdateStatus), "Active/Successful")
	c.eq("function runtime", string(f.Runtime), "provided.al2023")
	c.eq("function handler", aws.ToString(f.Handler), "bootstrap")
	c.eq("function architectures", fmt.Sprint(f.Architectures), "[arm64]")
	c.eq("function memory", aws.ToInt32(f.MemorySize), int32(128))
	c.eq("function timeout", aws.ToInt32(f.Timeout), int32(10))
	c.eq("function package", string(f.PackageType), "Zip")
	c.eq("function description", aws.ToString(f.Description), "Answers GET / when the x-api-key header holds the key from Secrets Manager.")
	c.eq("function role", aws.ToString(f.Role), roleArn)
	if f.LoggingConfig == nil || string(f.LoggingConfig.LogFormat) != "JSON" {
		c.t.Errorf("function logging config %+v, want JSON", f.LoggingConfig)
	}
	if f.CodeSize < 1<<20 || aws.ToString(f.CodeSha256) == "" {
		c.t.Errorf("function code: %d bytes, SHA-256 %q: not the bootstrap sam build made", f.CodeSize, aws.ToString(f.CodeSha256))
	}
	var env map[string]string
	if f.Environment != nil {
		env = f.Environment.Variables
	}
	c.eq("function environment", env, map[string]string{
		"API_KEY_SECRET_ID": c.secretArn(), "API_KEY": "", "KEY_REFRESH": "5m", "KEY_GRACE": "24h",
		"KEY_LOAD_TIMEOUT": "3s", "LOG_LEVEL": "info", "METRICS_NAMESPACE": "Keygate",
	})
	c.permissions()
}

// permissions checks the function's resource policy: one statement per
// Lambda::Permission of the stack (matched by its physical ID, the Sid),
// and nothing else.
func (c *checker) permissions() {
	pol, err := aws_.lam.GetPolicy(c.ctx, &lambda.GetPolicyInput{FunctionName: aws.String(c.e.fn())})
	c.must(err, "GetPolicy")
	var doc struct{ Statement []statement }
	c.must(json.Unmarshal([]byte(aws.ToString(pol.Policy)), &doc), "function policy")
	bySid := map[string]statement{}
	for _, s := range doc.Statement {
		bySid[s.Sid] = s
	}
	type perm struct {
		principal any
		action    string
		sourceArn string // the condition ArnLike AWS:SourceArn
		lsGap     bool   // LocalStack drops this permission's own condition
		condition map[string]map[string]any
	}
	api := c.res["ServerlessRestApi"].physical
	execArn := fmt.Sprintf("arn:aws:execute-api:%s:%s:%s/", region, account, api)
	apigw := map[string]any{"Service": "apigateway.amazonaws.com"}
	want := map[string]perm{
		"KeygateFunctionRootPermissionProd":          {principal: apigw, action: "lambda:InvokeFunction", sourceArn: execArn + "*/GET/"},
		"KeygateFunctionRootAnyMethodPermissionProd": {principal: apigw, action: "lambda:InvokeFunction", sourceArn: execArn + "*/*/"},
		"KeygateFunctionAnyPathPermissionProd":       {principal: apigw, action: "lambda:InvokeFunction", sourceArn: execArn + "*/*/*"},
	}
	if c.e.functionURL {
		want["KeygateFunctionUrlPermission"] = perm{principal: "*", action: "lambda:InvokeFunctionUrl", lsGap: true,
			condition: map[string]map[string]any{"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}}}
		want["KeygateFunctionUrlInvokePermission"] = perm{principal: "*", action: "lambda:InvokeFunction", lsGap: true,
			condition: map[string]map[string]any{"Bool": {"lambda:InvokedViaFunctionUrl": "true"}}}
	}
	if c.e.backend != "" {
		want["GuardedApiAuthorizerPermission"] = perm{principal: apigw, action: "lambda:InvokeFunction",
			sourceArn: fmt.Sprintf("arn:aws:execute-api:%s:%s:%s/authorizers/%s", region, account, c.res["GuardedApi"].physical, c.res["GuardedApiAuthorizer"].physical)}
	}
	if len(doc.Statement) != len(want) {
		c.t.Errorf("the function's policy has %d statements, want %d: %s", len(doc.Statement), len(want), aws.ToString(pol.Policy))
	}
	for logical, w := range want {
		sid := c.physical(logical)
		s, ok := bySid[sid]
		if !ok {
			c.t.Errorf("%s (%s): not in the function's policy %s", logical, sid, aws.ToString(pol.Policy))
			continue
		}
		principal := s.Principal
		if m, ok := principal.(map[string]any); ok && m["AWS"] == "*" {
			principal = "*"
		}
		if !reflect.DeepEqual(principal, w.principal) || !reflect.DeepEqual(strs(s.Action), []string{w.action}) || !reflect.DeepEqual(strs(s.Resource), []string{c.fnArn()}) {
			c.t.Errorf("%s: %v may %v on %v; want %v may %s", logical, s.Principal, s.Action, s.Resource, w.principal, w.action)
		}
		cond := s.Condition
		if w.sourceArn != "" {
			c.eq(logical+" source ARN", cond, map[string]map[string]any{"ArnLike": {"AWS:SourceArn": w.sourceArn}})
		} else if w.lsGap {
			var none map[string]map[string]any
			if len(cond) == 0 {
				cond = none
			}
			c.gap(logical+" condition", cond, w.condition, none)
		}
	}
}

func (c *checker) operatorPolicy() {
	arn := c.physical("KeygateOperatorPolicy")
	c.eq("output OperatorPolicyArn", c.outputs["OperatorPolicyArn"], arn)
	p, err := aws_.iam.GetPolicy(c.ctx, &iam.GetPolicyInput{PolicyArn: aws.String(arn)})
	c.must(err, "GetPolicy")
	c.eq("operator policy attachments", aws.ToInt32(p.Policy.AttachmentCount), int32(0))
	c.gap("operator policy description", aws.ToString(p.Policy.Description), "Manage the API keys of the keygate stack "+c.e.stack+" (keygate keys ...)", "")
	v, err := aws_.iam.GetPolicyVersion(c.ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: p.Policy.DefaultVersionId})
	c.must(err, "GetPolicyVersion")
	logArn := c.logGroup("KeygateFunctionLogGroup", "/aws/lambda/"+c.e.fn())
	want := map[string]grant{
		"ManageTheKeys":      {actions: []string{"secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"}, resource: c.secretArn()},
		"RestartTheFunction": {actions: []string{"lambda:GetFunctionConfiguration", "lambda:UpdateFunctionConfiguration"}, resource: c.fnArn()},
		"QueryTheFunctionLogs": {actions: []string{"logs:GetQueryResults", "logs:StartQuery"},
			resources: []string{strings.TrimSuffix(logArn, ":*"), logArn}},
	}
	if c.e.backend != "" {
		want["FlushCachedDecisions"] = grant{actions: []string{"apigateway:DELETE"},
			resource: fmt.Sprintf("arn:aws:apigateway:%s::/restapis/%s/stages/Prod/cache/authorizers", region, c.res["GuardedApi"].physical)}
	}
	rule := fmt.Sprintf("arn:aws:cloudwatch:%s:%s:insight-rule/%s-keygate-", region, account, c.e.stack)
	want["ReadTheInsightRules"] = grant{actions: []string{"cloudwatch:GetInsightRuleReport"},
		resources: []string{rule + "top-clients", rule + "invalid-key-sources"}}
	c.planGrants(want)
	c.statements("KeygateOperatorPolicy", policyDoc(c.t, aws.ToString(v.PolicyVersion.Document)), want)
}

// stage checks a REST API's only stage, Prod, on deployment, with the
// template's throttling, which LocalStack drops.
func (c *checker) stage(api, stageLogical, deploymentLogical string) {
	c.eq(stageLogical+" physical ID", c.physical(stageLogical), "Prod")
	dep := c.physical(deploymentLogical)
	if _, err := aws_.apig.GetDeployment(c.ctx, &apigateway.GetDeploymentInput{RestApiId: aws.String(api), DeploymentId: aws.String(dep)}); err != nil {
		c.t.Errorf("%s %s: %v", deploymentLogical, dep, err)
	}
	st, err := aws_.apig.GetStages(c.ctx, &apigateway.GetStagesInput{RestApiId: aws.String(api)})
	c.must(err, "GetStages")
	var names []string
	for _, s := range st.Item {
		names = append(names, aws.ToString(s.StageName))
		if aws.ToString(s.StageName) != "Prod" {
			continue
		}
		c.eq(stageLogical+" deployment", aws.ToString(s.DeploymentId), dep)
		got := [2]float64{}
		if ms, ok := s.MethodSettings["*/*"]; ok {
			got = [2]float64{ms.ThrottlingRateLimit, float64(ms.ThrottlingBurstLimit)}
		}
		c.gap(stageLogical+" throttling (rate, burst)", got, [2]float64{10, 20}, [2]float64{0, 0})
	}
	c.eq("stages of "+api, names, []string{"Prod"})
}

// methods lists a REST API's methods as "METHOD /path" → (resource ID).
func (c *checker) methods(api string) map[string]string {
	out := map[string]string{}
	res, err := aws_.apig.GetResources(c.ctx, &apigateway.GetResourcesInput{RestApiId: aws.String(api), Embed: []string{"methods"}})
	c.must(err, "GetResources")
	for _, r := range res.Items {
		for m := range r.ResourceMethods {
			out[m+" "+aws.ToString(r.Path)] = aws.ToString(r.Id)
		}
	}
	return out
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (c *checker) restAPI() {
	api := c.physical("ServerlessRestApi")
	r, err := aws_.apig.GetRestApi(c.ctx, &apigateway.GetRestApiInput{RestApiId: aws.String(api)})
	c.must(err, "GetRestApi")
	// SAM names the API after the stack in its OpenAPI body's title, which
	// LocalStack ignores (it names it <stack>-ServerlessRestApi-<hash>).
	if name := aws.ToString(r.Name); name != c.e.stack {
		if !strings.HasPrefix(name, c.e.stack+"-ServerlessRestApi-") {
			c.t.Errorf("REST API name %q, want %q", name, c.e.stack)
		} else {
			c.t.Logf("LocalStack gap: the REST API is named %q (SAM's OpenAPI title: %q)", name, c.e.stack)
		}
	}
	ms := c.methods(api)
	c.eq("REST API routes", keys(ms), []string{"ANY /", "ANY /{proxy+}", "GET /"})
	for route, id := range ms {
		method, _, _ := strings.Cut(route, " ")
		in, err := aws_.apig.GetIntegration(c.ctx, &apigateway.GetIntegrationInput{RestApiId: aws.String(api), ResourceId: aws.String(id), HttpMethod: aws.String(method)})
		c.must(err, "GetIntegration "+route)
		wantURI := fmt.Sprintf("arn:aws:apigateway:%s:lambda:path/2015-03-31/functions/%s/invocations", region, c.fnArn())
		if in.Type != apigtypes.IntegrationTypeAwsProxy || aws.ToString(in.HttpMethod) != "POST" || aws.ToString(in.Uri) != wantURI {
			c.t.Errorf("%s: integration %s %s %s, want AWS_PROXY POST %s", route, in.Type, aws.ToString(in.HttpMethod), aws.ToString(in.Uri), wantURI)
		}
	}
	c.stage(api, "ServerlessRestApiProdStage", "ServerlessRestApiDeployment*")
	c.apiURL("ApiUrl", api)
	c.eq("output TryCommand", c.outputs["TryCommand"], fmt.Sprintf(`curl -sS -H "x-api-key: $(aws secretsmanager get-secret-value --region %s --secret-id %s --query SecretString --output text)" https://%s.execute-api.%s.%s/Prod/`, region, c.secretArn(), api, region, urlSuffix))
}

// apiURL checks an output that holds an API's URL: the template's form, or
// the one LocalStack rewrites execute-api URLs into.
func (c *checker) apiURL(output, api string) {
	got := c.outputs[output]
	want := fmt.Sprintf("https://%s.execute-api.%s.%s/Prod/", api, region, urlSuffix)
	ls := regexp.MustCompile(`^https://` + regexp.QuoteMeta(api) + `\.execute-api\.localhost\.localstack\.cloud:\d+/Prod/$`)
	switch {
	case got == want:
	case ls.MatchString(got):
		c.t.Logf("LocalStack gap: output %s is %s (template: %s); LocalStack rewrites execute-api URLs", output, got, want)
	default:
		c.t.Errorf("output %s: %q, want %q", output, got, want)
	}
}

func (c *checker) rotation() {
	d, err := aws_.sm.DescribeSecret(c.ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(c.secretArn())})
	c.must(err, "DescribeSecret")
	if c.e.rotation == 0 {
		if aws.ToBool(d.RotationEnabled) {
			c.t.Errorf("the secret rotates (%v) without RotationDays", d.RotationRules)
		}
		return
	}
	name := c.physical("KeygateRotationFunction")
	c.eq("rotation function name", name, c.e.fn()+"-rotation")
	logArn := c.logGroup("KeygateRotationFunctionLogGroup", "/aws/lambda/"+name)
	roleArn := c.role("KeygateRotationFunctionRole", "keygate-rotation", map[string]grant{
		"WriteLogs": {actions: []string{"logs:CreateLogStream", "logs:PutLogEvents"}, resource: logArn},
		"RotateTheKey": {actions: []string{"secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue",
			"secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"}, resource: c.secretArn()},
	})
	f, err := aws_.lam.GetFunctionConfiguration(c.ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(name)})
	c.must(err, "GetFunctionConfiguration "+name)
	c.eq("rotation function state", fmt.Sprint(f.State), "Active")
	c.eq("rotation function runtime/handler/arch", fmt.Sprint(f.Runtime, " ", aws.ToString(f.Handler), " ", f.Architectures), "provided.al2023 bootstrap [arm64]")
	c.eq("rotation function timeout", aws.ToInt32(f.Timeout), int32(30))
	c.eq("rotation function memory", aws.ToInt32(f.MemorySize), int32(128))
	c.eq("rotation function role", aws.ToString(f.Role), roleArn)
	var env map[string]string
	if f.Environment != nil {
		env = f.Environment.Variables
	}
	c.eq("rotation function environment", env, map[string]string{"LOG_LEVEL": "info"})
	if f.CodeSize < 1<<20 {
		c.t.Errorf("rotation function code: %d bytes", f.CodeSize)
	}

	sid := c.physical("KeygateRotationPermission")
	pol, err := aws_.lam.GetPolicy(c.ctx, &lambda.GetPolicyInput{FunctionName: aws.String(name)})
	c.must(err, "GetPolicy "+name)
	var doc struct{ Statement []statement }
	c.must(json.Unmarshal([]byte(aws.ToString(pol.Policy)), &doc), "rotation function policy")
	if len(doc.Statement) != 1 || doc.Statement[0].Sid != sid ||
		!reflect.DeepEqual(doc.Statement[0].Principal, map[string]any{"Service": "secretsmanager.amazonaws.com"}) ||
		!reflect.DeepEqual(strs(doc.Statement[0].Action), []string{"lambda:InvokeFunction"}) ||
		!reflect.DeepEqual(doc.Statement[0].Condition, map[string]map[string]any{"ArnLike": {"AWS:SourceArn": c.secretArn()}}) {
		c.t.Errorf("rotation function policy %s: want Secrets Manager may invoke it for the secret only (%s)", aws.ToString(pol.Policy), sid)
	}

	// AWS::SecretsManager::RotationSchedule is a no-op in LocalStack: the
	// resource is created, the secret gets no rotation. samcheck's
	// template tests cover the schedule (days, function, not at once).
	c.physical("ApiKeyRotationSchedule")
	rotates := aws.ToBool(d.RotationEnabled)
	days := int64(0)
	if d.RotationRules != nil {
		days = aws.ToInt64(d.RotationRules.AutomaticallyAfterDays)
	}
	got := fmt.Sprint(rotates, " ", days, " ", aws.ToString(d.RotationLambdaARN))
	c.gap("ApiKeyRotationSchedule (rotation enabled, days, function)", got,
		fmt.Sprint(true, " ", c.e.rotation, " ", aws.ToString(f.FunctionArn)), fmt.Sprint(false, " ", 0, " "))
}

func (c *checker) functionURL() {
	u, err := aws_.lam.GetFunctionUrlConfig(c.ctx, &lambda.GetFunctionUrlConfigInput{FunctionName: aws.String(c.e.fn())})
	if !c.e.functionURL {
		if err == nil {
			c.t.Errorf("the function has a Function URL (%s) without EnableFunctionUrl", aws.ToString(u.FunctionUrl))
		}
		return
	}
	c.must(err, "GetFunctionUrlConfig")
	c.physical("KeygateFunctionUrl")
	c.eq("Function URL auth type", string(u.AuthType), "NONE")
	c.eq("output FunctionUrl", c.outputs["FunctionUrl"], aws.ToString(u.FunctionUrl))
}

func (c *checker) guarded() {
	if c.e.backend == "" {
		return
	}
	api := c.physical("GuardedApi")
	r, err := aws_.apig.GetRestApi(c.ctx, &apigateway.GetRestApiInput{RestApiId: aws.String(api)})
	c.must(err, "GetRestApi "+api)
	c.eq("guarded API name", aws.ToString(r.Name), c.e.stack+"-guarded")
	c.eq("guarded API description", aws.ToString(r.Description), c.e.backend+", guarded by keygate's API keys")
	if r.EndpointConfiguration == nil || fmt.Sprint(r.EndpointConfiguration.Types) != "[REGIONAL]" {
		c.t.Errorf("guarded API endpoint %+v, want REGIONAL", r.EndpointConfiguration)
	}

	authID := c.physical("GuardedApiAuthorizer")
	a, err := aws_.apig.GetAuthorizer(c.ctx, &apigateway.GetAuthorizerInput{RestApiId: aws.String(api), AuthorizerId: aws.String(authID)})
	c.must(err, "GetAuthorizer")
	c.eq("authorizer", fmt.Sprint(aws.ToString(a.Name), " ", a.Type, " ", aws.ToString(a.IdentitySource), " ttl ", aws.ToInt32(a.AuthorizerResultTtlInSeconds)),
		"keygate REQUEST method.request.header.x-api-key, context.identity.sourceIp ttl 300")
	c.eq("authorizer URI", aws.ToString(a.AuthorizerUri), fmt.Sprintf("arn:aws:apigateway:%s:lambda:path/2015-03-31/functions/%s/invocations", region, c.fnArn()))
	all, err := aws_.apig.GetAuthorizers(c.ctx, &apigateway.GetAuthorizersInput{RestApiId: aws.String(api)})
	c.must(err, "GetAuthorizers")
	c.eq("authorizers of the guarded API", len(all.Items), 1)

	ms := c.methods(api)
	c.eq("guarded API routes", keys(ms), []string{"ANY /", "ANY /{proxy+}"})
	proxy := c.physical("GuardedApiProxyResource")
	c.eq("GuardedApiProxyResource", ms["ANY /{proxy+}"], proxy)
	client := map[string]string{
		"integration.request.header.X-Keygate-Client": "context.authorizer.client",
		"integration.request.header.X-Keygate-Meta":   "context.authorizer.meta",
		"integration.request.header.x-api-key":        "''",
	}
	for _, m := range []struct {
		logical, route, uri string
		method              map[string]bool
		integration         map[string]string
	}{
		{"GuardedApiRootMethod", "ANY /", c.e.backend + "/", nil, client},
		{"GuardedApiProxyMethod", "ANY /{proxy+}", c.e.backend + "/{proxy}", map[string]bool{"method.request.path.proxy": true},
			map[string]string{"integration.request.path.proxy": "method.request.path.proxy",
				"integration.request.header.X-Keygate-Client": "context.authorizer.client", "integration.request.header.X-Keygate-Meta": "context.authorizer.meta",
				"integration.request.header.x-api-key": "''"}},
	} {
		c.eq(m.logical+" physical ID", c.physical(m.logical), api+"-"+ms[m.route]+"-ANY")
		got, err := aws_.apig.GetMethod(c.ctx, &apigateway.GetMethodInput{RestApiId: aws.String(api), ResourceId: aws.String(ms[m.route]), HttpMethod: aws.String("ANY")})
		c.must(err, "GetMethod "+m.route)
		c.eq(m.logical+" authorization", fmt.Sprint(aws.ToString(got.AuthorizationType), " ", aws.ToString(got.AuthorizerId)), "CUSTOM "+authID)
		if len(m.method) > 0 || len(got.RequestParameters) > 0 {
			c.eq(m.logical+" request parameters", got.RequestParameters, m.method)
		}
		in := got.MethodIntegration
		if in == nil {
			c.t.Errorf("%s: no integration", m.logical)
			continue
		}
		c.eq(m.logical+" integration", fmt.Sprint(in.Type, " ", aws.ToString(in.HttpMethod), " ", aws.ToString(in.Uri)), "HTTP_PROXY ANY "+m.uri)
		c.eq(m.logical+" integration request parameters", in.RequestParameters, m.integration)
	}

	refusal := map[string]string{
		"gatewayresponse.header.WWW-Authenticate":       `'ApiKey header="x-api-key"'`,
		"gatewayresponse.header.Cache-Control":          "'no-store'",
		"gatewayresponse.header.X-Content-Type-Options": "'nosniff'",
	}
	for _, g := range []struct {
		logical string
		typ     apigtypes.GatewayResponseType
		status  string
		params  map[string]string
		body    string
	}{
		{"GuardedApiUnauthorized", apigtypes.GatewayResponseTypeUnauthorized, "401", refusal, `{"message":"ERROR: Unauthorized"}`},
		{"GuardedApiAccessDenied", apigtypes.GatewayResponseTypeAccessDenied, "401", refusal, `{"message":"ERROR: Unauthorized"}`},
		{"GuardedApiAuthorizerFailure", apigtypes.GatewayResponseTypeAuthorizerFailure, "503", map[string]string{
			"gatewayresponse.header.Cache-Control": "'no-store'", "gatewayresponse.header.X-Content-Type-Options": "'nosniff'",
		}, `{"message":"ERROR: Service Unavailable"}`},
	} {
		c.physical(g.logical)
		got, err := aws_.apig.GetGatewayResponse(c.ctx, &apigateway.GetGatewayResponseInput{RestApiId: aws.String(api), ResponseType: g.typ})
		c.must(err, "GetGatewayResponse "+string(g.typ))
		c.eq(g.logical+" status", aws.ToString(got.StatusCode), g.status)
		c.eq(g.logical+" headers", got.ResponseParameters, g.params)
		c.eq(g.logical+" body", got.ResponseTemplates, map[string]string{"application/json": g.body})
	}
	deployment := "GuardedApiDeployment"
	if c.e.usagePlans {
		deployment = "GuardedApiPlansDeployment"
	}
	c.stage(api, "GuardedApiStage", deployment)
	c.usagePlans(api, ms)
	c.apiURL("GuardedApiUrl", api)
	c.eq("output GuardedRestApiId", c.outputs["GuardedRestApiId"], api)
	c.eq("output GuardedTryCommand", c.outputs["GuardedTryCommand"], fmt.Sprintf(`curl -sS -H "x-api-key: $(aws secretsmanager get-secret-value --region %s --secret-id %s --query SecretString --output text)" https://%s.execute-api.%s.%s/Prod/`, region, c.secretArn(), api, region, urlSuffix))
}

// outputsExact: the stack's outputs are exactly those its parameters
// call for (the values are checked with their resources).
func (c *checker) outputsExact() {
	want := []string{"ApiUrl", "DashboardUrl", "FunctionName", "OperatorPolicyArn", "ReadKeyCommand", "SecretArn", "TryCommand"}
	if c.e.alarmEmail != "" {
		want = append(want, "AlarmTopic")
	}
	if c.e.functionURL {
		want = append(want, "FunctionUrl")
	}
	if c.e.backend != "" {
		want = append(want, "GuardedApiUrl", "GuardedRestApiId", "GuardedTryCommand")
	}
	sort.Strings(want)
	c.eq("outputs", keys(c.outputs), want)
	c.eq("output SecretArn", c.outputs["SecretArn"], c.secretArn())
	c.eq("output FunctionName", c.outputs["FunctionName"], c.e.fn())
	c.eq("output ReadKeyCommand", c.outputs["ReadKeyCommand"], fmt.Sprintf("aws secretsmanager get-secret-value --region %s --secret-id %s --query SecretString --output text", region, c.secretArn()))
}

// gone is what checkDeleted needs from the stack before it went.
type gone struct {
	expect
	secret, role, policy string
	apis                 []string
}

func snapshot(t testing.TB, e expect) gone {
	t.Helper()
	out, err := aws_.cfn.ListStackResources(context.Background(), &cloudformation.ListStackResourcesInput{StackName: aws.String(e.stack)})
	if err != nil {
		t.Fatal(err)
	}
	g := gone{expect: e}
	for _, r := range out.StackResourceSummaries {
		id, phys := aws.ToString(r.LogicalResourceId), aws.ToString(r.PhysicalResourceId)
		switch {
		case id == "ApiKeySecret":
			g.secret = phys
		case id == "KeygateFunctionRole":
			g.role = phys
		case id == "KeygateOperatorPolicy":
			g.policy = phys
		case aws.ToString(r.ResourceType) == "AWS::ApiGateway::RestApi":
			g.apis = append(g.apis, phys)
		}
	}
	return g
}

// checkDeleted: after sam delete, the stack and what it made are gone.
func checkDeleted(t testing.TB, g gone) {
	t.Helper()
	ctx := context.Background()
	st, err := aws_.cfn.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(g.stack)})
	if err == nil && len(st.Stacks) > 0 && string(st.Stacks[0].StackStatus) != "DELETE_COMPLETE" {
		t.Errorf("stack %s: %s", g.stack, st.Stacks[0].StackStatus)
	}
	if _, err := aws_.lam.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(g.fn())}); err == nil {
		t.Errorf("function %s still exists", g.fn())
	}
	if _, err := aws_.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(g.role)}); err == nil {
		t.Errorf("role %s still exists", g.role)
	}
	if _, err := aws_.iam.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(g.policy)}); err == nil {
		t.Errorf("operator policy %s still exists", g.policy)
	}
	if d, err := aws_.sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(g.secret)}); err == nil && d.DeletedDate == nil {
		t.Errorf("secret %s still exists", g.secret)
	}
	for _, api := range g.apis {
		if _, err := aws_.apig.GetRestApi(ctx, &apigateway.GetRestApiInput{RestApiId: aws.String(api)}); err == nil {
			t.Errorf("REST API %s still exists", api)
		}
	}
	lg, err := aws_.logs.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String("/aws/lambda/" + g.fn())})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range lg.LogGroups {
		t.Errorf("log group %s still exists", aws.ToString(x.LogGroupName))
	}
	checkMonitoringDeleted(t, g.stack)
}
