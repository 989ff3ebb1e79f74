package floor_test

import (
	"context"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/keygate/keygate/test/bench"
	"github.com/keygate/keygate/test/bench/floor"
)

// The floor keeps the contract it stands for: only the exact key passes.
func TestHandler(t *testing.T) {
	h := floor.Handler(bench.ExampleKey)
	for _, tc := range []struct {
		name   string
		header map[string]string
		want   int
	}{
		{"right key", map[string]string{"x-api-key": bench.ExampleKey}, 200},
		{"wrong key", map[string]string{"x-api-key": bench.ExampleKey + "x"}, 401},
		{"prefix of the key", map[string]string{"x-api-key": bench.ExampleKey[:8]}, 401},
		{"no key", nil, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := h(context.Background(), events.APIGatewayProxyRequest{HTTPMethod: "GET", Path: "/", Headers: tc.header})
			if err != nil || resp.StatusCode != tc.want {
				t.Fatalf("status %d (%v), want %d", resp.StatusCode, err, tc.want)
			}
		})
	}
}
