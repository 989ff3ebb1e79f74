// Command backend is the guarded API of make test-sam's authorizer chain:
// a Lambda function behind keygate as the Lambda authorizer of a REST API
// and of an HTTP API under `sam local start-api` (SAM's local gateway runs
// Lambda authorizers, not HTTP proxy integrations, so the local proof uses
// a Lambda backend where the deployed stack forwards to BackendUrl).
//
// It answers 200 with the client's name it got from the authorizer's
// context (requestContext.authorizer.client for a REST API,
// requestContext.authorizer.lambda.client for an HTTP API's payload 2.0),
// the method and path it was asked for, and whether an x-api-key header
// reached it (never the value). Without a client name it answers 500: a
// request that got here without keygate's Allow is a broken chain.
package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"
)

// event holds the fields of both payload formats that the answer needs.
type event struct {
	Version    string            `json:"version"`
	HTTPMethod string            `json:"httpMethod"`
	Path       string            `json:"path"`
	RawPath    string            `json:"rawPath"`
	Headers    map[string]string `json:"headers"`
	Context    struct {
		Authorizer map[string]any `json:"authorizer"`
		HTTP       struct {
			Method string `json:"method"`
		} `json:"http"`
	} `json:"requestContext"`
}

// Answer is the backend's JSON body.
type Answer struct {
	Backend string `json:"backend"`
	Door    string `json:"door"`
	Client  string `json:"client,omitempty"`
	// Meta is the client's meta, as keygate put it in the context.
	Meta   string `json:"meta,omitempty"`
	Method string `json:"method"`
	Path   string `json:"path"`
	// KeyHeader: the request still carried an x-api-key header here.
	KeyHeader bool   `json:"keyHeader"`
	Error     string `json:"error,omitempty"`
}

func handle(_ context.Context, ev event) (map[string]any, error) {
	a := Answer{Backend: "reached", Door: "rest", Method: ev.HTTPMethod, Path: ev.Path}
	ctx := ev.Context.Authorizer
	if ev.Version == "2.0" {
		a.Door, a.Method, a.Path = "httpapi", ev.Context.HTTP.Method, ev.RawPath
		ctx, _ = ev.Context.Authorizer["lambda"].(map[string]any)
	}
	a.Client, _ = ctx["client"].(string)
	a.Meta, _ = ctx["meta"].(string)
	for k := range ev.Headers {
		if strings.EqualFold(k, "x-api-key") {
			a.KeyHeader = true
		}
	}
	status := http.StatusOK
	if a.Client == "" {
		status, a.Error = http.StatusInternalServerError, "no client name in the authorizer context"
	}
	body, err := json.Marshal(a)
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"statusCode": status,
		"headers":    map[string]string{"Content-Type": "application/json"},
		"body":       string(body),
	}, nil
}

func main() { lambda.Start(handle) }
