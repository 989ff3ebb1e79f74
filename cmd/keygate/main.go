// Command keygate manages the API keys in keygate's Secrets Manager secret:
// keys list, usage, add, set, revoke, rotate (see `keygate help`). It only
// wires the process to internal/keyadmin.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/keygate/keygate/internal/keyadmin"
	"github.com/keygate/keygate/internal/smapi"
	"github.com/keygate/keygate/internal/smclient"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := keyadmin.Run(ctx, os.Args[1:], keyadmin.Env{
		Stdout: os.Stdout,
		Stderr: os.Stderr,
		Getenv: os.Getenv,
		NewClient: func(ctx context.Context, region string) (smapi.Client, string, error) {
			return smclient.New(ctx, region, nil)
		},
		NewLambda: func(ctx context.Context, region string) (keyadmin.LambdaClient, error) {
			cfg, err := smclient.LoadConfig(ctx, region, nil)
			return lambda.NewFromConfig(cfg), err
		},
		NewAPIGateway: func(ctx context.Context, region string) (keyadmin.APIGateway, error) {
			cfg, err := smclient.LoadConfig(ctx, region, nil)
			return apigateway.NewFromConfig(cfg), err
		},
		NewLogs: func(ctx context.Context, region string) (keyadmin.LogsClient, error) {
			cfg, err := smclient.LoadConfig(ctx, region, nil)
			return cloudwatchlogs.NewFromConfig(cfg), err
		},
	})
	stop()
	os.Exit(code)
}
