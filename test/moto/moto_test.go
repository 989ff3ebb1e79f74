package moto_test

import (
	"context"
	"errors"
	"net"
	"net/url"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/keygate/keygate/test/moto"
)

// The server speaks Secrets Manager to the real SDK client, and is gone
// once the test that started it has ended.
func TestStartServesSecretsManagerAndStops(t *testing.T) {
	var endpoint string
	t.Run("serve", func(t *testing.T) {
		endpoint = moto.Start(t)
		sm := moto.Client(endpoint)
		ctx := context.Background()
		if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
			Name: aws.String("moto-harness"), SecretString: aws.String("value-1"),
		}); err != nil {
			t.Fatalf("CreateSecret: %v", err)
		}
		out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("moto-harness")})
		if err != nil {
			t.Fatalf("GetSecretValue: %v", err)
		}
		if got := aws.ToString(out.SecretString); got != "value-1" {
			t.Errorf("SecretString = %q, want value-1", got)
		}
	})
	u, err := url.Parse(endpoint)
	if err != nil || u.Hostname() != "127.0.0.1" {
		t.Fatalf("endpoint %q is not a loopback URL (%v)", endpoint, err)
	}
	if conn, err := net.DialTimeout("tcp", u.Host, time.Second); err == nil {
		conn.Close()
		t.Errorf("moto still listens on %s after its test ended", u.Host)
	}
}

// Two servers are independent: each test gets an empty one.
func TestStartIsolated(t *testing.T) {
	ctx := context.Background()
	a, b := moto.Client(moto.Start(t)), moto.Client(moto.Start(t))
	if _, err := a.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String("only-in-a"), SecretString: aws.String("v"),
	}); err != nil {
		t.Fatalf("CreateSecret: %v", err)
	}
	_, err := b.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("only-in-a")})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("the second server's GetSecretValue = %v, want ResourceNotFoundException", err)
	}
}
