package keyadmin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/keygate/keygate/internal/config"
)

// LambdaClient is the part of the Lambda API the tool uses: reading the
// function's configuration (its KEY_GRACE, and `revoke --now`'s checks and
// wait) and changing it (`revoke --now`). The SDK client satisfies it.
type LambdaClient interface {
	GetFunctionConfiguration(ctx context.Context, in *lambda.GetFunctionConfigurationInput, optFns ...func(*lambda.Options)) (*lambda.GetFunctionConfigurationOutput, error)
	UpdateFunctionConfiguration(ctx context.Context, in *lambda.UpdateFunctionConfigurationInput, optFns ...func(*lambda.Options)) (*lambda.UpdateFunctionConfigurationOutput, error)
}

var (
	_ LambdaClient                             = (*lambda.Client)(nil)
	_ lambda.GetFunctionConfigurationAPIClient = LambdaClient(nil) // for the SDK's waiter
)

// ErrNotReadingSecret: the function does not take its keys from the secret,
// so neither its KEY_GRACE nor a restart of it bears on the secret's keys.
var ErrNotReadingSecret = errors.New("the function does not read this secret")

// FunctionGrace returns the KEY_GRACE of fn, the function that serves this
// secret: how long after a rotation it still accepts the keys of the
// AWSPREVIOUS version. It is the only source of that grace: a second one
// (a flag, the operator's shell) can disagree with the function, and then
// a change either brings a key the function had already cut off back to
// life or cuts one off early.
//
// The configuration is parsed by config.FromEnv, the function's own parse,
// so an unset KEY_GRACE is the function's default and a configuration the
// function rejects (it then answers 503) is refused here too. fn must read
// this very secret: another function's grace says nothing about its keys.
// It needs lambda:GetFunctionConfiguration on fn (the stack's operator
// policy grants it).
func (a *Admin) FunctionGrace(ctx context.Context, lc LambdaClient, fn string) (time.Duration, error) {
	out, err := lc.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: &fn})
	if err != nil {
		return 0, fmt.Errorf("reading the configuration of function %q failed (needs lambda:GetFunctionConfiguration on it; is --function the stack's FunctionName output, in this region?): %w", fn, err)
	}
	vars := map[string]string{}
	if out.Environment != nil {
		vars = out.Environment.Variables
	}
	cfg, cfgErr := config.FromEnv(func(k string) string { return vars[k] })
	if err := a.sameSecret(ctx, fn, cfg.SecretID, "its KEY_GRACE says nothing about this secret's keys: pass the function that reads this secret (--function)"); err != nil {
		return 0, err
	}
	if cfgErr != nil {
		// FromEnv never shows a value that could be a key.
		return 0, fmt.Errorf("function %q rejects its own configuration (it answers 503 until that is fixed), so its KEY_GRACE is not known: %w. Fix the function's configuration (the stack's parameters, e.g. KeyGrace)", fn, cfgErr)
	}
	return cfg.Grace, nil
}

// sameSecret checks that the function's API_KEY_SECRET_ID (id) names the
// secret this Admin edits, as a name or an ARN, either way round. ifAPIKey
// ends the message for a function that takes its key from API_KEY: what
// that means for the command, and what to do.
func (a *Admin) sameSecret(ctx context.Context, fn, id, ifAPIKey string) error {
	if id == "" {
		return fmt.Errorf("%w: function %q has no API_KEY_SECRET_ID, so it takes its key from API_KEY in its own configuration; no change to secret %q reaches it, and %s", ErrNotReadingSecret, fn, a.SecretID, ifAPIKey)
	}
	mine, err := a.Client.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: &a.SecretID})
	if err != nil {
		return a.explain(err)
	}
	theirs, err := a.Client.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: &id})
	if err != nil || aws.ToString(theirs.ARN) != aws.ToString(mine.ARN) {
		return fmt.Errorf("%w: function %q reads the secret its API_KEY_SECRET_ID names, not secret %q: pass the function that reads it (--function), or its secret (--secret-id)", ErrNotReadingSecret, fn, a.SecretID)
	}
	return nil
}
