// Command sdk is the floor of `make bench` (package floor) that reads the
// key as keygate must: one GetSecretValue through the SDK client keygate's
// bootstrap builds (envclient). Against it, keygate's extra cold start is
// that of its own code, not of the SDK.
package main

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/keygate/keygate/internal/smclient/envclient"
	"github.com/keygate/keygate/test/bench/floor"
)

func main() { floor.Start(fetch) }

func fetch(ctx context.Context, secretID string) (string, error) {
	client, _, err := envclient.New(ctx)
	if err != nil {
		return "", err
	}
	out, err := client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &secretID})
	if err != nil {
		return "", err
	}
	if out.SecretString == nil {
		return "", nil
	}
	return *out.SecretString, nil
}
