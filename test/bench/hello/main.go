// Command hello is the fastest possible aws-lambda-go function: the
// baseline keygate's bootstrap is measured against in `make bench`. It is
// built with the same flags as keygate's bootstrap and answers every event
// with a fixed API Gateway response, so the difference between the two is
// what keygate itself costs.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"
)

// response is the smallest valid proxy-integration answer.
var response = []byte(`{"statusCode":200,"headers":{"Content-Type":"application/json"},"body":"{\"message\":\"OK: Authorized\"}"}`)

type handler struct{}

func (handler) Invoke(context.Context, []byte) ([]byte, error) { return response, nil }

func main() { lambda.Start(handler{}) }
