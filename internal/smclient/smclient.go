// Package smclient builds a Secrets Manager client from the AWS SDK's
// default configuration chain: environment, shared config and credentials
// files, SSO, IMDS, and AWS_ENDPOINT_URL_SECRETS_MANAGER or AWS_ENDPOINT_URL
// to point at an emulator. The local server and the keygate CLI use it; the
// Lambda bootstraps use the leaner envclient.
package smclient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/aws/smithy-go/logging"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// ErrNoRegion: neither the environment nor the profile names a region.
var ErrNoRegion = errors.New("no AWS region is configured for Secrets Manager: set AWS_REGION or a region in your AWS profile")

// New returns a Secrets Manager client in region (the configured one when
// empty) and the region it uses.
func New(ctx context.Context, region string, log *slog.Logger) (*secretsmanager.Client, string, error) {
	cfg, err := LoadConfig(ctx, region, log)
	if err != nil {
		return nil, "", err
	}
	return secretsmanager.NewFromConfig(cfg), cfg.Region, nil
}

// LoadConfig loads the SDK's configuration for any client (the CLI's
// Lambda client too), in region when it is not empty. The SDK's own
// warnings (such as "falling back to IMDSv1", plain text on stderr by
// default) go to log at WARN, or nowhere when log is nil.
func LoadConfig(ctx context.Context, region string, log *slog.Logger) (aws.Config, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	opts := []func(*config.LoadOptions) error{
		config.WithLogger(logging.LoggerFunc(func(c logging.Classification, format string, v ...any) {
			level := slog.LevelWarn
			if c == logging.Debug {
				level = slog.LevelDebug
			}
			log.Log(context.Background(), level, "aws sdk: "+fmt.Sprintf(format, v...))
		})),
	}
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return cfg, fmt.Errorf("loading the AWS SDK configuration: %w", err)
	}
	if cfg.Region == "" {
		return cfg, ErrNoRegion
	}
	return cfg, nil
}
