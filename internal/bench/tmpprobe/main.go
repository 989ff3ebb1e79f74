package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/keygate/keygate/internal/smclient/envclient"
)

func main() {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.Write([]byte(`{"Name":"x","SecretString":"kgExampleLocalKey4f9d2c81b7e6a035","VersionId":"v1","VersionStages":["AWSCURRENT"],"CreatedDate":1.7e9}`))
	}))
	env := map[string]string{"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "s", "AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://" + ln.Addr().String()}
	for i := 0; i < 3; i++ {
		t0 := time.Now()
		c, _, err := envclient.NewFromEnv(context.Background(), func(k string) string { return env[k] })
		if err != nil {
			panic(err)
		}
		t1 := time.Now()
		var conn, wrote, first time.Time
		ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
			GetConn:              func(string) { conn = time.Now() },
			WroteRequest:         func(httptrace.WroteRequestInfo) { wrote = time.Now() },
			GotFirstResponseByte: func() { first = time.Now() },
		})
		_, err = c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("x")})
		t2 := time.Now()
		fmt.Fprintf(os.Stderr, "new %v; call %v (to GetConn %v, wrote %v, first byte %v, after %v) err=%v\n", t1.Sub(t0), t2.Sub(t1), conn.Sub(t1), wrote.Sub(conn), first.Sub(wrote), t2.Sub(first), err)
	}
}
