package rotation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/keygate/keygate/internal/apikey"
	"github.com/keygate/keygate/internal/smapi"
)

// createSecret writes fresh keys as the pending version, once.
func (r *Rotator) createSecret(ctx context.Context, log *slog.Logger, ev events.SecretsManagerSecretRotationEvent) error {
	cur, err := r.get(ctx, ev.SecretID, "", smapi.StageCurrent)
	if err != nil {
		return err
	}
	// Secrets Manager creates the pending version without a value when
	// rotation starts; a value there means an earlier attempt wrote it.
	_, err = r.get(ctx, ev.SecretID, ev.ClientRequestToken, smapi.StagePending)
	var nf *types.ResourceNotFoundException
	switch {
	case err == nil:
		log.Info("createSecret: the pending version already holds keys")
		return nil
	case !errors.As(err, &nf):
		return err
	}

	doc, err := parse(cur)
	if err != nil {
		return err
	}
	next, replaced := doc.Regenerate(r.generate)
	if replaced == 0 {
		return fmt.Errorf("%w: every entry of secret %q is hash-only (sha256), so the secret holds no key a rotation could replace: rotate those clients with `keygate keys rotate NAME`, and turn automatic rotation off for this secret (template parameter RotationDays 0)", ErrNothingToRotate, ev.SecretID)
	}
	value, err := next.Marshal()
	if err != nil {
		return fmt.Errorf("the regenerated secret is invalid: %w", err)
	}
	in := &secretsmanager.PutSecretValueInput{
		SecretId:           &ev.SecretID,
		ClientRequestToken: &ev.ClientRequestToken,
		SecretString:       &value,
		VersionStages:      []string{smapi.StagePending},
	}
	if ev.RotationToken != "" {
		// Present when Secrets Manager rotates through an assumed role or
		// across accounts; it vouches for this call. Sensitive: never logged.
		in.RotationToken = &ev.RotationToken
	}
	if _, err := r.client.PutSecretValue(ctx, in); err != nil {
		return fmt.Errorf("writing the pending version of secret %q: %w", ev.SecretID, err)
	}
	kept := 0
	if doc.Format == apikey.FormatKeySet {
		kept = len(doc.Keys) - replaced
	}
	log.Info("createSecret: wrote the pending version",
		"format", doc.Format.String(), "keys_replaced", replaced, "hash_only_kept", kept)
	return nil
}

// testSecret checks that the pending version is a key set the function
// accepts and that it replaces every key the secret holds, and only those.
func (r *Rotator) testSecret(ctx context.Context, log *slog.Logger, ev events.SecretsManagerSecretRotationEvent) error {
	pend, err := r.get(ctx, ev.SecretID, ev.ClientRequestToken, smapi.StagePending)
	if err != nil {
		return err
	}
	pdoc, err := parse(pend)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrTestFailed, err)
	}
	cur, err := r.get(ctx, ev.SecretID, "", smapi.StageCurrent)
	if err != nil {
		return err
	}
	cdoc, err := parse(cur)
	if err != nil {
		return err
	}
	if err := replaces(cdoc, pdoc); err != nil {
		return fmt.Errorf("%w: secret %q version %s %w", ErrTestFailed, ev.SecretID, ev.ClientRequestToken, err)
	}
	log.Info("testSecret: the pending version is a valid replacement", "format", pdoc.Format.String())
	return nil
}

// replaces reports why next is not the rotation of cur: same format, same
// clients, expiry and rules, a new key for every entry that holds one,
// hash-only entries untouched. A change of clients or rules means
// AWSCURRENT was edited after createSecret (by the CLI, say): finishing
// would undo that edit.
func replaces(cur, next apikey.Document) error {
	if cur.Format != next.Format {
		return fmt.Errorf("is in the %s format but the current version is in the %s format", next.Format, cur.Format)
	}
	if cur.Format != apikey.FormatKeySet {
		if apikey.Digest(cur.Key) == apikey.Digest(next.Key) {
			return errors.New("holds the same key as the current version")
		}
		return nil
	}
	if cn, nn := cur.Names(), next.Names(); !slices.Equal(cn, nn) {
		return fmt.Errorf("has clients [%s] but the current version has [%s]: the current version changed after createSecret, and finishing would undo that change; remove the AWSPENDING label from this version (aws secretsmanager update-secret-version-stage --version-stage AWSPENDING --remove-from-version-id <version>) and rotate again",
			strings.Join(nn, " "), strings.Join(cn, " "))
	}
	for _, name := range cur.Names() {
		c, n := cur.Keys[name], next.Keys[name]
		switch {
		case c.HashOnly() && (!n.HashOnly() || c.Digest() != n.Digest()):
			return fmt.Errorf("changes the hash-only entry %q, whose key no rotation can hand out", name)
		case !c.HashOnly() && n.HashOnly():
			return fmt.Errorf("turns entry %q into a hash-only one", name)
		case !c.HashOnly() && c.Digest() == n.Digest():
			return fmt.Errorf("keeps the key of entry %q", name)
		case !sameTime(c, n):
			return fmt.Errorf("changes the expiry of entry %q", name)
		case !reflect.DeepEqual(c.Allow, n.Allow) || !reflect.DeepEqual(c.Sources, n.Sources) || !reflect.DeepEqual(c.Meta, n.Meta):
			return fmt.Errorf("changes the rules (allow, sources, meta) of entry %q: the current version changed after createSecret, and finishing would undo that change; remove the AWSPENDING label from this version and rotate again", name)
		}
	}
	return nil
}

func sameTime(a, b apikey.KeyEntry) bool {
	if a.Expires == nil || b.Expires == nil {
		return a.Expires == nil && b.Expires == nil
	}
	return a.Expires.Equal(*b.Expires)
}

// finishSecret makes the pending version current.
func (r *Rotator) finishSecret(ctx context.Context, log *slog.Logger, ev events.SecretsManagerSecretRotationEvent, versions map[string][]string) error {
	in := &secretsmanager.UpdateSecretVersionStageInput{
		SecretId:        &ev.SecretID,
		VersionStage:    aws.String(smapi.StageCurrent),
		MoveToVersionId: &ev.ClientRequestToken,
	}
	var previous string
	for id, stages := range versions {
		if slices.Contains(stages, smapi.StageCurrent) {
			previous = id
			in.RemoveFromVersionId = &previous
		}
	}
	if _, err := r.client.UpdateSecretVersionStage(ctx, in); err != nil {
		return fmt.Errorf("moving AWSCURRENT of secret %q to version %s: %w", ev.SecretID, ev.ClientRequestToken, err)
	}
	log.Info("finishSecret: the new version is AWSCURRENT", "previous_version_id", previous)
	return r.removePending(ctx, log, ev)
}

func (r *Rotator) removePending(ctx context.Context, log *slog.Logger, ev events.SecretsManagerSecretRotationEvent) error {
	_, err := r.client.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{
		SecretId:            &ev.SecretID,
		VersionStage:        aws.String(smapi.StagePending),
		RemoveFromVersionId: &ev.ClientRequestToken,
	})
	if err != nil {
		return fmt.Errorf("removing AWSPENDING from version %s of secret %q: %w", ev.ClientRequestToken, ev.SecretID, err)
	}
	log.Info("finishSecret: removed AWSPENDING")
	return nil
}

// get reads one version of the secret: by stage, and by version ID too
// when versionID is set.
func (r *Rotator) get(ctx context.Context, secretID, versionID, stage string) (*secretsmanager.GetSecretValueOutput, error) {
	in := &secretsmanager.GetSecretValueInput{SecretId: &secretID, VersionStage: &stage}
	if versionID != "" {
		in.VersionId = &versionID
	}
	out, err := r.client.GetSecretValue(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("reading the %s version of secret %q: %w", stage, secretID, err)
	}
	return out, nil
}

func parse(out *secretsmanager.GetSecretValueOutput) (apikey.Document, error) {
	if out.SecretString == nil {
		return apikey.Document{}, fmt.Errorf("version %s holds binary data: keygate keys are stored as a secret string", aws.ToString(out.VersionId))
	}
	doc, err := apikey.Parse(*out.SecretString)
	if err != nil {
		return apikey.Document{}, fmt.Errorf("version %s: %w", aws.ToString(out.VersionId), err)
	}
	return doc, nil
}
