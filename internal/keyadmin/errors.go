package keyadmin

import (
	"errors"
	"fmt"

	"github.com/aws/smithy-go"

	"github.com/keygate/keygate/internal/smapi"
)

// explain turns a Secrets Manager error into a message that names the
// cause and the fix for the operator running the tool; the SDK error stays
// wrapped for errors.As.
func (a *Admin) explain(err error) error {
	op := "Secrets Manager"
	var oe *smithy.OperationError
	if errors.As(err, &oe) {
		op = "secretsmanager:" + oe.Operation()
	}
	var hint string
	switch smapi.Diagnose(err) {
	case smapi.TimedOut:
		hint = fmt.Sprintf("%s on secret %q did not finish", op, a.SecretID)
	case smapi.NoCredentials:
		hint = "no AWS credentials were found: sign in (aws sso login, aws configure), set AWS_PROFILE, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
	case smapi.Untrusted:
		hint = fmt.Sprintf("%s on secret %q failed: the endpoint's certificate is not trusted (a TLS-inspecting proxy? set AWS_CA_BUNDLE to its CA)", op, a.SecretID)
	case smapi.Unreachable:
		hint = fmt.Sprintf("%s on secret %q failed (is the endpoint reachable?)", op, a.SecretID)
	case smapi.NotFound:
		hint = fmt.Sprintf("secret %q was not found in %s: check --secret-id (or API_KEY_SECRET_ID) and the region (--region or AWS_REGION)", a.SecretID, a.region())
	case smapi.AccessDenied:
		hint = fmt.Sprintf("%s on secret %q was denied: your AWS identity needs secretsmanager:GetSecretValue (list), and DescribeSecret, PutSecretValue and UpdateSecretVersionStage (changes) on the secret, plus kms:Decrypt and kms:GenerateDataKey on its key if it is customer managed", op, a.SecretID)
	case smapi.DecryptFailed:
		hint = fmt.Sprintf("secret %q could not be decrypted: you need kms:Decrypt on the secret's KMS key", a.SecretID)
	case smapi.EncryptFailed:
		hint = fmt.Sprintf("the new version of secret %q could not be encrypted: you need kms:GenerateDataKey on the secret's KMS key", a.SecretID)
	case smapi.Refused:
		hint = fmt.Sprintf("%s on secret %q was refused (is the secret scheduled for deletion? restore it with aws secretsmanager restore-secret)", op, a.SecretID)
	case smapi.TooManyVersions:
		hint = fmt.Sprintf("secret %q has too many versions: wait a little and retry (Secrets Manager removes unlabelled versions over time)", a.SecretID)
	case smapi.Throttled:
		hint = fmt.Sprintf("%s on secret %q was throttled: retry in a moment", op, a.SecretID)
	case smapi.BadCredentials:
		hint = "your AWS credentials were refused: sign in again (aws sso login) or check AWS_PROFILE"
	default:
		hint = fmt.Sprintf("%s on secret %q failed", op, a.SecretID)
	}
	return fmt.Errorf("%s: %w", hint, err)
}

func (a *Admin) region() string {
	if a.Region == "" {
		return "the configured region"
	}
	return a.Region
}
