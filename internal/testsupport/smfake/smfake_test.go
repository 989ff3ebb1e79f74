package smfake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"
)

const (
	tokenA = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
	tokenB = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"
	tokenC = "cccccccc-cccc-4ccc-8ccc-cccccccccccc"
)

func start(t *testing.T) (*Server, *secretsmanager.Client) {
	t.Helper()
	srv := New()
	t.Cleanup(srv.Close)
	return srv, srv.Client()
}

// code returns the AWS error code of err, "" if it is not an API error.
func code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func status(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func mustCreate(t *testing.T, c *secretsmanager.Client, name, value, token string) *secretsmanager.CreateSecretOutput {
	t.Helper()
	out, err := c.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{
		Name: aws.String(name), SecretString: aws.String(value), ClientRequestToken: aws.String(token),
	})
	if err != nil {
		t.Fatalf("CreateSecret(%s): %v", name, err)
	}
	return out
}

func TestCreateAndGet(t *testing.T) {
	srv, c := start(t)
	ctx := context.Background()
	created := mustCreate(t, c, "prod/api-key", "v1", tokenA)
	arn := srv.ARN("prod/api-key")
	if aws.ToString(created.ARN) != arn || aws.ToString(created.VersionId) != tokenA {
		t.Fatalf("CreateSecret = %s %s, want %s %s", aws.ToString(created.ARN), aws.ToString(created.VersionId), arn, tokenA)
	}
	if !strings.HasPrefix(arn, "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/api-key-") || len(arn) != len("arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/api-key-")+6 {
		t.Fatalf("ARN = %s, not the service's form", arn)
	}
	if again := srv.ARN("prod/api-key"); again != arn {
		t.Fatalf("ARN not deterministic: %s then %s", arn, again)
	}
	when := time.Date(2024, 5, 6, 7, 8, 9, 250e6, time.UTC)
	srv.SetCreated("prod/api-key", tokenA, when)

	tests := []struct {
		name     string
		in       secretsmanager.GetSecretValueInput
		wantCode string
	}{
		{name: "by name", in: secretsmanager.GetSecretValueInput{SecretId: aws.String("prod/api-key")}},
		{name: "by ARN", in: secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)}},
		{name: "by partial ARN", in: secretsmanager.GetSecretValueInput{SecretId: aws.String("arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/api-key")}},
		{name: "by stage", in: secretsmanager.GetSecretValueInput{SecretId: aws.String("prod/api-key"), VersionStage: aws.String("AWSCURRENT")}},
		{name: "by version", in: secretsmanager.GetSecretValueInput{SecretId: aws.String("prod/api-key"), VersionId: aws.String(tokenA)}},
		{name: "version and stage", in: secretsmanager.GetSecretValueInput{SecretId: aws.String("prod/api-key"), VersionId: aws.String(tokenA), VersionStage: aws.String("AWSCURRENT")}},
		{name: "version without that stage", in: secretsmanager.GetSecretValueInput{SecretId: aws.String("prod/api-key"), VersionId: aws.String(tokenA), VersionStage: aws.String("AWSPENDING")}, wantCode: "ResourceNotFoundException"},
		{name: "stage nobody has", in: secretsmanager.GetSecretValueInput{SecretId: aws.String("prod/api-key"), VersionStage: aws.String("AWSPENDING")}, wantCode: "ResourceNotFoundException"},
		{name: "unknown version", in: secretsmanager.GetSecretValueInput{SecretId: aws.String("prod/api-key"), VersionId: aws.String(tokenB)}, wantCode: "ResourceNotFoundException"},
		{name: "unknown name", in: secretsmanager.GetSecretValueInput{SecretId: aws.String("prod/other")}, wantCode: "ResourceNotFoundException"},
		{name: "unknown ARN", in: secretsmanager.GetSecretValueInput{SecretId: aws.String(srv.ARN("prod/other"))}, wantCode: "ResourceNotFoundException"},
		{name: "ARN in another region", in: secretsmanager.GetSecretValueInput{SecretId: aws.String(strings.Replace(arn, "us-east-1", "eu-west-1", 1))}, wantCode: "ResourceNotFoundException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := c.GetSecretValue(ctx, &tt.in)
			if tt.wantCode != "" {
				var nf *types.ResourceNotFoundException
				if code(err) != tt.wantCode || !errors.As(err, &nf) || status(err) != http.StatusBadRequest {
					t.Fatalf("err = %v (code %q, status %d), want %s 400", err, code(err), status(err), tt.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatalf("GetSecretValue: %v", err)
			}
			if aws.ToString(out.SecretString) != "v1" || aws.ToString(out.Name) != "prod/api-key" || aws.ToString(out.ARN) != arn ||
				aws.ToString(out.VersionId) != tokenA || !slices.Equal(out.VersionStages, []string{"AWSCURRENT"}) {
				t.Fatalf("GetSecretValue = %+v", out)
			}
			if !aws.ToTime(out.CreatedDate).Equal(when) {
				t.Fatalf("CreatedDate = %v, want %v", aws.ToTime(out.CreatedDate), when)
			}
		})
	}

	t.Run("not found message", func(t *testing.T) {
		_, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("nope")})
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorMessage() != "Secrets Manager can't find the specified secret." {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("create existing", func(t *testing.T) {
		_, err := c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("prod/api-key"), SecretString: aws.String("other")})
		var re *types.ResourceExistsException
		if !errors.As(err, &re) {
			t.Fatalf("err = %v, want ResourceExistsException", err)
		}
	})
	t.Run("create retried with same token", func(t *testing.T) {
		out := mustCreate(t, c, "prod/api-key", "v1", tokenA)
		if aws.ToString(out.VersionId) != tokenA {
			t.Fatalf("VersionId = %s, want %s", aws.ToString(out.VersionId), tokenA)
		}
	})
	t.Run("binary secret", func(t *testing.T) {
		if _, err := c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("bin"), SecretBinary: []byte{0, 1, 2, 255}}); err != nil {
			t.Fatalf("CreateSecret: %v", err)
		}
		out, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("bin")})
		if err != nil || !slices.Equal(out.SecretBinary, []byte{0, 1, 2, 255}) || out.SecretString != nil {
			t.Fatalf("GetSecretValue = %+v, %v", out, err)
		}
	})
	t.Run("secret without value", func(t *testing.T) {
		out, err := c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("empty")})
		if err != nil || out.VersionId != nil {
			t.Fatalf("CreateSecret = %+v, %v; want no version", out, err)
		}
		_, err = c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("empty")})
		if code(err) != "ResourceNotFoundException" {
			t.Fatalf("err = %v, want ResourceNotFoundException", err)
		}
	})
}

// TestStagingLabels follows a rotation and a rollback step by step, checking
// every version's labels after each step.
func TestStagingLabels(t *testing.T) {
	srv, c := start(t)
	ctx := context.Background()
	const name = "rotating"
	mustCreate(t, c, name, "one", tokenA)

	put := func(token, value string, stages ...string) error {
		_, err := c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
			SecretId: aws.String(name), ClientRequestToken: aws.String(token), SecretString: aws.String(value), VersionStages: stages,
		})
		return err
	}
	move := func(stage, to, from string) error {
		in := &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String(name), VersionStage: aws.String(stage)}
		if to != "" {
			in.MoveToVersionId = aws.String(to)
		}
		if from != "" {
			in.RemoveFromVersionId = aws.String(from)
		}
		_, err := c.UpdateSecretVersionStage(ctx, in)
		return err
	}
	steps := []struct {
		name     string
		do       func() error
		wantCode string
		want     map[string][]string
		current  string
	}{
		{name: "created", do: func() error { return nil },
			want: map[string][]string{tokenA: {"AWSCURRENT"}}, current: "one"},
		{name: "put pending", do: func() error { return put(tokenB, "two", "AWSPENDING") },
			want: map[string][]string{tokenA: {"AWSCURRENT"}, tokenB: {"AWSPENDING"}}, current: "one"},
		{name: "move current without RemoveFromVersionId", do: func() error { return move("AWSCURRENT", tokenB, "") }, wantCode: "InvalidParameterException",
			want: map[string][]string{tokenA: {"AWSCURRENT"}, tokenB: {"AWSPENDING"}}, current: "one"},
		{name: "move current from the wrong version", do: func() error { return move("AWSCURRENT", tokenB, tokenB) }, wantCode: "InvalidParameterException",
			want: map[string][]string{tokenA: {"AWSCURRENT"}, tokenB: {"AWSPENDING"}}, current: "one"},
		{name: "move current to unknown version", do: func() error { return move("AWSCURRENT", tokenC, tokenA) }, wantCode: "ResourceNotFoundException",
			want: map[string][]string{tokenA: {"AWSCURRENT"}, tokenB: {"AWSPENDING"}}, current: "one"},
		{name: "finish: move current", do: func() error { return move("AWSCURRENT", tokenB, tokenA) },
			want: map[string][]string{tokenA: {"AWSPREVIOUS"}, tokenB: {"AWSCURRENT", "AWSPENDING"}}, current: "two"},
		{name: "remove current", do: func() error { return move("AWSCURRENT", "", tokenB) }, wantCode: "InvalidParameterException",
			want: map[string][]string{tokenA: {"AWSPREVIOUS"}, tokenB: {"AWSCURRENT", "AWSPENDING"}}, current: "two"},
		{name: "remove pending", do: func() error { return move("AWSPENDING", "", tokenB) },
			want: map[string][]string{tokenA: {"AWSPREVIOUS"}, tokenB: {"AWSCURRENT"}}, current: "two"},
		{name: "remove a label the version lacks", do: func() error { return move("AWSPENDING", "", tokenB) }, wantCode: "InvalidParameterException",
			want: map[string][]string{tokenA: {"AWSPREVIOUS"}, tokenB: {"AWSCURRENT"}}, current: "two"},
		{name: "put current", do: func() error { return put(tokenC, "three") },
			want: map[string][]string{tokenB: {"AWSPREVIOUS"}, tokenC: {"AWSCURRENT"}}, current: "three"},
		{name: "rollback to previous", do: func() error { return move("AWSCURRENT", tokenB, tokenC) },
			want: map[string][]string{tokenB: {"AWSCURRENT"}, tokenC: {"AWSPREVIOUS"}}, current: "two"},
		{name: "custom label moves alone", do: func() error { return move("MINE", tokenA, "") },
			want: map[string][]string{tokenA: {"MINE"}, tokenB: {"AWSCURRENT"}, tokenC: {"AWSPREVIOUS"}}, current: "two"},
		{name: "put takes a label from another version", do: func() error { return put("dddddddd-dddd-4ddd-8ddd-dddddddddddd", "four", "MINE", "AWSPENDING") },
			want: map[string][]string{"dddddddd-dddd-4ddd-8ddd-dddddddddddd": {"AWSPENDING", "MINE"}, tokenB: {"AWSCURRENT"}, tokenC: {"AWSPREVIOUS"}}, current: "two"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			err := st.do()
			if st.wantCode == "" && err != nil {
				t.Fatalf("err = %v", err)
			}
			if st.wantCode != "" && code(err) != st.wantCode {
				t.Fatalf("err = %v, want %s", err, st.wantCode)
			}
			if got := srv.Stages(name); !reflect.DeepEqual(got, st.want) {
				t.Fatalf("Stages = %v, want %v", got, st.want)
			}
			desc, err := c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(name)})
			if err != nil {
				t.Fatalf("DescribeSecret: %v", err)
			}
			got := map[string][]string{}
			for id, stages := range desc.VersionIdsToStages {
				got[id] = slices.Sorted(slices.Values(stages))
			}
			if !reflect.DeepEqual(got, st.want) {
				t.Fatalf("VersionIdsToStages = %v, want %v", got, st.want)
			}
			out, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(name)})
			if err != nil || aws.ToString(out.SecretString) != st.current {
				t.Fatalf("current = %v, %v; want %q", out, err, st.current)
			}
		})
	}

	t.Run("a deprecated version is kept", func(t *testing.T) {
		// tokenA lost its last label ("MINE") in the last step.
		out, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(name), VersionId: aws.String(tokenA)})
		if err != nil || aws.ToString(out.SecretString) != "one" || len(out.VersionStages) != 0 {
			t.Fatalf("GetSecretValue(VersionId: deprecated) = %v, %v; want \"one\" without labels", out, err)
		}
	})
	t.Run("LastRotatedDate set by moving AWSCURRENT", func(t *testing.T) {
		desc, err := c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(name)})
		if err != nil || desc.LastRotatedDate == nil || desc.LastChangedDate == nil || desc.LastAccessedDate == nil {
			t.Fatalf("DescribeSecret = %+v, %v", desc, err)
		}
	})
	t.Run("Value helper", func(t *testing.T) {
		if v, ok := srv.Value(name, "AWSPREVIOUS"); !ok || v != "three" {
			t.Fatalf("Value(AWSPREVIOUS) = %q, %v", v, ok)
		}
		if _, ok := srv.Value(name, "NOPE"); ok {
			t.Fatal("Value(NOPE) found a version")
		}
	})
}

func TestPutSecretValue(t *testing.T) {
	srv, c := start(t)
	ctx := context.Background()
	mustCreate(t, c, "s", "one", tokenA)
	put := func(token, value string) (*secretsmanager.PutSecretValueOutput, error) {
		return c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
			SecretId: aws.String("s"), ClientRequestToken: aws.String(token), SecretString: aws.String(value),
		})
	}
	tests := []struct {
		name, token, value string
		wantCode           string
		wantStages         map[string][]string
	}{
		{name: "new version", token: tokenB, value: "two",
			wantStages: map[string][]string{tokenA: {"AWSPREVIOUS"}, tokenB: {"AWSCURRENT"}}},
		{name: "same token same value is a no-op", token: tokenB, value: "two",
			wantStages: map[string][]string{tokenA: {"AWSPREVIOUS"}, tokenB: {"AWSCURRENT"}}},
		{name: "same token other value", token: tokenB, value: "other", wantCode: "ResourceExistsException",
			wantStages: map[string][]string{tokenA: {"AWSPREVIOUS"}, tokenB: {"AWSCURRENT"}}},
		{name: "old token same value is a no-op too", token: tokenA, value: "one",
			wantStages: map[string][]string{tokenA: {"AWSPREVIOUS"}, tokenB: {"AWSCURRENT"}}},
		{name: "token too short", token: "short", value: "x", wantCode: "ValidationException",
			wantStages: map[string][]string{tokenA: {"AWSPREVIOUS"}, tokenB: {"AWSCURRENT"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := put(tt.token, tt.value)
			if tt.wantCode != "" {
				if code(err) != tt.wantCode {
					t.Fatalf("err = %v, want %s", err, tt.wantCode)
				}
			} else if err != nil || aws.ToString(out.VersionId) != tt.token {
				t.Fatalf("PutSecretValue = %+v, %v", out, err)
			}
			if got := srv.Stages("s"); !reflect.DeepEqual(got, tt.wantStages) {
				t.Fatalf("Stages = %v, want %v", got, tt.wantStages)
			}
		})
	}
	t.Run("ResourceExistsException type", func(t *testing.T) {
		_, err := put(tokenB, "other")
		var re *types.ResourceExistsException
		if !errors.As(err, &re) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("SDK fills the token", func(t *testing.T) {
		out, err := c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("s"), SecretString: aws.String("three")})
		if err != nil || len(aws.ToString(out.VersionId)) != 36 || !slices.Equal(out.VersionStages, []string{"AWSCURRENT"}) {
			t.Fatalf("PutSecretValue = %+v, %v", out, err)
		}
	})
	t.Run("Put helper", func(t *testing.T) {
		id := srv.Put("s", "four")
		got := srv.Stages("s")
		if !slices.Equal(got[id], []string{"AWSCURRENT"}) || len(got) != 2 {
			t.Fatalf("Stages = %v after Put %s", got, id)
		}
		if v, _ := srv.Value("s", "AWSPREVIOUS"); v != "three" {
			t.Fatalf("AWSPREVIOUS = %q, want three", v)
		}
		id2 := srv.Put("fresh", "x")
		if got := srv.Stages("fresh"); !reflect.DeepEqual(got, map[string][]string{id2: {"AWSCURRENT"}}) {
			t.Fatalf("Stages(fresh) = %v", got)
		}
	})
}

// The Delete helper removes a secret as a forced DeleteSecret does; Put
// creates it again.
func TestDeleteHelper(t *testing.T) {
	srv, c := start(t)
	ctx := context.Background()
	mustCreate(t, c, "d", "v", tokenA)
	get := func() error {
		_, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("d")})
		return err
	}
	srv.Delete("d")
	if err := get(); code(err) != "ResourceNotFoundException" {
		t.Fatalf("after Delete: err = %v, want ResourceNotFoundException", err)
	}
	if got := srv.Secrets(); len(got) != 0 {
		t.Fatalf("after Delete: Secrets = %v, want none", got)
	}
	srv.Put("d", "again")
	if err := get(); err != nil {
		t.Fatalf("after Put: %v", err)
	}
}

func TestDeny(t *testing.T) {
	srv, c := start(t)
	ctx := context.Background()
	srv.Put("denied", "v")
	srv.Deny("denied", true)
	srv.Deny("ghost", true)
	for _, id := range []string{"denied", srv.ARN("denied"), "ghost", srv.ARN("ghost")} {
		_, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
		if code(err) != "AccessDeniedException" || status(err) != http.StatusBadRequest {
			t.Fatalf("GetSecretValue(%s) err = %v, want AccessDeniedException 400", id, err)
		}
	}
	srv.Deny("denied", false)
	if _, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("denied")}); err != nil {
		t.Fatalf("after Deny(false): %v", err)
	}
}

func TestFaults(t *testing.T) {
	tests := []struct {
		name    string
		fault   Fault
		timeout time.Duration // the client's; 0: none
		check   func(error) bool
	}{
		{name: "not found", fault: NotFoundFault, check: func(err error) bool {
			var e *types.ResourceNotFoundException
			return errors.As(err, &e) && status(err) == 400
		}},
		{name: "access denied", fault: AccessDeniedFault, check: func(err error) bool {
			return code(err) == "AccessDeniedException" && status(err) == 400
		}},
		{name: "throttling", fault: ThrottlingFault, check: func(err error) bool {
			return code(err) == "ThrottlingException" && status(err) == 400
		}},
		{name: "internal error", fault: InternalErrorFault, check: func(err error) bool {
			var e *types.InternalServiceError
			return errors.As(err, &e) && status(err) == 500
		}},
		{name: "other code, explicit status", fault: Fault{Code: "DecryptionFailure", Status: 400, Message: "kms"}, check: func(err error) bool {
			var e *types.DecryptionFailure
			return errors.As(err, &e) && e.ErrorMessage() == "kms"
		}},
		{name: "bare 503", fault: UnavailableFault, check: func(err error) bool {
			return status(err) == 503 && code(err) == "UnknownError"
		}},
		{name: "delay, then answer", fault: DelayFault(20 * time.Millisecond), check: func(err error) bool { return err == nil }},
		{name: "delay past the client's deadline", fault: DelayFault(time.Minute), timeout: 50 * time.Millisecond, check: func(err error) bool {
			return errors.Is(err, context.DeadlineExceeded)
		}},
		{name: "hang", fault: HangFault, timeout: 50 * time.Millisecond, check: func(err error) bool {
			return errors.Is(err, context.DeadlineExceeded)
		}},
		{name: "truncated body", fault: TruncatedBodyFault, check: func(err error) bool {
			var de *smithy.DeserializationError
			return errors.As(err, &de) && errors.Is(err, io.ErrUnexpectedEOF)
		}},
		{name: "non-JSON body", fault: NonJSONFault, check: func(err error) bool {
			var de *smithy.DeserializationError
			return errors.As(err, &de)
		}},
		{name: "connection reset", fault: ConnectionResetFault, check: func(err error) bool {
			return errors.Is(err, syscall.ECONNRESET)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c := start(t)
			srv.Put("s", "v")
			srv.Fail("GetSecretValue", tt.fault)
			ctx := context.Background()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			out, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("s")})
			if !tt.check(err) {
				t.Fatalf("err = %v (%T, code %q, status %d): not the expected failure", err, err, code(err), status(err))
			}
			if err == nil && aws.ToString(out.SecretString) != "v" {
				t.Fatalf("SecretString = %q", aws.ToString(out.SecretString))
			}
			if n := srv.Calls("GetSecretValue"); n != 1 {
				t.Fatalf("Calls = %d, want 1 (one attempt, no retries)", n)
			}
			if _, err := c.DescribeSecret(context.Background(), &secretsmanager.DescribeSecretInput{SecretId: aws.String("s")}); err != nil {
				t.Fatalf("a fault on GetSecretValue broke DescribeSecret: %v", err)
			}
			srv.Clear()
			if _, err := c.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String("s")}); err != nil {
				t.Fatalf("after Clear: %v", err)
			}
		})
	}
}

func TestFaultScope(t *testing.T) {
	srv, c := start(t)
	ctx := context.Background()
	srv.Put("s", "v")
	get := func() error {
		_, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("s")})
		return err
	}
	describe := func() error {
		_, err := c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("s")})
		return err
	}

	srv.FailN("GetSecretValue", 2, ThrottlingFault)
	for i, want := range []string{"ThrottlingException", "ThrottlingException", ""} {
		if err := get(); code(err) != want || (want == "" && err != nil) {
			t.Fatalf("call %d: err = %v, want %q", i+1, err, want)
		}
	}

	srv.Fail(AnyOperation, AccessDeniedFault)
	srv.Fail("DescribeSecret", InternalErrorFault)
	if err := get(); code(err) != "AccessDeniedException" {
		t.Fatalf("AnyOperation: err = %v", err)
	}
	if err := describe(); code(err) != "InternalServiceError" {
		t.Fatalf("own fault before AnyOperation: err = %v", err)
	}
	srv.Clear()
	if err := get(); err != nil {
		t.Fatalf("after Clear: %v", err)
	}

	if n := srv.Calls("GetSecretValue"); n != 5 {
		t.Fatalf("Calls(GetSecretValue) = %d, want 5", n)
	}
	for _, r := range srv.Requests() {
		if !r.Signed {
			t.Fatalf("request %+v not signed by the SDK client", r)
		}
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Fail with an unknown operation did not panic")
		}
	}()
	srv.Fail("GetSecretValues", HangFault)
}

// TestWire checks the protocol details a client outside the SDK sees.
func TestWire(t *testing.T) {
	srv, _ := start(t)
	srv.Put("s", "v")
	tests := []struct {
		name, method, target, body string
		wantStatus                 int
		wantType                   string
	}{
		{name: "get", method: http.MethodPost, target: "secretsmanager.GetSecretValue", body: `{"SecretId":"s"}`, wantStatus: 200},
		{name: "unknown operation", method: http.MethodPost, target: "secretsmanager.Nope", body: `{}`, wantStatus: 400, wantType: "UnknownOperationException"},
		{name: "not implemented operation", method: http.MethodPost, target: "secretsmanager.ListSecrets", body: `{}`, wantStatus: 400, wantType: "UnknownOperationException"},
		{name: "no target", method: http.MethodPost, body: `{}`, wantStatus: 400, wantType: "UnknownOperationException"},
		{name: "GET", method: http.MethodGet, target: "secretsmanager.GetSecretValue", wantStatus: 400, wantType: "UnknownOperationException"},
		{name: "bad JSON", method: http.MethodPost, target: "secretsmanager.GetSecretValue", body: `{"SecretId":`, wantStatus: 400, wantType: "SerializationException"},
		{name: "missing SecretId", method: http.MethodPost, target: "secretsmanager.GetSecretValue", body: `{}`, wantStatus: 400, wantType: "ValidationException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, srv.URL+"/", strings.NewReader(tt.body))
			if err != nil {
				t.Fatalf("NewRequest: %v", err)
			}
			req.Header.Set("Content-Type", "application/x-amz-json-1.1")
			if tt.target != "" {
				req.Header.Set("X-Amz-Target", tt.target)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("Do: %v", err)
			}
			defer resp.Body.Close()
			var body map[string]any
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatalf("body is not JSON: %v", err)
			}
			if resp.StatusCode != tt.wantStatus || resp.Header.Get("Content-Type") != "application/x-amz-json-1.1" {
				t.Fatalf("status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			if tt.wantType != "" && (body["__type"] != tt.wantType || resp.Header.Get("X-Amzn-ErrorType") != tt.wantType || body["message"] == "") {
				t.Fatalf("error body %v, X-Amzn-ErrorType %q; want %s", body, resp.Header.Get("X-Amzn-ErrorType"), tt.wantType)
			}
			if tt.wantType == "" {
				if _, ok := body["CreatedDate"].(float64); !ok || body["SecretString"] != "v" {
					t.Fatalf("body %v: want SecretString and a numeric CreatedDate", body)
				}
			}
		})
	}
	reqs := srv.Requests()
	if len(reqs) != len(tests) || reqs[0].Signed || reqs[0].Operation != "GetSecretValue" || string(reqs[0].Body) != `{"SecretId":"s"}` {
		t.Fatalf("Requests = %+v", reqs)
	}
}

func TestRotateSecret(t *testing.T) {
	srv, c := start(t)
	ctx := context.Background()
	srv.Put("r", "v")
	const lambda = "arn:aws:lambda:us-east-1:123456789012:function:rotate"
	if _, err := c.RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: aws.String("r")}); code(err) != "InvalidRequestException" {
		t.Fatalf("RotateSecret without a function: err = %v", err)
	}
	out, err := c.RotateSecret(ctx, &secretsmanager.RotateSecretInput{
		SecretId: aws.String("r"), ClientRequestToken: aws.String(tokenC), RotationLambdaARN: aws.String(lambda),
		RotationRules: &types.RotationRulesType{AutomaticallyAfterDays: aws.Int64(30)},
	})
	if err != nil || aws.ToString(out.VersionId) != tokenC || aws.ToString(out.ARN) != srv.ARN("r") {
		t.Fatalf("RotateSecret = %+v, %v", out, err)
	}
	desc, err := c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("r")})
	if err != nil {
		t.Fatalf("DescribeSecret: %v", err)
	}
	if !aws.ToBool(desc.RotationEnabled) || aws.ToString(desc.RotationLambdaARN) != lambda ||
		desc.RotationRules == nil || aws.ToInt64(desc.RotationRules.AutomaticallyAfterDays) != 30 || desc.NextRotationDate == nil {
		t.Fatalf("DescribeSecret = %+v", desc)
	}
	// The new version ID exists, labelled AWSPENDING, without a value: it
	// cannot be read until createSecret's PutSecretValue gives it one.
	if got := srv.Stages("r"); len(got) != 2 || !slices.Equal(got[tokenC], []string{"AWSPENDING"}) {
		t.Fatalf("after RotateSecret the versions are %v, want the current one and %s (AWSPENDING)", got, tokenC)
	}
	for _, in := range []*secretsmanager.GetSecretValueInput{
		{SecretId: aws.String("r"), VersionStage: aws.String("AWSPENDING")},
		{SecretId: aws.String("r"), VersionId: aws.String(tokenC), VersionStage: aws.String("AWSPENDING")},
	} {
		if _, err := c.GetSecretValue(ctx, in); code(err) != "ResourceNotFoundException" {
			t.Errorf("GetSecretValue of the value-less pending version: err = %v, want ResourceNotFoundException", err)
		}
	}
	put, err := c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId: aws.String("r"), ClientRequestToken: aws.String(tokenC), SecretString: aws.String("v2"), VersionStages: []string{"AWSPENDING"},
	})
	if err != nil || aws.ToString(put.VersionId) != tokenC {
		t.Fatalf("PutSecretValue into the pending version = %+v, %v", put, err)
	}
	got, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("r"), VersionStage: aws.String("AWSPENDING")})
	if err != nil || aws.ToString(got.SecretString) != "v2" || aws.ToString(got.VersionId) != tokenC {
		t.Fatalf("GetSecretValue(AWSPENDING) after createSecret = %+v, %v", got, err)
	}
	if v, _ := srv.Value("r", "AWSCURRENT"); v != "v" {
		t.Errorf("AWSCURRENT = %q: the rotation's first steps must not touch it", v)
	}
}

func TestEnv(t *testing.T) {
	srv, _ := start(t)
	env := map[string]string{}
	for _, kv := range srv.Env() {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			t.Fatalf("Env entry %q has no =", kv)
		}
		env[k] = v
	}
	if env["AWS_ENDPOINT_URL_SECRETS_MANAGER"] != srv.URL || env["AWS_REGION"] != "us-east-1" ||
		env["AWS_ACCESS_KEY_ID"] == "" || env["AWS_SECRET_ACCESS_KEY"] == "" || env["AWS_SESSION_TOKEN"] == "" {
		t.Fatalf("Env = %v", env)
	}
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
		t.Fatalf("URL = %s, want a loopback address", srv.URL)
	}
}

// TestCloseEndsHungCalls: Close must not wait for a call that hangs.
func TestCloseEndsHungCalls(t *testing.T) {
	srv := New()
	c := srv.Client()
	srv.Put("s", "v")
	srv.Fail("GetSecretValue", HangFault)
	done := make(chan error)
	go func() {
		_, err := c.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String("s")})
		done <- err
	}()
	for srv.Calls("GetSecretValue") == 0 {
		time.Sleep(time.Millisecond)
	}
	srv.Close()
	srv.Close() // a second Close is harmless
	if err := <-done; err == nil {
		t.Fatal("a hung call succeeded after Close")
	}
}

// TestConcurrent runs rotations, reads and fault changes at once; under
// -race it checks the fake's locking, and at the end that the labels are
// still consistent: each label on at most one version, AWSCURRENT on one.
func TestConcurrent(t *testing.T) {
	srv, c := start(t)
	ctx := context.Background()
	srv.Put("s", "v0")
	const workers, rounds = 8, 20
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds*3)
	for w := range workers {
		wg.Go(func() {
			for i := range rounds {
				token := fmt.Sprintf("%08d-0000-4000-8000-%012d", w, i)
				if _, err := c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
					SecretId: aws.String("s"), ClientRequestToken: aws.String(token), SecretString: aws.String(token), VersionStages: []string{"AWSPENDING"},
				}); err != nil {
					errs <- err
					continue
				}
				cur, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("s")})
				if err != nil {
					errs <- err
					continue
				}
				// Another worker may move AWSCURRENT first; the fake must
				// then refuse with InvalidParameterException, never corrupt.
				_, err = c.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{
					SecretId: aws.String("s"), VersionStage: aws.String("AWSCURRENT"), MoveToVersionId: aws.String(token), RemoveFromVersionId: cur.VersionId,
				})
				if err != nil && code(err) != "InvalidParameterException" {
					errs <- err
				}
				_ = srv.Stages("s")
				_ = srv.Calls("GetSecretValue")
			}
		})
	}
	wg.Go(func() {
		for range rounds {
			srv.FailN("DescribeSecret", 1, ThrottlingFault)
			_, _ = c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("s")})
			srv.Clear()
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent call: %v", err)
	}
	holders := map[string]int{}
	for _, stages := range srv.Stages("s") {
		for _, s := range stages {
			holders[s]++
		}
	}
	for label, n := range holders {
		if n != 1 {
			t.Errorf("label %s on %d versions", label, n)
		}
	}
	if holders["AWSCURRENT"] != 1 || holders["AWSPREVIOUS"] != 1 || holders["AWSPENDING"] != 1 {
		t.Errorf("labels %v, want AWSCURRENT, AWSPREVIOUS and AWSPENDING once each", holders)
	}
	if n := srv.Calls("PutSecretValue"); n != workers*rounds {
		t.Errorf("Calls(PutSecretValue) = %d, want %d", n, workers*rounds)
	}
}
