package samcheck

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	samples "github.com/keygate/keygate/events"

	"github.com/keygate/keygate/test/internal/repo"

	"github.com/awslabs/goformation/v7/cloudformation/global"
	"github.com/awslabs/goformation/v7/cloudformation/serverless"

	"github.com/keygate/keygate/internal/config"
	"github.com/keygate/keygate/internal/keycache"
)

// Logical IDs the Makefile, samconfig.toml and events/env.json rely on.
const (
	apiFunction      = "KeygateFunction"
	rotationFunction = "KeygateRotationFunction"
)

// scenario is one way to deploy the template.
type scenario struct {
	name   string
	params map[string]string
}

const (
	existingSecret = "arn:aws:secretsmanager:us-east-1:123456789012:secret:keygate/api-key-AbCdEf"
	kmsKey         = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	opsTopic       = "arn:aws:sns:us-east-1:123456789012:ops-alarms"
)

var scenarios = []scenario{
	{"defaults", nil},
	{"generated secret, KMS key, rotation, alarm email", map[string]string{
		"KmsKeyArn": kmsKey, "RotationDays": "7", "AlarmEmail": "ops@example.com",
	}},
	{"existing secret, KMS key, rotation, every front door, other settings", map[string]string{
		"ExistingSecretArn": existingSecret, "KmsKeyArn": kmsKey, "RotationDays": "30",
		"EnableHttpApi": "true", "EnableFunctionUrl": "true",
		"ThrottlingRateLimit": "5", "ThrottlingBurstLimit": "7",
		"KeyRefresh": "1m", "KeyGrace": "2h", "LogLevel": "debug", "LogRetentionDays": "7",
		"MetricsNamespace": "Keygate/Prod", "KeySetMaxAge": "180", "InvalidKeyThreshold": "20",
		"AlarmTopicArn": opsTopic, "AlarmEmail": "oncall@example.com",
	}},
	{"a guarded backend, REST API only, alarm topic", map[string]string{"BackendUrl": "https://backend.example.com", "AlarmTopicArn": opsTopic}},
	{"a guarded backend, REST and HTTP API, KMS key, cache TTL", map[string]string{
		"BackendUrl": "https://backend.example.com/v1", "EnableHttpApi": "true", "KmsKeyArn": kmsKey, "AuthorizerCacheTtl": "60",
	}},
	{"a guarded backend with usage plans, other limits", map[string]string{
		"BackendUrl": "https://backend.example.com", "UsagePlans": "true",
		"BasicPlanRateLimit": "1.5", "BasicPlanDailyQuota": "0", "GoldPlanBurstLimit": "40", "GoldPlanDailyQuota": "500000",
	}},
	{"usage plans without a guarded backend: none", map[string]string{"UsagePlans": "true"}},
}

// expect is what a scenario's stack must hold.
type expect struct {
	secret        string // the secret's ARN as the template resolves it
	createdSecret bool
	kms           string
	rotation      int
	httpAPI       bool
	functionURL   bool
	backend       string // BackendUrl: the guarded API's backend
	cacheTTL      int
	namespace     string // MetricsNamespace
	keySetMaxAge  int    // seconds
	invalidKeys   int    // InvalidKeyThreshold
	alarmTopic    string // AlarmTopicArn
	alarmEmail    string
	// usagePlans: UsagePlans with a guarded backend; basic and gold are
	// each plan's rate, burst and daily quota (0: none).
	usagePlans  bool
	basic, gold [3]float64
}

// expect reads what the scenario's parameters mean for the stack; a value
// that does not parse fails t (see param).
func (sc scenario) expect(t testing.TB) expect {
	t.Helper()
	e := expect{secret: ref("ApiKeySecret"), createdSecret: true}
	if arn := sc.params["ExistingSecretArn"]; arn != "" {
		e.secret, e.createdSecret = arn, false
	}
	e.kms = sc.params["KmsKeyArn"]
	e.rotation = param(t, sc, "RotationDays", 0, strconv.Atoi)
	e.httpAPI = sc.params["EnableHttpApi"] == "true"
	e.functionURL = sc.params["EnableFunctionUrl"] == "true"
	e.backend = sc.params["BackendUrl"]
	e.cacheTTL = param(t, sc, "AuthorizerCacheTtl", 300, strconv.Atoi)
	e.namespace = param(t, sc, "MetricsNamespace", "Keygate", func(v string) (string, error) { return v, nil })
	e.keySetMaxAge = param(t, sc, "KeySetMaxAge", 900, strconv.Atoi)
	e.invalidKeys = param(t, sc, "InvalidKeyThreshold", 100, strconv.Atoi)
	e.alarmTopic = sc.params["AlarmTopicArn"]
	e.alarmEmail = sc.params["AlarmEmail"]
	e.usagePlans = e.backend != "" && sc.params["UsagePlans"] == "true"
	for i, limit := range []string{"RateLimit", "BurstLimit", "DailyQuota"} {
		e.basic[i] = param(t, sc, "BasicPlan"+limit, [3]float64{2, 5, 10000}[i], finite)
		e.gold[i] = param(t, sc, "GoldPlan"+limit, [3]float64{10, 20, 0}[i], finite)
	}
	return e
}

// param is the scenario's value of the parameter name as parse reads it,
// or def when the scenario leaves it out. A value parse refuses fails t: a
// typo ("7d", "3O0") must not read as the default, which for RotationDays
// would mean "no rotation expected".
func param[T any](t testing.TB, sc scenario, name string, def T, parse func(string) (T, error)) T {
	t.Helper()
	v, ok := sc.params[name]
	if !ok {
		return def
	}
	x, err := parse(v)
	if err != nil {
		t.Fatalf("scenario %q: %s=%q: %v", sc.name, name, v, err)
	}
	return x
}

// finite reads a Number parameter's value: NaN and infinities, which
// strconv.ParseFloat takes, are no numbers CloudFormation would pass on.
func finite(v string) (float64, error) {
	f, err := strconv.ParseFloat(v, 64)
	if err == nil && (math.IsNaN(f) || math.IsInf(f, 0)) {
		err = errors.New("not a finite number")
	}
	return f, err
}

func templatePath(t *testing.T) string {
	t.Helper()
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "template.yaml")
}

func forEachScenario(t *testing.T, check func(t *testing.T, s *stack, sc scenario, e expect)) {
	file := templatePath(t)
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			check(t, loadStack(t, file, sc.params), sc, sc.expect(t))
		})
	}
}

// fn is a SAM function with the template's Globals applied, as SAM
// applies them.
type fn struct {
	*serverless.Function
	runtime, handler string
	arch             []string
	memory, timeout  int
	logFormat        string
}

func function(t *testing.T, s *stack, name string) fn {
	t.Helper()
	f, err := s.tpl.GetServerlessFunctionWithName(name)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	g, err := s.tpl.GetServerlessGlobalFunction()
	if err != nil {
		g = &global.Function{}
	}
	out := fn{Function: f}
	out.runtime = pick(f.Runtime, g.Runtime)
	out.handler = pick(f.Handler, g.Handler)
	out.memory = pick(f.MemorySize, g.MemorySize)
	out.timeout = pick(f.Timeout, g.Timeout)
	out.arch = f.Architectures
	if out.arch == nil && g.Architectures != nil {
		out.arch = *g.Architectures
	}
	// goformation's types predate LoggingConfig.
	out.logFormat, _ = at(s.props(t, name), "LoggingConfig", "LogFormat").(string)
	if out.logFormat == "" {
		out.logFormat, _ = at(s.doc, "Globals", "Function", "LoggingConfig", "LogFormat").(string)
	}
	return out
}

func pick[T any](own, global *T) T {
	if own != nil {
		return *own
	}
	if global != nil {
		return *global
	}
	var zero T
	return zero
}

// TestFunctions: runtime, architecture, handler, build, memory, timeout,
// logging, for the API function and (when rotation is on) the rotation
// function.
func TestFunctions(t *testing.T) {
	makefile := readRepoFile(t, "Makefile")
	forEachScenario(t, func(t *testing.T, s *stack, sc scenario, e expect) {
		want := map[string]string{apiFunction: "./cmd/api"}
		if e.rotation > 0 {
			want[rotationFunction] = "./cmd/rotate"
		}
		got := map[string]string{}
		for _, name := range s.resourcesOfType("AWS::Serverless::Function") {
			got[name] = want[name]
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("functions %v, want %v", keys(got), keys(want))
		}
		for name, pkg := range want {
			f := function(t, s, name)
			if f.runtime != "provided.al2023" || f.handler != "bootstrap" || !reflect.DeepEqual(f.arch, []string{"arm64"}) {
				t.Errorf("%s: runtime %q, handler %q, architectures %v; want provided.al2023, bootstrap, [arm64]", name, f.runtime, f.handler, f.arch)
			}
			if f.memory <= 0 || f.memory > 128 {
				t.Errorf("%s: MemorySize %d, want at most 128", name, f.memory)
			}
			maxTimeout := 15
			if name == rotationFunction {
				maxTimeout = 60 // four Secrets Manager calls, each retried
			}
			// The cold-start read is bounded by KEY_LOAD_TIMEOUT; the
			// function needs headroom above it, and no more.
			if f.timeout < 5 || f.timeout > maxTimeout {
				t.Errorf("%s: Timeout %d s, want 5..%d", name, f.timeout, maxTimeout)
			}
			if f.logFormat != "JSON" {
				t.Errorf("%s: LoggingConfig.LogFormat %q, want JSON", name, f.logFormat)
			}
			if bm := f.AWSCloudFormationMetadata["BuildMethod"]; bm != "makefile" {
				t.Errorf("%s: Metadata.BuildMethod %v, want makefile", name, bm)
			}
			// The repository root is the Go module: sam build runs the
			// Makefile there.
			if f.CodeUri == nil || f.CodeUri.String == nil || *f.CodeUri.String != "." {
				t.Errorf("%s: CodeUri must be . (the module root)", name)
			}
			target := regexp.MustCompile(`(?m)^build-` + name + `:.*\n\t(.*)$`).FindStringSubmatch(makefile)
			if target == nil {
				t.Errorf("Makefile has no target build-%s for sam build", name)
			} else if !strings.Contains(target[1], "$(ARTIFACTS_DIR)/bootstrap") || !strings.HasSuffix(strings.TrimSpace(target[1]), " "+pkg) {
				t.Errorf("Makefile build-%s: %q, want a build of %s into $(ARTIFACTS_DIR)/bootstrap", name, target[1], pkg)
			}
			if f.Policies != nil {
				t.Errorf("%s: SAM Policies are ignored next to Role; put permissions in the role", name)
			}
			if f.FunctionUrlConfig != nil {
				t.Errorf("%s: FunctionUrlConfig cannot be switched off by a parameter; the Function URL is AWS::Lambda::Url under EnableFunctionUrl", name)
			}
		}
	})
}

// TestEnvironment: every variable the function reads is declared (sam
// local --env-vars overrides only declared ones), with the documented
// defaults, and API_KEY_SECRET_ID names the stack's secret.
func TestEnvironment(t *testing.T) {
	envFile, err := samples.Env()
	if err != nil {
		t.Fatal(err)
	}
	forEachScenario(t, func(t *testing.T, s *stack, sc scenario, e expect) {
		f := function(t, s, apiFunction)
		if f.Environment == nil {
			t.Fatalf("%s declares no environment", apiFunction)
		}
		vars := f.Environment.Variables
		param := func(name, def string) string {
			if v, ok := sc.params[name]; ok {
				return v
			}
			return def
		}
		want := map[string]string{
			"API_KEY_SECRET_ID": e.secret,
			"API_KEY":           "",
			"KEY_REFRESH":       param("KeyRefresh", "5m"),
			"KEY_GRACE":         param("KeyGrace", "24h"),
			"KEY_LOAD_TIMEOUT":  "3s",
			"LOG_LEVEL":         param("LogLevel", "info"),
			"METRICS_NAMESPACE": e.namespace,
		}
		if !reflect.DeepEqual(vars, want) {
			t.Errorf("environment %v\nwant        %v", vars, want)
		}
		for fnName, env := range envFile {
			if !s.exists(fnName) {
				t.Errorf("events/%s sets variables of %s, which the template does not have", samples.EnvFile, fnName)
			}
			for k := range env {
				if _, ok := vars[k]; fnName == apiFunction && !ok {
					t.Errorf("events/%s sets %s, which %s does not declare: sam local would ignore it", samples.EnvFile, k, fnName)
				}
			}
		}
	})

	// The template's defaults are the function's own.
	s := loadStack(t, templatePath(t), nil)
	vars := function(t, s, apiFunction).Environment.Variables
	for name, def := range map[string]time.Duration{
		"KEY_REFRESH":      config.DefaultRefresh,
		"KEY_GRACE":        config.DefaultGrace,
		"KEY_LOAD_TIMEOUT": keycache.DefaultLoadTimeout,
	} {
		if d, err := time.ParseDuration(vars[name]); err != nil || d != def {
			t.Errorf("%s defaults to %q in the template and to %s in internal/config", name, vars[name], def)
		}
	}
}

// TestSecret: a generated key without punctuation unless an existing
// secret is given, encrypted with the given KMS key.
func TestSecret(t *testing.T) {
	forEachScenario(t, func(t *testing.T, s *stack, sc scenario, e expect) {
		secrets := s.resourcesOfType("AWS::SecretsManager::Secret")
		if !e.createdSecret {
			if len(secrets) != 0 {
				t.Errorf("secrets %v created although ExistingSecretArn is set", secrets)
			}
			return
		}
		if !reflect.DeepEqual(secrets, []string{"ApiKeySecret"}) {
			t.Fatalf("secrets %v, want [ApiKeySecret]", secrets)
		}
		sec, err := s.tpl.GetSecretsManagerSecretWithName("ApiKeySecret")
		if err != nil {
			t.Fatal(err)
		}
		if sec.SecretString != nil {
			t.Errorf("the secret has a literal SecretString: the key must be generated")
		}
		g := sec.GenerateSecretString
		if g == nil {
			t.Fatal("no GenerateSecretString")
		}
		if g.ExcludePunctuation == nil || !*g.ExcludePunctuation || (g.IncludeSpace != nil && *g.IncludeSpace) {
			t.Errorf("the generated key may contain punctuation or spaces, which a header value may need escaped")
		}
		if g.PasswordLength == nil || *g.PasswordLength < 32 {
			t.Errorf("PasswordLength %v, want at least 32", g.PasswordLength)
		}
		if g.SecretStringTemplate != nil && (g.GenerateStringKey == nil || *g.GenerateStringKey != "api_key") {
			t.Errorf("a JSON secret must keep the key in api_key")
		}
		var kms string
		if sec.KmsKeyId != nil {
			kms = *sec.KmsKeyId
		}
		if kms != e.kms {
			t.Errorf("KmsKeyId %q, want %q", kms, e.kms)
		}
	})
}

// TestFunctionPolicy: the API function's role may write its own log group
// and read the one secret (and decrypt it with the given KMS key), nothing
// else.
func TestFunctionPolicy(t *testing.T) {
	forEachScenario(t, func(t *testing.T, s *stack, sc scenario, e expect) {
		want := []string{
			"logs:CreateLogStream on " + getAtt("KeygateFunctionLogGroup.Arn"),
			"logs:PutLogEvents on " + getAtt("KeygateFunctionLogGroup.Arn"),
			"secretsmanager:GetSecretValue on " + e.secret,
		}
		if e.kms != "" {
			want = append(want, "kms:Decrypt on "+e.kms+" via secretsmanager.us-east-1.amazonaws.com")
		}
		checkRole(t, s, apiFunction, "KeygateFunctionRole", want)
		checkLogGroup(t, s, apiFunction, "KeygateFunctionLogGroup")
	})
}

// TestRotation: with RotationDays > 0, Secrets Manager rotates the secret
// with the rotation function, which may touch that secret alone; with 0,
// none of it exists.
func TestRotation(t *testing.T) {
	parts := []string{rotationFunction, "KeygateRotationFunctionRole", "KeygateRotationFunctionLogGroup", "KeygateRotationPermission", "ApiKeyRotationSchedule"}
	forEachScenario(t, func(t *testing.T, s *stack, sc scenario, e expect) {
		for _, name := range parts {
			if s.exists(name) != (e.rotation > 0) {
				t.Errorf("%s exists: %v, want %v (RotationDays %d)", name, s.exists(name), e.rotation > 0, e.rotation)
			}
		}
		if e.rotation == 0 {
			return
		}
		want := []string{
			"logs:CreateLogStream on " + getAtt("KeygateRotationFunctionLogGroup.Arn"),
			"logs:PutLogEvents on " + getAtt("KeygateRotationFunctionLogGroup.Arn"),
			"secretsmanager:DescribeSecret on " + e.secret,
			"secretsmanager:GetSecretValue on " + e.secret,
			"secretsmanager:PutSecretValue on " + e.secret,
			"secretsmanager:UpdateSecretVersionStage on " + e.secret,
		}
		if e.kms != "" {
			via := " via secretsmanager.us-east-1.amazonaws.com"
			want = append(want, "kms:Decrypt on "+e.kms+via, "kms:GenerateDataKey on "+e.kms+via)
		}
		checkRole(t, s, rotationFunction, "KeygateRotationFunctionRole", want)
		checkLogGroup(t, s, rotationFunction, "KeygateRotationFunctionLogGroup")

		sched, err := s.tpl.GetSecretsManagerRotationScheduleWithName("ApiKeyRotationSchedule")
		if err != nil {
			t.Fatal(err)
		}
		if sched.SecretId != e.secret {
			t.Errorf("the schedule rotates %q, want %q", sched.SecretId, e.secret)
		}
		if sched.RotationLambdaARN == nil || *sched.RotationLambdaARN != getAtt(rotationFunction+".Arn") {
			t.Errorf("RotationLambdaARN %v, want the rotation function", sched.RotationLambdaARN)
		}
		if r := sched.RotationRules; r == nil || r.AutomaticallyAfterDays == nil || *r.AutomaticallyAfterDays != e.rotation {
			t.Errorf("RotationRules %+v, want AutomaticallyAfterDays %d", r, e.rotation)
		}
		if !contains(sched.AWSCloudFormationDependsOn, "KeygateRotationPermission") {
			t.Errorf("the schedule must wait for the permission (DependsOn), or its first rotation fails")
		}
		perm, err := s.tpl.GetLambdaPermissionWithName("KeygateRotationPermission")
		if err != nil {
			t.Fatal(err)
		}
		if perm.FunctionName != getAtt(rotationFunction+".Arn") || perm.Action != "lambda:InvokeFunction" ||
			perm.Principal != "secretsmanager.amazonaws.com" || perm.SourceArn == nil || *perm.SourceArn != e.secret {
			t.Errorf("rotation permission %+v: want lambda:InvokeFunction of the rotation function by secretsmanager.amazonaws.com for the one secret", *perm)
		}
	})
}

// TestRestAPI: GET / and every other route reach the function through the
// REST API (payload 1.0), throttled at the stage.
func TestRestAPI(t *testing.T) {
	forEachScenario(t, func(t *testing.T, s *stack, sc scenario, e expect) {
		f := function(t, s, apiFunction)
		var routes []string
		for name, ev := range f.Events {
			if ev.Type != "Api" || ev.Properties == nil || ev.Properties.ApiEvent == nil {
				t.Errorf("event %s: type %s, want Api (REST API, payload 1.0)", name, ev.Type)
				continue
			}
			api := ev.Properties.ApiEvent
			if api.RestApiId != nil {
				t.Errorf("event %s names a RestApiId; the outputs expect SAM's implicit ServerlessRestApi", name)
			}
			routes = append(routes, strings.ToUpper(api.Method)+" "+api.Path)
		}
		sort.Strings(routes)
		if want := []string{"ANY /", "ANY /{proxy+}", "GET /"}; !reflect.DeepEqual(routes, want) {
			t.Errorf("routes %v, want %v", routes, want)
		}
		if apis := s.resourcesOfType("AWS::Serverless::Api"); len(apis) > 0 {
			t.Errorf("explicit APIs %v: the template uses the implicit one", apis)
		}

		rate, burst := throttling(t, sc)
		settings := at(s.doc, "Globals", "Api", "MethodSettings")
		found := false
		for _, m := range asList(settings) {
			found = found || (at(m, "ResourcePath") == "/*" && at(m, "HttpMethod") == "*" &&
				at(m, "ThrottlingRateLimit") == rate && at(m, "ThrottlingBurstLimit") == burst)
		}
		if !found {
			t.Errorf("Globals.Api.MethodSettings %v: want ResourcePath /*, HttpMethod *, ThrottlingRateLimit %v, ThrottlingBurstLimit %v", settings, rate, burst)
		}
	})
}

// throttling is the scenario's rate and burst (the template's defaults,
// 10 and 20, unless it sets them: TestThrottlingDefaults checks those).
func throttling(t testing.TB, sc scenario) (rate, burst float64) {
	t.Helper()
	return param(t, sc, "ThrottlingRateLimit", 10, finite), param(t, sc, "ThrottlingBurstLimit", 20, finite)
}

func TestThrottlingDefaults(t *testing.T) {
	s := loadStack(t, templatePath(t), nil)
	defaults := scenario{"the template's defaults", s.params}
	rate, burst := param(t, defaults, "ThrottlingRateLimit", 0, finite), param(t, defaults, "ThrottlingBurstLimit", 0, finite)
	if rate != 10 || burst != 20 {
		t.Errorf("throttling defaults %v/s burst %v; the tests (and README) assume 10/s burst 20", rate, burst)
	}
}

// TestOptionalFrontDoors: the HTTP API (payload 2.0, throttled) and the
// Function URL exist only when asked for.
func TestOptionalFrontDoors(t *testing.T) {
	httpParts := []string{"HttpApi", "HttpApiIntegration", "HttpApiDefaultRoute", "HttpApiDefaultStage", "HttpApiPermission"}
	urlParts := []string{"KeygateFunctionUrl", "KeygateFunctionUrlPermission", "KeygateFunctionUrlInvokePermission"}
	forEachScenario(t, func(t *testing.T, s *stack, sc scenario, e expect) {
		for _, p := range httpParts {
			if s.exists(p) != e.httpAPI {
				t.Errorf("%s exists: %v, want %v", p, s.exists(p), e.httpAPI)
			}
		}
		for _, p := range urlParts {
			if s.exists(p) != e.functionURL {
				t.Errorf("%s exists: %v, want %v", p, s.exists(p), e.functionURL)
			}
		}
		fnArn := getAtt(apiFunction + ".Arn")
		if e.httpAPI {
			in, err := s.tpl.GetApiGatewayV2IntegrationWithName("HttpApiIntegration")
			if err != nil {
				t.Fatal(err)
			}
			if in.IntegrationType != "AWS_PROXY" || in.IntegrationUri == nil || *in.IntegrationUri != fnArn ||
				in.PayloadFormatVersion == nil || *in.PayloadFormatVersion != "2.0" {
				t.Errorf("HTTP API integration %+v: want AWS_PROXY to the function, payload 2.0", *in)
			}
			route, err := s.tpl.GetApiGatewayV2RouteWithName("HttpApiDefaultRoute")
			if err != nil {
				t.Fatal(err)
			}
			if route.RouteKey != "$default" || route.Target == nil || *route.Target != "integrations/"+ref("HttpApiIntegration") {
				t.Errorf("HTTP API route %q → %v: want $default → the integration (every path reaches the function)", route.RouteKey, route.Target)
			}
			stage, err := s.tpl.GetApiGatewayV2StageWithName("HttpApiDefaultStage")
			if err != nil {
				t.Fatal(err)
			}
			rate, burst := throttling(t, sc)
			rs := stage.DefaultRouteSettings
			if stage.StageName != "$default" || stage.AutoDeploy == nil || !*stage.AutoDeploy || rs == nil ||
				rs.ThrottlingRateLimit == nil || *rs.ThrottlingRateLimit != rate ||
				rs.ThrottlingBurstLimit == nil || float64(*rs.ThrottlingBurstLimit) != burst {
				t.Errorf("HTTP API stage %+v: want $default, auto-deployed, throttled at %v burst %v", *stage, rate, burst)
			}
			perm, err := s.tpl.GetLambdaPermissionWithName("HttpApiPermission")
			if err != nil {
				t.Fatal(err)
			}
			if perm.FunctionName != fnArn || perm.Principal != "apigateway.amazonaws.com" || perm.SourceArn == nil ||
				!strings.Contains(*perm.SourceArn, ref("HttpApi")+"/") {
				t.Errorf("HTTP API permission %+v: want API Gateway, limited to this API", *perm)
			}
		}
		if e.functionURL {
			u, err := s.tpl.GetLambdaUrlWithName("KeygateFunctionUrl")
			if err != nil {
				t.Fatal(err)
			}
			if u.AuthType != "NONE" || u.TargetFunctionArn != fnArn {
				t.Errorf("Function URL %+v: want AuthType NONE on the function", *u)
			}
			p1 := s.props(t, "KeygateFunctionUrlPermission")
			p2 := s.props(t, "KeygateFunctionUrlInvokePermission")
			if p1["Action"] != "lambda:InvokeFunctionUrl" || p1["FunctionUrlAuthType"] != "NONE" || p1["FunctionName"] != fnArn {
				t.Errorf("Function URL permission %v: want lambda:InvokeFunctionUrl with FunctionUrlAuthType NONE", p1)
			}
			if p2["Action"] != "lambda:InvokeFunction" || p2["InvokedViaFunctionUrl"] != true || p2["FunctionName"] != fnArn {
				t.Errorf("Function URL invoke permission %v: want lambda:InvokeFunction limited to calls through the URL", p2)
			}
		}
	})
}

// TestOperatorPolicy: the policy for the person who manages the keys
// allows the keygate CLI on this one secret and revoke --now on this one
// function, nothing else.
func TestOperatorPolicy(t *testing.T) {
	forEachScenario(t, func(t *testing.T, s *stack, sc scenario, e expect) {
		want := []string{
			"secretsmanager:DescribeSecret on " + e.secret,
			"secretsmanager:GetSecretValue on " + e.secret,
			"secretsmanager:PutSecretValue on " + e.secret,
			"secretsmanager:UpdateSecretVersionStage on " + e.secret,
			"lambda:GetFunctionConfiguration on " + getAtt(apiFunction+".Arn"),
			"lambda:UpdateFunctionConfiguration on " + getAtt(apiFunction+".Arn"),
		}
		// keys usage: Logs Insights on the function's log group, in both
		// ARN forms (bare, and GetAtt's with ":*").
		for _, lg := range []string{"arn:aws:logs:us-east-1:123456789012:log-group:" + ref("KeygateFunctionLogGroup"), getAtt("KeygateFunctionLogGroup.Arn")} {
			want = append(want, "logs:StartQuery on "+lg, "logs:GetQueryResults on "+lg)
		}
		// The runbook's top contributors: the stack's two rules.
		for _, rule := range []string{"top-clients", "invalid-key-sources"} {
			want = append(want, "cloudwatch:GetInsightRuleReport on arn:aws:cloudwatch:us-east-1:123456789012:insight-rule/keygate-keygate-"+rule)
		}
		if e.backend != "" {
			want = append(want, "apigateway:DELETE on arn:aws:apigateway:us-east-1::/restapis/"+ref("GuardedApi")+"/stages/Prod/cache/authorizers")
		}
		// --plan and revoke: the plans listed, API keys made and deleted,
		// moved between this stack's two plans only; no API key read.
		if e.usagePlans {
			gw := "arn:aws:apigateway:us-east-1::"
			want = append(want, "apigateway:GET on "+gw+"/usageplans", "apigateway:POST on "+gw+"/apikeys", "apigateway:DELETE on "+gw+"/apikeys/*")
			for _, plan := range []string{"GuardedApiBasicPlan", "GuardedApiGoldPlan"} {
				want = append(want, "apigateway:POST on "+gw+"/usageplans/"+ref(plan)+"/keys", "apigateway:DELETE on "+gw+"/usageplans/"+ref(plan)+"/keys/*")
			}
		}
		if e.kms != "" {
			via := " via secretsmanager.us-east-1.amazonaws.com"
			want = append(want, "kms:Decrypt on "+e.kms+via, "kms:GenerateDataKey on "+e.kms+via)
		}
		got := grants(t, "KeygateOperatorPolicy", s.props(t, "KeygateOperatorPolicy")["PolicyDocument"])
		sort.Strings(got)
		sort.Strings(want)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("operator policy grants\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
		}
	})
}

// TestOutputs: the URL, the secret, and a command that prints the key.
func TestOutputs(t *testing.T) {
	forEachScenario(t, func(t *testing.T, s *stack, sc scenario, e expect) {
		url := "https://" + ref("ServerlessRestApi") + ".execute-api.us-east-1.amazonaws.com/Prod/"
		read := "aws secretsmanager get-secret-value --region us-east-1 --secret-id " + e.secret + " --query SecretString --output text"
		want := map[string]string{
			"ApiUrl":            url,
			"SecretArn":         e.secret,
			"ReadKeyCommand":    read,
			"TryCommand":        `curl -sS -H "x-api-key: $(` + read + `)" ` + url,
			"FunctionName":      ref(apiFunction),
			"OperatorPolicyArn": ref("KeygateOperatorPolicy"),
			"DashboardUrl":      "https://console.aws.amazon.com/cloudwatch/home?region=us-east-1#dashboards/dashboard/" + ref("KeygateDashboard"),
		}
		if e.alarmEmail != "" {
			want["AlarmTopic"] = ref("AlarmTopic")
		}
		if e.httpAPI {
			want["HttpApiUrl"] = getAtt("HttpApi.ApiEndpoint") + "/"
		}
		if e.functionURL {
			want["FunctionUrl"] = getAtt("KeygateFunctionUrl.FunctionUrl")
		}
		if e.backend != "" {
			guarded := "https://" + ref("GuardedApi") + ".execute-api.us-east-1.amazonaws.com/Prod/"
			want["GuardedApiUrl"] = guarded
			want["GuardedTryCommand"] = `curl -sS -H "x-api-key: $(` + read + `)" ` + guarded
			want["GuardedRestApiId"] = ref("GuardedApi")
			if e.httpAPI {
				want["GuardedHttpApiUrl"] = getAtt("GuardedHttpApi.ApiEndpoint") + "/"
			}
		}
		got := map[string]string{}
		for name, o := range s.tpl.Outputs {
			if o.Condition != nil && !s.conds[*o.Condition] {
				continue
			}
			got[name] = scalar(o.Value)
		}
		if !reflect.DeepEqual(got, want) {
			for _, k := range keys(want) {
				if got[k] != want[k] {
					t.Errorf("output %s = %q, want %q", k, got[k], want[k])
				}
			}
			for _, k := range keys(got) {
				if _, ok := want[k]; !ok {
					t.Errorf("unexpected output %s = %q", k, got[k])
				}
			}
		}
	})
}

// checkRole checks that fnName runs as role, that only Lambda assumes it,
// and that its grants are exactly want ("action on resource [via
// service]"): no wildcard, no managed policy, no Deny tricks.
func checkRole(t *testing.T, s *stack, fnName, role string, want []string) {
	t.Helper()
	if f := function(t, s, fnName); f.Role == nil || *f.Role != getAtt(role+".Arn") {
		t.Errorf("%s runs as %v, want %s", fnName, f.Role, role)
	}
	r, err := s.tpl.GetIAMRoleWithName(role)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.ManagedPolicyArns) > 0 || r.PermissionsBoundary != nil {
		t.Errorf("%s: managed policies %v: every permission must be in the inline policy", role, r.ManagedPolicyArns)
	}
	trust := statements(r.AssumeRolePolicyDocument)
	if len(trust) != 1 || at(trust[0], "Effect") != "Allow" || at(trust[0], "Principal", "Service") != "lambda.amazonaws.com" ||
		!reflect.DeepEqual(strs(at(trust[0], "Action")), []string{"sts:AssumeRole"}) {
		t.Errorf("%s: trust policy %v, want Lambda only", role, r.AssumeRolePolicyDocument)
	}
	var docs []any
	for _, p := range r.Policies {
		docs = append(docs, p.PolicyDocument)
	}
	got := grants(t, role, docs...)
	sort.Strings(got)
	sort.Strings(want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s grants\n  %s\nwant\n  %s", role, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// runtimeIDs are the only resources a wildcard may end: the API keys
// keygate makes for clients in usage plans, whose IDs API Gateway picks
// when a key is made, in and out of this stack's two plans. DELETE only;
// no GET, so no key's value is readable.
var runtimeIDs = regexp.MustCompile(`^arn:aws:apigateway:us-east-1::/(apikeys|usageplans/Ref\(GuardedApi(Basic|Gold)Plan\)/keys)/\*$`)

// grants lists what the policy documents allow ("action on resource [via
// service]"), and fails t on anything but plain Allow statements without
// wildcards.
func grants(t *testing.T, who string, docs ...any) []string {
	t.Helper()
	var got []string
	for _, doc := range docs {
		for _, st := range statements(doc) {
			if at(st, "Effect") != "Allow" || at(st, "NotAction") != nil || at(st, "NotResource") != nil {
				t.Errorf("%s: statement %v: want plain Allow statements", who, st)
			}
			via := ""
			if c := at(st, "Condition"); c != nil {
				v, _ := at(c, "StringEquals", "kms:ViaService").(string)
				if v == "" || len(c.(map[string]any)) != 1 {
					t.Errorf("%s: statement %v: unexpected condition", who, st)
				}
				via = " via " + v
			}
			for _, a := range strs(at(st, "Action")) {
				for _, res := range strs(at(st, "Resource")) {
					if strings.Contains(a, "*") || strings.Contains(res, "*") && !runtimeIDs.MatchString(res) || res == "" {
						t.Errorf("%s: %s on %q: no wildcards, no empty resource", who, a, res)
					}
					got = append(got, a+" on "+res+via)
				}
			}
		}
	}
	return got
}

// checkLogGroup checks that the function logs to the group its role may
// write, under the name Lambda uses by default (so `sam logs` finds it).
func checkLogGroup(t *testing.T, s *stack, fnName, group string) {
	t.Helper()
	f := function(t, s, fnName)
	lg, err := s.tpl.GetLogsLogGroupWithName(group)
	if err != nil {
		t.Fatal(err)
	}
	if f.FunctionName == nil || lg.LogGroupName == nil || *lg.LogGroupName != "/aws/lambda/"+*f.FunctionName {
		t.Errorf("%s logs to /aws/lambda/<function name>, and %s is %v (function %v)", fnName, group, lg.LogGroupName, f.FunctionName)
	}
	if at(s.props(t, fnName), "LoggingConfig", "LogGroup") != nil {
		t.Errorf("%s: LoggingConfig.LogGroup moves the logs away from the group its role may write", fnName)
	}
	if lg.RetentionInDays == nil || *lg.RetentionInDays <= 0 {
		t.Errorf("%s: no retention", group)
	}
}

// statements is the Statement list of a policy document, without the
// entries an Fn::If removed (AWS::NoValue).
func statements(doc any) []map[string]any {
	var out []map[string]any
	for _, st := range asList(at(doc, "Statement")) {
		if m, ok := st.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func asList(v any) []any {
	switch v := v.(type) {
	case []any:
		return v
	case nil:
		return nil
	}
	return []any{v}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func readRepoFile(t *testing.T, rel string) string {
	t.Helper()
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		t.Fatalf("reading %s: %v", rel, err)
	}
	return string(b)
}

// TestGuardedAPI: with BackendUrl, a REST API (and with EnableHttpApi an
// HTTP API) forwards every path and method to the backend, with keygate as
// its REQUEST authorizer on the x-api-key header and the caller's address
// (for the HTTP API also the method and path: it decides routes itself),
// the decision cached for AuthorizerCacheTtl, the client's name and meta
// passed on in X-Keygate-Client and X-Keygate-Meta and the key not; refusals answered as keygate answers them; API Gateway may
// invoke the function as the authorizer and only so. Without BackendUrl
// none of it exists.
func TestGuardedAPI(t *testing.T) {
	rest := []string{"GuardedApi", "GuardedApiAuthorizer", "GuardedApiAuthorizerPermission", "GuardedApiProxyResource", "GuardedApiRootMethod",
		"GuardedApiProxyMethod", "GuardedApiUnauthorized", "GuardedApiAccessDenied", "GuardedApiAuthorizerFailure", "GuardedApiStage"}
	plans := []string{"GuardedApiBasicPlan", "GuardedApiGoldPlan", "GuardedApiPlansDeployment"}
	http := []string{"GuardedHttpApi", "GuardedHttpApiAuthorizer", "GuardedHttpApiAuthorizerPermission", "GuardedHttpApiRootIntegration",
		"GuardedHttpApiProxyIntegration", "GuardedHttpApiRootRoute", "GuardedHttpApiProxyRoute", "GuardedHttpApiStage"}
	forEachScenario(t, func(t *testing.T, s *stack, sc scenario, e expect) {
		for _, name := range rest {
			if s.exists(name) != (e.backend != "") {
				t.Errorf("%s exists: %v, want %v (BackendUrl %q)", name, s.exists(name), e.backend != "", e.backend)
			}
		}
		for _, name := range http {
			if want := e.backend != "" && e.httpAPI; s.exists(name) != want {
				t.Errorf("%s exists: %v, want %v", name, s.exists(name), want)
			}
		}
		for _, name := range plans {
			if s.exists(name) != e.usagePlans {
				t.Errorf("%s exists: %v, want %v (UsagePlans with BackendUrl)", name, s.exists(name), e.usagePlans)
			}
		}
		if want := e.backend != "" && !e.usagePlans; s.exists("GuardedApiDeployment") != want {
			t.Errorf("GuardedApiDeployment exists: %v, want %v (the deployment without usage plans)", s.exists("GuardedApiDeployment"), want)
		}
		if e.backend == "" {
			return
		}
		checkUsagePlans(t, s, e)
		fnArn := getAtt(apiFunction + ".Arn")
		invoke := "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/" + fnArn + "/invocations"
		a := s.props(t, "GuardedApiAuthorizer")
		if a["Type"] != "REQUEST" || a["IdentitySource"] != "method.request.header.x-api-key, context.identity.sourceIp" || a["AuthorizerUri"] != invoke ||
			num(a["AuthorizerResultTtlInSeconds"]) != e.cacheTTL {
			t.Errorf("REST authorizer %v: want keygate as a REQUEST authorizer on x-api-key and the source address, cached %ds", a, e.cacheTTL)
		}
		for name, uri := range map[string]string{"GuardedApiRootMethod": e.backend + "/", "GuardedApiProxyMethod": e.backend + "/{proxy}"} {
			m := s.props(t, name)
			in := at(m, "Integration")
			if m["HttpMethod"] != "ANY" || m["AuthorizationType"] != "CUSTOM" || m["AuthorizerId"] != ref("GuardedApiAuthorizer") ||
				at(in, "Type") != "HTTP_PROXY" || at(in, "Uri") != uri ||
				at(in, "RequestParameters", "integration.request.header.X-Keygate-Client") != "context.authorizer.client" ||
				at(in, "RequestParameters", "integration.request.header.X-Keygate-Meta") != "context.authorizer.meta" ||
				at(in, "RequestParameters", "integration.request.header.x-api-key") != "''" {
				t.Errorf("%s %v: want ANY behind the authorizer, proxied to %s with the client's name and meta and without the key", name, m, uri)
			}
		}
		challenge := `'ApiKey header="x-api-key"'`
		for name, want := range map[string][2]string{
			"GuardedApiUnauthorized":      {"UNAUTHORIZED", "401"},
			"GuardedApiAccessDenied":      {"ACCESS_DENIED", "401"},
			"GuardedApiAuthorizerFailure": {"AUTHORIZER_FAILURE", "503"},
		} {
			r := s.props(t, name)
			body := `{"message":"ERROR: Unauthorized"}`
			if want[1] == "503" {
				body = `{"message":"ERROR: Service Unavailable"}`
			}
			if r["ResponseType"] != want[0] || r["StatusCode"] != want[1] || at(r, "ResponseTemplates", "application/json") != body ||
				at(r, "ResponseParameters", "gatewayresponse.header.Cache-Control") != "'no-store'" ||
				(want[1] == "401") != (at(r, "ResponseParameters", "gatewayresponse.header.WWW-Authenticate") == challenge) {
				t.Errorf("%s %v: want %s answered %s %s, as keygate answers", name, r, want[0], want[1], body)
			}
		}
		checkAuthorizerPermission(t, s, "GuardedApiAuthorizerPermission", "GuardedApi", "GuardedApiAuthorizer")
		if !e.httpAPI {
			return
		}
		ha := s.props(t, "GuardedHttpApiAuthorizer")
		if ha["AuthorizerType"] != "REQUEST" || ha["AuthorizerPayloadFormatVersion"] != "2.0" || ha["EnableSimpleResponses"] != true ||
			fmt.Sprint(ha["IdentitySource"]) != "[$request.header.x-api-key $context.identity.sourceIp $context.httpMethod $context.path]" ||
			ha["AuthorizerUri"] != invoke || num(ha["AuthorizerResultTtlInSeconds"]) != e.cacheTTL {
			t.Errorf("HTTP API authorizer %v: want keygate in the simple format on x-api-key, the source address, the method and the path, cached %ds", ha, e.cacheTTL)
		}
		for route, integ := range map[string]string{"GuardedHttpApiRootRoute": "GuardedHttpApiRootIntegration", "GuardedHttpApiProxyRoute": "GuardedHttpApiProxyIntegration"} {
			r, in := s.props(t, route), s.props(t, integ)
			uri := e.backend + "/"
			if route == "GuardedHttpApiProxyRoute" {
				uri += "{proxy}"
			}
			if r["AuthorizationType"] != "CUSTOM" || r["AuthorizerId"] != ref("GuardedHttpApiAuthorizer") || in["IntegrationType"] != "HTTP_PROXY" ||
				in["IntegrationUri"] != uri || at(in, "RequestParameters", "remove:header.x-api-key") != "''" ||
				at(in, "RequestParameters", "overwrite:header.X-Keygate-Client") != "$context.authorizer.client" ||
				at(in, "RequestParameters", "overwrite:header.X-Keygate-Meta") != "$context.authorizer.meta" {
				t.Errorf("%s %v / %v: want it behind the authorizer, proxied to %s with the client's name and meta and without the key", route, r, in, uri)
			}
		}
		checkAuthorizerPermission(t, s, "GuardedHttpApiAuthorizerPermission", "GuardedHttpApi", "GuardedHttpApiAuthorizer")
	})
}

// checkUsagePlans: with usage plans, the guarded REST API takes the API
// key that counts a client from keygate's decision, never from the
// caller, and requires one on every method; the stage serves a deployment
// of the methods as they are (a deployment of its own); the two plans are
// on that stage with the parameters' limits and the tags --plan finds.
// Without, the API key source is the default and no method needs one.
func checkUsagePlans(t *testing.T, s *stack, e expect) {
	t.Helper()
	source, deployment := "HEADER", ref("GuardedApiDeployment")
	if e.usagePlans {
		source, deployment = "AUTHORIZER", ref("GuardedApiPlansDeployment")
	}
	if got := s.props(t, "GuardedApi")["ApiKeySourceType"]; got != source {
		t.Errorf("guarded API key source %v, want %s", got, source)
	}
	for _, m := range []string{"GuardedApiRootMethod", "GuardedApiProxyMethod"} {
		if got := s.props(t, m)["ApiKeyRequired"]; got != e.usagePlans {
			t.Errorf("%s ApiKeyRequired %v, want %v", m, got, e.usagePlans)
		}
	}
	if got := s.props(t, "GuardedApiStage")["DeploymentId"]; got != deployment {
		t.Errorf("GuardedApiStage deployment %v, want %s", got, deployment)
	}
	if !e.usagePlans {
		return
	}
	for _, p := range []struct {
		logical, name string
		limits        [3]float64
	}{{"GuardedApiBasicPlan", "basic", e.basic}, {"GuardedApiGoldPlan", "gold", e.gold}} {
		up := s.props(t, p.logical)
		var quota any
		if p.limits[2] > 0 {
			quota = map[string]any{"Limit": p.limits[2], "Period": "DAY"}
		}
		got := fmt.Sprint(up["UsagePlanName"], up["ApiStages"], numF(at(up, "Throttle", "RateLimit")), numF(at(up, "Throttle", "BurstLimit")), numQuota(up["Quota"]), up["Tags"])
		want := fmt.Sprint("keygate-"+p.name, []any{map[string]any{"ApiId": ref("GuardedApi"), "Stage": ref("GuardedApiStage")}},
			p.limits[0], p.limits[1], numQuota(quota), []any{map[string]any{"Key": "keygate:plan", "Value": p.name}})
		if got != want {
			t.Errorf("%s:\n  %s\nwant (name, stages, rate, burst, quota, tags)\n  %s", p.logical, got, want)
		}
	}
}

// numF is a number the template holds as a number or a string (-1 for
// anything else).
func numF(v any) float64 {
	switch v := v.(type) {
	case float64:
		return v
	case int:
		return float64(v)
	case string:
		if f, err := finite(v); err == nil {
			return f
		}
	}
	return -1
}

// numQuota reads a plan's Quota with its Limit as a number.
func numQuota(v any) any {
	q, ok := v.(map[string]any)
	if !ok {
		return v
	}
	return fmt.Sprint(numF(q["Limit"]), " per ", q["Period"])
}

// checkAuthorizerPermission: API Gateway may invoke the function as this
// authorizer of this API, nothing wider.
func checkAuthorizerPermission(t *testing.T, s *stack, name, api, authorizer string) {
	t.Helper()
	p := s.props(t, name)
	want := "arn:aws:execute-api:us-east-1:123456789012:" + ref(api) + "/authorizers/" + ref(authorizer)
	if p["Principal"] != "apigateway.amazonaws.com" || p["Action"] != "lambda:InvokeFunction" || p["FunctionName"] != getAtt(apiFunction+".Arn") || p["SourceArn"] != want {
		t.Errorf("%s %v: want lambda:InvokeFunction for API Gateway from %s only", name, p, want)
	}
}

// num is a whole number the template holds as a number or a string, and
// -1, which no check expects, for anything else (a string that is not a
// number included: it must not read as 0).
func num(v any) int {
	switch v := v.(type) {
	case float64:
		return int(v)
	case int:
		return v
	case string:
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
	}
	return -1
}
