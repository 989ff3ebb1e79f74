//go:build samdeploy

package samdeploy

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/keygate/keygate/test/internal/proc"
	"github.com/keygate/keygate/test/internal/repo"
	"github.com/keygate/keygate/test/localstack"
)

// LocalStack's account, and its AWS::URLSuffix (localstack_host()).
const (
	account   = "000000000000"
	region    = localstack.Region
	urlSuffix = "localhost.localstack.cloud"
)

// Set up once by TestMain.
var (
	root   string
	work   string
	build  string // sam build's output directory
	server *localstack.Server
	aws_   clients
)

// clients are the AWS SDK's, pointed at LocalStack.
type clients struct {
	cfn  *cloudformation.Client
	lam  *lambda.Client
	iam  *iam.Client
	sm   *secretsmanager.Client
	apig *apigateway.Client
	logs *cloudwatchlogs.Client
	cw   *cloudwatch.Client
	sns  *sns.Client
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "samdeploy: "+format+"\n", args...)
}

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	start := time.Now()
	var err error
	if root, err = repo.Root(); err != nil {
		logf("%v", err)
		return 1
	}
	if _, err := repo.Tool("sam"); err != nil {
		logf("%v", err)
		return 1
	}
	if work, err = os.MkdirTemp("", "keygate-samdeploy-"); err != nil {
		logf("%v", err)
		return 1
	}
	defer os.RemoveAll(work)
	ctx := context.Background()
	built := make(chan error, 1)
	go func() { built <- samBuild(ctx) }()
	server, err = localstack.Start(ctx, filepath.Join(work, "localstack"))
	if err != nil {
		logf("starting LocalStack: %v", err)
		return 1
	}
	defer func() {
		if !server.Stop() {
			logf("LocalStack did not stop within 30 s of SIGTERM: killed")
		}
	}()
	logf("LocalStack (host mode) answers at %s after %s", server.URL, time.Since(start).Round(100*time.Millisecond))
	if err := <-built; err != nil {
		logf("%v", err)
		return 1
	}
	aws_ = newClients(server.URL)
	code := m.Run()
	if code != 0 {
		logf("LocalStack's log ends:\n%s", tail(server.Logs(), 60))
	}
	return code
}

// samBuild builds template.yaml as a user does (samconfig.toml applies).
func samBuild(ctx context.Context) error {
	start := time.Now()
	build = filepath.Join(work, "build")
	res := sam(ctx, 10*time.Minute, "build", "--template", filepath.Join(root, "template.yaml"), "--build-dir", build)
	if res.err != nil || !strings.Contains(res.out, "Build Succeeded") {
		return fmt.Errorf("sam build: %v\n%s", res.err, res.out)
	}
	logf("sam build: %s in %s", build, time.Since(start).Round(100*time.Millisecond))
	return nil
}

func newClients(endpoint string) clients {
	cfg := aws.Config{
		Region:      region,
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
	}
	ep := aws.String(endpoint)
	return clients{
		cfn:  cloudformation.NewFromConfig(cfg, func(o *cloudformation.Options) { o.BaseEndpoint = ep }),
		lam:  lambda.NewFromConfig(cfg, func(o *lambda.Options) { o.BaseEndpoint = ep }),
		iam:  iam.NewFromConfig(cfg, func(o *iam.Options) { o.BaseEndpoint = ep }),
		sm:   secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) { o.BaseEndpoint = ep }),
		apig: apigateway.NewFromConfig(cfg, func(o *apigateway.Options) { o.BaseEndpoint = ep }),
		logs: cloudwatchlogs.NewFromConfig(cfg, func(o *cloudwatchlogs.Options) { o.BaseEndpoint = ep }),
		cw:   cloudwatch.NewFromConfig(cfg, func(o *cloudwatch.Options) { o.BaseEndpoint = ep }),
		sns:  sns.NewFromConfig(cfg, func(o *sns.Options) { o.BaseEndpoint = ep }),
	}
}

type result struct {
	out  string
	err  error
	took time.Duration
}

// sam runs the project's SAM CLI in the repository root, pointed at
// LocalStack (AWS_ENDPOINT_URL, its dummy credentials), with no AWS
// setting of the caller's, in a process group that dies with the test.
func sam(ctx context.Context, timeout time.Duration, args ...string) result {
	bin, err := repo.Tool("sam")
	if err != nil {
		return result{err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.Command(bin, args...)
	cmd.Dir = root
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "SAM_") && !strings.HasPrefix(kv, "MAKEFLAGS=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "SAM_CLI_TELEMETRY=0", "NO_COLOR=1",
		"AWS_REGION="+region, "AWS_DEFAULT_REGION="+region,
		"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true")
	if server != nil {
		cmd.Env = append(cmd.Env, "AWS_ENDPOINT_URL="+server.URL)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	p, err := proc.Start(cmd)
	if err != nil {
		return result{err: err}
	}
	select {
	case <-p.Done():
	case <-ctx.Done():
		p.Stop()
		return result{out: out.String(), err: fmt.Errorf("sam %s: %w", args[0], ctx.Err()), took: time.Since(start)}
	}
	res := result{out: out.String(), took: time.Since(start)}
	if !cmd.ProcessState.Success() {
		res.err = fmt.Errorf("sam %s: %s", strings.Join(args, " "), cmd.ProcessState)
	}
	return res
}

// deploy is `sam deploy` of template (a built one) with samconfig.toml
// (stack keygate, CAPABILITY_IAM, resolve_s3, no failure on an empty
// change set) and the parameters given; --no-confirm-changeset answers
// samconfig's confirm_changeset prompt. stack, when not empty, overrides
// samconfig's stack name.
func deploy(t testing.TB, template, stack string, params ...string) result {
	t.Helper()
	// Each stack's artifacts under a prefix of its own: sam delete removes
	// the objects its stack's template names, and without prefixes the
	// stacks deployed side by side from one build name the same objects
	// (a CreateFunction failed with NoSuchKey when the cycle's sam delete
	// ran during another test's deploy).
	prefix := stack
	if prefix == "" {
		prefix = "keygate" // samconfig.toml's stack_name
	}
	args := []string{"deploy", "--template-file", template, "--config-file", filepath.Join(root, "samconfig.toml"), "--no-confirm-changeset", "--s3-prefix", prefix}
	if stack != "" {
		args = append(args, "--stack-name", stack)
	}
	if len(params) > 0 {
		args = append(args, append([]string{"--parameter-overrides"}, params...)...)
	}
	res := sam(context.Background(), 10*time.Minute, args...)
	t.Logf("sam deploy %s (%s): %s", strings.Join(params, " "), res.took.Round(100*time.Millisecond), errOrOK(res.err))
	return res
}

func errOrOK(err error) string {
	if err != nil {
		return err.Error()
	}
	return "ok"
}

// progress drops sam deploy's upload progress lines, which are long.
func progress(out string) string {
	var keep []string
	for _, line := range strings.Split(out, "\n") {
		if !strings.Contains(line, "Uploading to ") {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n")
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
