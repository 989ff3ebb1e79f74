// Command plain is the lowest floor of `make bench` (package floor): it
// reads the key with one unsigned GetSecretValue request over plain
// net/http, which the loopback fake answers and real Secrets Manager would
// refuse. No function that fetches its key can start faster.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"

	"github.com/keygate/keygate/test/bench/floor"
)

func main() { floor.Start(fetch) }

func fetch(ctx context.Context, secretID string) (string, error) {
	body := []byte(`{"SecretId":` + strconv.Quote(secretID) + `}`)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, os.Getenv("AWS_ENDPOINT_URL_SECRETS_MANAGER")+"/", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "secretsmanager.GetSecretValue")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct{ SecretString string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GetSecretValue: %s (%v)", resp.Status, err)
	}
	return out.SecretString, nil
}
