// Command naive is the naive floor of `make bench`'s cold-start model: the
// least Go function that keeps keygate's contract, written the way the
// SDK's documentation starts one. config.LoadDefaultConfig (the SDK's
// default chain, Go's default transport and so the system trust store),
// one GetSecretValue at init, then per event: decode the REST API event,
// compare x-api-key in constant time, answer 200 or 401 (package floor).
// keygate's cold start is measured against it.
package main

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/keygate/keygate/test/bench/floor"
)

func main() { floor.Start(fetch) }

func fetch(ctx context.Context, secretID string) (string, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return "", err
	}
	out, err := secretsmanager.NewFromConfig(cfg).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &secretID})
	if err != nil {
		return "", err
	}
	if out.SecretString == nil {
		return "", nil
	}
	return *out.SecretString, nil
}
