// Package keyadmin is the logic of the keygate command-line tool: it lists,
// adds, revokes and rotates the keys in keygate's Secrets Manager secret
// and sets their access rules, through the same Secrets Manager client
// (smapi.Client) as the function and with the same validation
// (apikey.Document.Marshal), so it never writes a set the function would
// reject; and it says who uses which key, from the function's logs (Logs
// Insights, usage.go). cmd/keygate only wires it to the process.
//
// How a change is written: read AWSCURRENT, check that no rotation is in
// progress, carry the keys of a rotation's grace period over (carryGrace),
// apply the change, re-read AWSCURRENT and give up if another writer got in
// between, write the result as the new AWSCURRENT version, then remove the
// AWSPREVIOUS label Secrets Manager moved to the version before it. A
// result larger than Secrets Manager takes (MaxSecretSize) is refused
// before anything is written.
//
// Why remove AWSPREVIOUS: the function keeps accepting the keys of the
// AWSPREVIOUS version for KEY_GRACE after the current one was created, which
// is right after a rotation (callers holding the old key are not cut off)
// but wrong after a CLI change: a revoked key would live on for KEY_GRACE,
// and `keys rotate --grace` would not mean what it says. CLI changes carry
// a rotation's grace instead, in the entries' expiry (NAME.previous), for
// exactly as long as the function itself would have given it: its own
// KEY_GRACE, read from its configuration (FunctionGrace). The old version
// stays in Secrets Manager, unlabelled, for a rollback.
//
// The race: Secrets Manager has no compare-and-set for PutSecretValue. The
// re-read narrows the window between read and write to one round trip, but
// two writers inside it can still lose one change; the last write wins.
// Run changes to one secret from one place at a time.
package keyadmin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/keygate/keygate/internal/apikey"
	"github.com/keygate/keygate/internal/smapi"
)

// PreviousSuffix is appended to a client's name to keep its old key during
// a `keys rotate` grace period: NAME holds the new key, NAME.previous the
// old one, expiring when the grace ends.
const PreviousSuffix = ".previous"

// Errors an operation can fail with; messages add the names and the fix.
var (
	ErrEntryExists        = errors.New("entry already exists")
	ErrNoEntry            = errors.New("no such entry")
	ErrEntryExpired       = errors.New("entry expired")
	ErrLastKey            = errors.New("would leave no working key")
	ErrSingleKey          = errors.New("the secret holds a single key")
	ErrRotationInProgress = errors.New("a rotation is in progress")
	ErrRotationGrace      = errors.New("a rotation's grace period is running")
	ErrConcurrentChange   = errors.New("the secret changed while this command ran")
	ErrInvalidName        = errors.New("invalid client name")
	ErrBinarySecret       = errors.New("the secret holds binary data")
)

// Admin edits one secret.
type Admin struct {
	Client   smapi.Client
	SecretID string
	// Region is only used in messages.
	Region string
	// Grace returns the function's KEY_GRACE: how long after a rotation
	// it still accepts the AWSPREVIOUS version's keys. A change asks for it
	// only when it has such keys to carry over (carryGrace), so a change
	// with nothing to carry needs no function. The CLI reads it from the
	// function's own configuration (FunctionGrace). Nil: KeyGrace.
	Grace func(ctx context.Context) (time.Duration, error)
	// KeyGrace is the function's KEY_GRACE for a caller that knows it
	// already and sets no Grace. Zero, with no Grace, is "not known": a
	// change with keys to carry is then refused (or, with Force, cuts
	// them off). A function whose KEY_GRACE is 0 is told through Grace.
	KeyGrace time.Duration
	// Force writes even while a rotation is in progress, or when keys of
	// a rotation's grace period cannot be carried over (they are cut off),
	// for want of room or of the function's KEY_GRACE.
	Force bool
	// Now and Generate default to time.Now and apikey.Generate.
	Now      func() time.Time
	Generate func() string
}

// current is the AWSCURRENT version as read.
type current struct {
	doc       apikey.Document
	versionID string
	created   time.Time
}

func (a *Admin) readCurrent(ctx context.Context) (current, error) {
	return a.read(ctx, smapi.StageCurrent)
}

// errUnparsable marks a version that holds no valid key set (binary, or a
// value the function rejects).
var errUnparsable = errors.New("not a valid key set")

// read reads and parses the version with stage.
func (a *Admin) read(ctx context.Context, stage string) (current, error) {
	out, err := a.Client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &a.SecretID, VersionStage: &stage})
	if err != nil {
		return current{}, a.explain(err)
	}
	c := current{versionID: aws.ToString(out.VersionId), created: aws.ToTime(out.CreatedDate)}
	if out.SecretString == nil {
		return c, fmt.Errorf("%w: secret %q version %s is binary; keygate keys are stored as a secret string (%w)", ErrBinarySecret, a.SecretID, c.versionID, errUnparsable)
	}
	c.doc, err = apikey.Parse(*out.SecretString)
	if err != nil {
		// The function rejects it too; fix it by hand first (never print it).
		return c, fmt.Errorf("secret %q version %s is %w, so keygate will not edit it: fix it with aws secretsmanager put-secret-value: %w", a.SecretID, c.versionID, errUnparsable, err)
	}
	return c, nil
}

// Written describes a new version.
type Written struct {
	VersionID string
	// PreviousVersionID is the version it replaced, kept unlabelled in
	// Secrets Manager for a rollback.
	PreviousVersionID string
	// Size is the length of the value written, in bytes (at most
	// MaxSecretSize).
	Size int
	// Carried: the AWSPREVIOUS keys kept for the rest of a rotation's
	// grace period (see carryGrace).
	Carried Carried
	// Pruned: old keys (NAME.previous, NAME.previous.N) whose grace had
	// ended, dropped from the new version.
	Pruned []string
}

// change applies edit to the current document and writes the result. A
// non-empty Written.VersionID means the new version was written, even if
// the error is not nil (the AWSPREVIOUS clean-up failed).
//
// edit may run more than once (see carryGrace): its result must depend
// only on the document and the time it is given, and what it reports to
// its caller must be set afresh on each run.
func (a *Admin) change(ctx context.Context, edit editFunc) (Written, error) {
	cur, err := a.readCurrent(ctx)
	if err != nil {
		return Written{}, err
	}
	meta, err := a.Client.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: &a.SecretID})
	if err != nil {
		return Written{}, a.explain(err)
	}
	if err := a.guard(meta.VersionIdsToStages); err != nil {
		return Written{}, err
	}
	now := a.now()
	next, carried, err := a.carryGrace(ctx, cur, meta.VersionIdsToStages, now, edit)
	if err != nil {
		return Written{}, err
	}
	pruned := pruneExpired(next, now)
	value, err := next.Marshal()
	if err != nil {
		return Written{}, fmt.Errorf("the changed key set would be rejected by the function, nothing written: %w", err)
	}
	if err := checkSize(value); err != nil {
		return Written{}, err
	}

	again, err := a.readCurrent(ctx)
	if err != nil {
		return Written{}, err
	}
	if again.versionID != cur.versionID {
		return Written{}, fmt.Errorf("%w: secret %q went from version %s to %s; nothing written: run the command again", ErrConcurrentChange, a.SecretID, cur.versionID, again.versionID)
	}
	out, err := a.Client.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId:      &a.SecretID,
		SecretString:  &value,
		VersionStages: []string{smapi.StageCurrent},
	})
	if err != nil {
		return Written{}, a.explain(err)
	}
	w := Written{VersionID: aws.ToString(out.VersionId), PreviousVersionID: cur.versionID, Size: len(value), Carried: carried, Pruned: pruned}

	prev := smapi.StagePrevious
	_, err = a.Client.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{
		SecretId:            &a.SecretID,
		VersionStage:        &prev,
		RemoveFromVersionId: &cur.versionID,
	})
	if err != nil {
		return w, fmt.Errorf("wrote version %s, but could not remove AWSPREVIOUS from version %s, so the keys it held keep working for KEY_GRACE: remove it with `aws secretsmanager update-secret-version-stage --secret-id %s --version-stage AWSPREVIOUS --remove-from-version-id %s`: %w",
			w.VersionID, cur.versionID, a.SecretID, cur.versionID, a.explain(err))
	}
	return w, nil
}

// guard refuses to write while a rotation is in progress: finishing it
// would replace whatever is written now. (A rotation's grace period is kept
// by carryGrace instead.)
func (a *Admin) guard(versions map[string][]string) error {
	if a.Force {
		return nil
	}
	for id, stages := range versions {
		if slices.Contains(stages, smapi.StagePending) && !slices.Contains(stages, smapi.StageCurrent) {
			return fmt.Errorf("%w: version %s of secret %q is AWSPENDING, and finishing the rotation would replace whatever is written now. Wait for the rotation to finish; if it failed, clear it with `aws secretsmanager update-secret-version-stage --secret-id %s --version-stage AWSPENDING --remove-from-version-id %s` (or pass --force)",
				ErrRotationInProgress, id, a.SecretID, a.SecretID, id)
		}
	}
	return nil
}

func (a *Admin) now() time.Time {
	if a.Now == nil {
		return time.Now().UTC()
	}
	return a.Now().UTC()
}

func (a *Admin) generate() string {
	if a.Generate == nil {
		return apikey.Generate()
	}
	return a.Generate()
}

// stamp formats a time the way the secret stores expiries.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
