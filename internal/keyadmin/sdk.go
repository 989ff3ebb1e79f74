package keyadmin

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// NewSDKClient builds the Secrets Manager client from the AWS SDK's default
// configuration (environment, shared config and credentials files, SSO,
// AWS_ENDPOINT_URL_SECRETS_MANAGER), in region if it is not empty.
func NewSDKClient(ctx context.Context, region string) (API, string, error) {
	var opts []func(*config.LoadOptions) error
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, "", fmt.Errorf("loading the AWS SDK configuration: %w", err)
	}
	if cfg.Region == "" {
		return nil, "", errors.New("no AWS region configured: pass --region or set AWS_REGION (or a region in your AWS profile)")
	}
	return secretsmanager.NewFromConfig(cfg), cfg.Region, nil
}
