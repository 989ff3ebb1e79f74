// Package floor is the least a Lambda function can do and still keep
// keygate's contract for one front door: read the key from Secrets Manager
// at cold start, decode the REST API event with aws-lambda-go, compare the
// x-api-key header in constant time, answer 200 or 401. No log line, no
// security headers, no other front door, no refresh, no rotation.
//
// `make bench` cold-starts floor/naive, which reads the key the way most
// people would first write it (the SDK's default configuration and Go's
// default trust store), beside keygate in its cold-start model: keygate's
// budget is a fraction of that floor's cold start.
//
// It is a benchmark baseline only: no deployed binary uses it.
package floor

import (
	"context"
	"crypto/subtle"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

const (
	bodyOK           = `{"message":"OK: Authorized"}`
	bodyUnauthorized = `{"message":"ERROR: Unauthorized"}`
)

// Start serves REST API events with the key fetch returned, or exits
// non-zero when the fetch failed: a floor that did not fetch measures
// nothing.
func Start(fetch func(ctx context.Context, secretID string) (string, error)) {
	key, err := fetch(context.Background(), os.Getenv("API_KEY_SECRET_ID"))
	if err != nil || key == "" {
		fmt.Fprintf(os.Stderr, "floor: reading the key failed (%v)\n", err)
		os.Exit(1)
	}
	lambda.Start(Handler(key))
}

// Handler answers one REST API event.
func Handler(key string) func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	return func(_ context.Context, ev events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		resp := events.APIGatewayProxyResponse{
			StatusCode: 401,
			Headers:    map[string]string{"Content-Type": "application/json"},
			Body:       bodyUnauthorized,
		}
		if subtle.ConstantTimeCompare([]byte(ev.Headers["x-api-key"]), []byte(key)) == 1 {
			resp.StatusCode, resp.Body = 200, bodyOK
		}
		return resp, nil
	}
}
