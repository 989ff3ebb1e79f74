package keyadmin

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/smithy-go"
)

// explain turns a Secrets Manager error into a message that names the
// cause and the fix; the SDK error stays wrapped for errors.As.
func (a *Admin) explain(err error) error {
	op := "Secrets Manager"
	var oe *smithy.OperationError
	if errors.As(err, &oe) {
		op = "secretsmanager:" + oe.Operation()
	}
	var api smithy.APIError
	if !errors.As(err, &api) {
		switch {
		case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
			return fmt.Errorf("%s on secret %q did not finish: %w", op, a.SecretID, err)
		case strings.Contains(err.Error(), "retrieve credentials"):
			return fmt.Errorf("no usable AWS credentials: sign in (aws sso login, aws configure) or set AWS_PROFILE: %w", err)
		}
		return fmt.Errorf("%s on secret %q failed (is the endpoint reachable?): %w", op, a.SecretID, err)
	}
	var hint string
	switch api.ErrorCode() {
	case "ResourceNotFoundException":
		hint = fmt.Sprintf("secret %q was not found in %s: check --secret-id (or API_KEY_SECRET_ID) and the region (--region or AWS_REGION)", a.SecretID, a.region())
	case "AccessDeniedException":
		hint = fmt.Sprintf("%s on secret %q was denied: your AWS identity needs secretsmanager:GetSecretValue (list), and DescribeSecret, PutSecretValue and UpdateSecretVersionStage (changes) on the secret, plus kms:Decrypt and kms:GenerateDataKey on its key if it is customer managed", op, a.SecretID)
	case "DecryptionFailure":
		hint = fmt.Sprintf("secret %q could not be decrypted: you need kms:Decrypt on the secret's KMS key", a.SecretID)
	case "EncryptionFailure":
		hint = fmt.Sprintf("the new version of secret %q could not be encrypted: you need kms:GenerateDataKey on the secret's KMS key", a.SecretID)
	case "InvalidRequestException":
		hint = fmt.Sprintf("%s on secret %q was refused (is the secret scheduled for deletion? restore it with aws secretsmanager restore-secret)", op, a.SecretID)
	case "LimitExceededException":
		hint = fmt.Sprintf("secret %q has too many versions: wait a little and retry (Secrets Manager removes unlabelled versions over time)", a.SecretID)
	case "ThrottlingException":
		hint = fmt.Sprintf("%s on secret %q was throttled: retry in a moment", op, a.SecretID)
	case "UnrecognizedClientException", "InvalidSignatureException", "ExpiredTokenException":
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
