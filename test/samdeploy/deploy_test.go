//go:build samdeploy

package samdeploy

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/keygate/keygate/test/internal/recorder"
)

// The guarded API's backend: never called (LocalStack runs no function and
// forwards nothing here), only configured. Likewise the alarms' address:
// LocalStack sends no email.
const (
	backend    = "https://backend.example.com"
	alarmEmail = "ops@example.com"
)

// managed is closed once the deploy cycle's first sam deploy has run: it
// creates SAM's managed bucket stack (resolve_s3), as a user's first deploy
// does, and the other tests' deploys, on stacks of their own, wait for it
// rather than race to create it too.
var (
	managed     = make(chan struct{})
	managedOnce sync.Once
)

func managedReady() { managedOnce.Do(func() { close(managed) }) }

func waitManaged(t *testing.T) {
	t.Helper()
	select {
	case <-managed:
	case <-time.After(5 * time.Minute): // the cycle is not running (go test -run)
	}
}

// The deploy cycle of the issue, in order, on samconfig.toml's stack: the
// default parameters (alarms without actions); a redeploy with rotation,
// the Function URL and AlarmEmail (a topic, its subscription, the
// rotation alarm, every alarm notifying the topic); one with BackendUrl
// (the guarded REST API, keygate its authorizer), rotation, the Function
// URL and AlarmEmail off again, which removes their resources, and
// AlarmTopicArn, an existing topic the alarms now notify; then sam delete.
// Each step is checked resource by resource. sam deploy keeps a parameter
// the overrides leave out at its previous value: AlarmEmail="" clears it.
func TestDeployCycle(t *testing.T) {
	t.Parallel()
	tpl := filepath.Join(build, "template.yaml")
	topic, err := aws_.sns.CreateTopic(t.Context(), &sns.CreateTopicInput{Name: aws.String("ops-alarms")})
	if err != nil {
		t.Fatalf("creating the existing topic of AlarmTopicArn: %v", err)
	}
	opsTopic := aws.ToString(topic.TopicArn)
	steps := []struct {
		name   string
		params []string
		e      expect
	}{
		{"default parameters", nil, expect{stack: "keygate"}},
		{"RotationDays=30 EnableFunctionUrl=true AlarmEmail", []string{"RotationDays=30", "EnableFunctionUrl=true", "AlarmEmail=" + alarmEmail},
			expect{stack: "keygate", rotation: 30, functionURL: true, alarmEmail: alarmEmail}},
		{"BackendUrl, AlarmTopicArn; rotation, Function URL and AlarmEmail off",
			[]string{"RotationDays=0", "EnableFunctionUrl=false", "BackendUrl=" + backend, `AlarmEmail=""`, "AlarmTopicArn=" + opsTopic},
			expect{stack: "keygate", backend: backend, alarmTopic: opsTopic}},
	}
	defer managedReady()
	var last expect
	for _, s := range steps {
		if !t.Run(s.name, func(t *testing.T) {
			res := deploy(t, tpl, "", s.params...)
			managedReady()
			if res.err != nil {
				t.Fatalf("%v\n%s", res.err, progress(res.out))
			}
			if !strings.Contains(res.out, "Successfully created/updated stack - keygate in "+region) {
				t.Errorf("sam deploy did not report success:\n%s", progress(res.out))
			}
			checkStack(t, s.e)
			last = s.e
		}) {
			break
		}
	}
	t.Run("sam delete", func(t *testing.T) {
		if last.stack == "" {
			t.Skip("nothing was deployed")
		}
		g := snapshot(t, last)
		res := sam(t.Context(), 5*time.Minute, "delete", "--stack-name", "keygate", "--region", region, "--no-prompts")
		t.Logf("sam delete (%s): %s", res.took.Round(100*time.Millisecond), errOrOK(res.err))
		if res.err != nil || !strings.Contains(res.out, "Deleted successfully") {
			t.Fatalf("sam delete: %v\n%s", res.err, res.out)
		}
		checkDeleted(t, g)
	})
}

// A guarded backend with UsagePlans, on a stack of its own: the two plans
// on its stage, the key source, the methods' ApiKeyRequired, the
// deployment that serves them, the operator policy's grants; then the
// real keygate CLI, built from cmd/keygate, puts a client in a plan,
// moves it, lists it and revokes it, against that stack. (On a stack of
// its own because LocalStack cannot update a REST API's key source, which
// turning UsagePlans on for an existing stack does.)
func TestUsagePlans(t *testing.T) {
	t.Parallel()
	waitManaged(t)
	const stack = "keygate-plans"
	res := deploy(t, filepath.Join(build, "template.yaml"), stack, "BackendUrl="+backend, "UsagePlans=true")
	if res.err != nil {
		t.Fatalf("%v\n%s", res.err, progress(res.out))
	}
	checkStack(t, expect{stack: stack, backend: backend, usagePlans: true})
	checkPlanCLI(t, stackOutputs(t, stack))
}

// LocalStack's community edition has no HTTP API (apigatewayv2 is Pro's):
// without CFN_IGNORE_UNSUPPORTED_RESOURCE_TYPES=0 it would "deploy" its
// resources as a fallback that creates nothing, and the stack would look
// complete. With it the deploy fails, naming the type. So EnableHttpApi
// stays off in these tests: the HTTP API's resources are checked by `sam
// validate --lint`, cfn-lint and the template tests (samcheck).
func TestHTTPAPIIsRefused(t *testing.T) {
	t.Parallel()
	waitManaged(t)
	res := deploy(t, filepath.Join(build, "template.yaml"), "keygate-httpapi", "EnableHttpApi=true")
	if res.err == nil {
		t.Fatalf("sam deploy with EnableHttpApi=true succeeded against LocalStack, which has no HTTP API: a faked resource\n%s", progress(res.out))
	}
	if !strings.Contains(res.out, "AWS::ApiGatewayV2::Api") || !strings.Contains(strings.Join(strings.Fields(res.out), " "), "not supported") {
		t.Errorf("the failed deploy does not name the unsupported type:\n%s", progress(res.out))
	}
}

// brokenCopy writes a copy of the built template with old replaced by new
// (once, and it must be there) next to it, so that its CodeUri paths hold.
func brokenCopy(t *testing.T, name, old, new string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(build, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(b), old) != 1 {
		t.Fatalf("the built template has %d times %q, want once", strings.Count(string(b), old), old)
	}
	p := filepath.Join(build, name)
	if err := os.WriteFile(p, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// A copy of the template whose role policy names a log group that does
// not exist (a typo in a GetAtt): the deploy must fail, and say which. (A
// CloudFormation that ignored what it cannot resolve would pass it.)
func TestDanglingReferenceFails(t *testing.T) {
	t.Parallel()
	waitManaged(t)
	tpl := brokenCopy(t, "template-dangling-ref.yaml",
		"Fn::GetAtt:\n              - KeygateFunctionLogGroup\n", "Fn::GetAtt:\n              - KeygateFunctionLogGrup\n")
	res := deploy(t, tpl, "keygate-dangling")
	if res.err == nil {
		t.Fatalf("a template referring to KeygateFunctionLogGrup deployed:\n%s", progress(res.out))
	}
	if !strings.Contains(res.out, "KeygateFunctionLogGrup") {
		t.Errorf("the failed deploy does not name the missing resource:\n%s", progress(res.out))
	}
	t.Logf("sam deploy says: %s", firstWith(strings.Split(res.out, "\n"), "Error:"))
}

// A copy of the template whose function reads the wrong resource as its
// secret (a valid reference to the log group): it deploys, and the
// resource checks must report it, while the real template passes them.
func TestWrongReferenceIsReported(t *testing.T) {
	t.Parallel()
	waitManaged(t)
	tpl := brokenCopy(t, "template-wrong-ref.yaml",
		"API_KEY_SECRET_ID:\n            Fn::If:\n            - CreateSecret\n            - Ref: ApiKeySecret\n",
		"API_KEY_SECRET_ID:\n            Fn::If:\n            - CreateSecret\n            - Ref: KeygateFunctionLogGroup\n")
	res := deploy(t, tpl, "keygate-wrong-ref")
	if res.err != nil {
		t.Fatalf("%v\n%s", res.err, progress(res.out))
	}
	errs := recorder.Failures(t, func(tb testing.TB) { checkStack(tb, expect{stack: "keygate-wrong-ref"}) })
	found := false
	for _, e := range errs {
		if strings.Contains(e, "function environment") && strings.Contains(e, "/aws/lambda/keygate-wrong-ref-keygate") {
			found = true
		}
	}
	if !found {
		t.Errorf("the checks did not report the function's API_KEY_SECRET_ID naming the log group; they reported %q", errs)
	}
	t.Logf("the checks reported %d failures, among them: %s", len(errs), firstWith(errs, "function environment"))
}

func firstWith(errs []string, substr string) string {
	for _, e := range errs {
		if strings.Contains(e, substr) {
			s, _, _ := strings.Cut(e, "\n")
			return s
		}
	}
	return ""
}
