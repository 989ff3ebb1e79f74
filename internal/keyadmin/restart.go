package keyadmin

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// CacheFlusher is the part of the API Gateway API that `revoke --now
// --rest-api` uses; the SDK client satisfies it.
type CacheFlusher interface {
	FlushStageAuthorizersCache(ctx context.Context, in *apigateway.FlushStageAuthorizersCacheInput, optFns ...func(*apigateway.Options)) (*apigateway.FlushStageAuthorizersCacheOutput, error)
}

var _ CacheFlusher = (*apigateway.Client)(nil)

// FlushCache drops the decisions a REST API stage's authorizers cached, so
// that a revoked key stops working there at once instead of after the
// authorizer's TTL (AuthorizerCacheTtl). HTTP APIs offer no such call:
// there the TTL bounds it. It needs apigateway:DELETE on the stage's
// cache/authorizers path (the stack's operator policy grants it).
func FlushCache(ctx context.Context, fc CacheFlusher, restAPI, stage string) error {
	_, err := fc.FlushStageAuthorizersCache(ctx, &apigateway.FlushStageAuthorizersCacheInput{RestApiId: &restAPI, StageName: &stage})
	if err != nil {
		return fmt.Errorf("flushing the cached decisions of REST API %s, stage %s (needs apigateway:DELETE on /restapis/%s/stages/%s/cache/authorizers): %w", restAPI, stage, restAPI, stage, err)
	}
	return nil
}

// EpochVar is the variable a restart sets. The function does not read it:
// any change of a function's configuration makes Lambda replace every
// execution environment, and that is the point.
const EpochVar = "KEY_EPOCH"

// Restarted says what a restart did.
type Restarted struct {
	Function string
	Epoch    string
	Took     time.Duration
}

// Restart makes Lambda replace every warm execution environment of fn, so
// that a change to the secret (a revoke) takes effect at once instead of at
// each environment's next refresh. Lambda offers no channel to warm
// environments; changing the function's configuration (KEY_EPOCH) is the
// documented way to get fresh ones: each environment's next request is a
// cold start, which reads the secret.
//
// It first checks that fn reads this very secret (API_KEY_SECRET_ID names
// it): a function configured with API_KEY holds its key in its
// configuration, and no change to the secret reaches it. It needs
// lambda:GetFunctionConfiguration and lambda:UpdateFunctionConfiguration on
// fn, and waits (at most a minute) until Lambda reports the update done.
func (a *Admin) Restart(ctx context.Context, lc LambdaClient, fn string) (Restarted, error) {
	start := a.now()
	r := Restarted{Function: fn}
	cfg, err := lc.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: &fn})
	if err != nil {
		return r, fmt.Errorf("reading the configuration of function %q (needs lambda:GetFunctionConfiguration): %w", fn, err)
	}
	vars := map[string]string{}
	if cfg.Environment != nil {
		maps.Copy(vars, cfg.Environment.Variables)
	}
	if err := a.sameSecret(ctx, fn, vars["API_KEY_SECRET_ID"], "--now cannot revoke a key there: change API_KEY instead"); err != nil {
		return r, err
	}
	// Unique per call, so that two revokes in a row both change it.
	r.Epoch = a.now().UTC().Format(time.RFC3339Nano)
	vars[EpochVar] = r.Epoch
	_, err = lc.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{
		FunctionName: &fn,
		Environment:  &types.Environment{Variables: vars},
		// Lambda refuses the update if the configuration changed since
		// it was read, rather than undo that change.
		RevisionId: cfg.RevisionId,
	})
	if err != nil {
		return r, fmt.Errorf("updating the configuration of function %q (needs lambda:UpdateFunctionConfiguration; if another change got in first, run the command again): %w", fn, err)
	}
	if err := waitUpdated(ctx, lc, fn); err != nil {
		return r, err
	}
	r.Took = a.now().Sub(start)
	return r, nil
}

// waitUpdated waits, at most a minute, until Lambda has applied an update
// of fn's configuration: the SDK's FunctionUpdated waiter, polling from
// every half second (an update takes seconds) up to every 5 s.
func waitUpdated(ctx context.Context, lc LambdaClient, fn string) error {
	// The waiter's own error for a failed update does not say why; the
	// configuration does (LastUpdateStatusReason).
	var failed error
	w := lambda.NewFunctionUpdatedWaiter(lc, func(o *lambda.FunctionUpdatedWaiterOptions) {
		o.MinDelay, o.MaxDelay = 500*time.Millisecond, 5*time.Second
		o.Retryable = func(ctx context.Context, _ *lambda.GetFunctionConfigurationInput, out *lambda.GetFunctionConfigurationOutput, err error) (bool, error) {
			switch {
			case err != nil && ctx.Err() != nil:
				return false, err // the minute is up (or the command was interrupted)
			case err != nil:
				failed = fmt.Errorf("waiting for function %q to apply its new configuration: %w", fn, err)
				return false, failed
			case out.LastUpdateStatus == types.LastUpdateStatusFailed:
				failed = fmt.Errorf("function %q failed to apply its new configuration: %s", fn, aws.ToString(out.LastUpdateStatusReason))
				return false, failed
			case out.LastUpdateStatus == types.LastUpdateStatusSuccessful, out.LastUpdateStatus == "":
				// No status at all: an emulator that applies updates at once.
				return false, nil
			}
			return true, nil // InProgress
		}
	})
	err := w.Wait(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: &fn}, time.Minute)
	switch {
	case err == nil:
		return nil
	case failed != nil:
		return failed
	case ctx.Err() != nil:
		return fmt.Errorf("interrupted while function %q applied its new configuration: check it with aws lambda get-function-configuration --function-name %s --query LastUpdateStatus: %w", fn, fn, ctx.Err())
	}
	return fmt.Errorf("function %q was still applying its new configuration after a minute: check it with aws lambda get-function-configuration --function-name %s --query LastUpdateStatus (%w)", fn, fn, err)
}
