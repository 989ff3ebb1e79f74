// Package smapi is the part of the AWS Secrets Manager API that keygate's
// programs share: the staging labels whose meaning rotation depends on, the
// client interface of the key tools (the rotation function and the keygate
// CLI), and Diagnose, which names the cause of a failed call so that each
// program can say what to fix in its own words.
//
// It imports the service package only, never the SDK's configuration chain,
// so the Lambda bootstrap can use it without linking that.
package smapi

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// Staging labels Secrets Manager gives meaning to.
const (
	StageCurrent  = "AWSCURRENT"
	StagePrevious = "AWSPREVIOUS"
	StagePending  = "AWSPENDING"
)

// Client is the part of the Secrets Manager client the key tools use; its
// methods mirror the SDK client's, which satisfies it.
type Client interface {
	DescribeSecret(ctx context.Context, in *secretsmanager.DescribeSecretInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error)
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
	PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
	UpdateSecretVersionStage(ctx context.Context, in *secretsmanager.UpdateSecretVersionStageInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.UpdateSecretVersionStageOutput, error)
}

var _ Client = (*secretsmanager.Client)(nil)
