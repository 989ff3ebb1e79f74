// Package smclient builds the Secrets Manager client from the SDK's standard
// configuration: AWS_REGION, credentials, and AWS_ENDPOINT_URL_SECRETS_MANAGER
// or AWS_ENDPOINT_URL to point at an emulator. Nothing AWS-specific is
// hard-coded.
package smclient

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/keygate/keygate/internal/keysource"
)

// New returns a client and the region it uses.
func New(ctx context.Context) (keysource.GetSecretValueAPI, string, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("loading the AWS SDK configuration: %w", err)
	}
	if cfg.Region == "" {
		return nil, "", fmt.Errorf("no AWS region is configured for Secrets Manager: set AWS_REGION or a region in your AWS profile")
	}
	return secretsmanager.NewFromConfig(cfg), cfg.Region, nil
}
