// Package rotation is keygate's Secrets Manager rotation function: the four
// steps (createSecret, setSecret, testSecret, finishSecret) Secrets Manager
// calls to rotate the API key secret, following the semantics of AWS's
// rotation template (aws-samples/aws-secrets-manager-rotation-lambdas,
// SecretsManagerRotationTemplate):
//
//   - every step first checks that the version is staged for rotation:
//     rotation enabled, the token a version of the secret, and that version
//     AWSPENDING; a version that is already AWSCURRENT means there is
//     nothing left to do;
//   - createSecret writes fresh keys, in the secret's own format, as the
//     AWSPENDING version whose ID is the client request token, unless that
//     version already holds a value (so retries are harmless);
//   - setSecret has nothing to configure: keygate reads the secret itself;
//   - testSecret checks that the pending version is a key set the function
//     accepts and that it really replaces the keys;
//   - finishSecret moves AWSCURRENT to the new version (Secrets Manager then
//     labels the old one AWSPREVIOUS, whose keys the function keeps
//     accepting for KEY_GRACE) and removes AWSPENDING.
//
// Every step can be retried. Logs name the secret, the version and counts,
// never a key.
package rotation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/keygate/keygate/internal/apikey"
	"github.com/keygate/keygate/internal/smapi"
)

// The steps Secrets Manager invokes, in order.
const (
	StepCreate = "createSecret"
	StepSet    = "setSecret"
	StepTest   = "testSecret"
	StepFinish = "finishSecret"
)

var (
	// ErrBadEvent: the event lacks a field or names an unknown step.
	ErrBadEvent = errors.New("invalid rotation event")
	// ErrNotStaged: the secret or version is not set up for this rotation.
	ErrNotStaged = errors.New("secret version not staged for rotation")
	// ErrNothingToRotate: every entry of the secret is hash-only.
	ErrNothingToRotate = errors.New("nothing to rotate")
	// ErrTestFailed: the pending version is not a valid replacement.
	ErrTestFailed = errors.New("pending version failed its test")
)

// Rotator runs the rotation steps.
type Rotator struct {
	client   smapi.Client
	log      *slog.Logger
	generate func() string
}

// New returns a Rotator that makes keys with apikey.Generate.
func New(client smapi.Client, log *slog.Logger) *Rotator {
	return &Rotator{client: client, log: log, generate: apikey.Generate}
}

// Handle runs one step; its signature is a Lambda handler's. An error makes
// the invocation fail, and Secrets Manager retries the step or marks the
// rotation failed.
func (r *Rotator) Handle(ctx context.Context, ev events.SecretsManagerSecretRotationEvent) error {
	log := r.log.With("step", ev.Step, "secret_id", ev.SecretID, "version_id", ev.ClientRequestToken)
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		log = log.With("request_id", lc.AwsRequestID)
	}
	err := r.handle(ctx, log, ev)
	if err != nil {
		log.Error("rotation step failed", "error", err.Error())
	}
	return err
}

func (r *Rotator) handle(ctx context.Context, log *slog.Logger, ev events.SecretsManagerSecretRotationEvent) error {
	// The template checks the step last; a malformed event is an error
	// whatever the secret's state, so it is checked first here.
	switch {
	case ev.SecretID == "" || ev.ClientRequestToken == "":
		return fmt.Errorf("%w: SecretId and ClientRequestToken are required", ErrBadEvent)
	case !slices.Contains([]string{StepCreate, StepSet, StepTest, StepFinish}, ev.Step):
		return fmt.Errorf("%w: unknown step %q (want createSecret, setSecret, testSecret or finishSecret)", ErrBadEvent, ev.Step)
	}

	meta, err := r.client.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: &ev.SecretID})
	if err != nil {
		return fmt.Errorf("describing secret %q: %w", ev.SecretID, err)
	}
	if meta.RotationEnabled == nil || !*meta.RotationEnabled {
		return fmt.Errorf("%w: secret %q is not enabled for rotation", ErrNotStaged, ev.SecretID)
	}
	stages, ok := meta.VersionIdsToStages[ev.ClientRequestToken]
	switch {
	case !ok:
		return fmt.Errorf("%w: secret %q has no version %s", ErrNotStaged, ev.SecretID, ev.ClientRequestToken)
	case slices.Contains(stages, smapi.StageCurrent):
		log.Info("version already AWSCURRENT: nothing to do")
		if ev.Step == StepFinish && slices.Contains(stages, smapi.StagePending) {
			// A retried finishSecret whose label removal failed the first time.
			return r.removePending(ctx, log, ev)
		}
		return nil
	case !slices.Contains(stages, smapi.StagePending):
		return fmt.Errorf("%w: version %s of secret %q is not AWSPENDING", ErrNotStaged, ev.ClientRequestToken, ev.SecretID)
	}

	switch ev.Step {
	case StepCreate:
		return r.createSecret(ctx, log, ev)
	case StepSet:
		// The template's setSecret pushes the new credential into the
		// service that checks it. keygate's function is that service and
		// reads the secret itself (AWSCURRENT, plus AWSPREVIOUS during
		// KEY_GRACE), so there is nothing to push.
		log.Info("setSecret: nothing to configure, keygate reads the secret itself")
		return nil
	case StepTest:
		return r.testSecret(ctx, log, ev)
	default:
		return r.finishSecret(ctx, log, ev, meta.VersionIdsToStages)
	}
}
