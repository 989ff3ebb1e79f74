// Package bench holds what keygate's benchmarks share: the sample events
// they replay, the keygate invocation path exactly as the bootstrap wires
// it, the hand-written baseline it is compared with, and the loop that
// times one against the other. The benchmark files (bench_test.go in
// internal/frontdoor and handler) and `make bench` (cmd/benchtable) use it,
// so that the numbers in the table are the benchmarks' numbers.
package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"testing"

	samples "github.com/keygate/keygate/events"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/keygate/keygate/internal/apikey"
	"github.com/keygate/keygate/internal/config"
	"github.com/keygate/keygate/internal/decision"
	"github.com/keygate/keygate/internal/frontdoor"
	"github.com/keygate/keygate/internal/keycache"
	"github.com/keygate/keygate/internal/keysource"
	"github.com/keygate/keygate/test/bench/direct"
)

// ExampleKey is the right key of the sample events in events/.
const ExampleKey = samples.RightKey

// Doors are the front doors benchmarked, in table order.
var Doors = []frontdoor.Kind{frontdoor.REST, frontdoor.HTTPAPI, frontdoor.ALB}

// Events returns, for each door, the event the benchmarks replay: the
// authorized GET / of events/<door>-valid-key.json.
func Events() (map[frontdoor.Kind]samples.Event, error) {
	evs, err := samples.All()
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	out := make(map[frontdoor.Kind]samples.Event, len(Doors))
	for _, ev := range evs {
		for _, door := range Doors {
			if ev.Name == string(door)+"-valid-key.json" {
				out[door] = ev
			}
		}
	}
	for _, door := range Doors {
		if _, ok := out[door]; !ok {
			return nil, fmt.Errorf("bench: events/%s-valid-key.json is missing", door)
		}
	}
	return out, nil
}

// Logger is the production logger (config.NewLogger) writing to
// io.Discard: the benchmarks pay for formatting the request line, as the
// function does, without measuring a terminal.
func Logger() *slog.Logger { return config.NewLogger(io.Discard, slog.LevelInfo) }

// Keygate is the bootstrap's invocation path (cmd/api): front door, handler,
// key cache loaded from a source holding ExampleKey. log may be nil (the
// production logger to io.Discard).
func Keygate(log *slog.Logger) lambda.Handler {
	if log == nil {
		log = Logger()
	}
	keys := keycache.New(keysource.NewStatic("env", ExampleKey), keycache.Options{Log: log})
	if err := keys.Load(context.Background()); err != nil {
		panic("bench: a static key failed to load: " + err.Error()) // ExampleKey is a constant
	}
	return frontdoor.New(decision.New(keys), log)
}

// Direct is the hand-written baseline for door, with the same key set and
// logger as Keygate.
func Direct(door frontdoor.Kind, log *slog.Logger) lambda.Handler {
	if log == nil {
		log = Logger()
	}
	doc, err := apikey.Parse(ExampleKey)
	if err != nil {
		panic("bench: " + err.Error())
	}
	d := direct.New(apikey.NewSet(doc.Entries("")), log)
	switch door {
	case frontdoor.HTTPAPI:
		return d.HTTPAPI()
	case frontdoor.ALB:
		return d.ALB()
	}
	return d.REST()
}

// Context is an invocation context as the runtime builds it.
func Context() context.Context {
	return lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{
		AwsRequestID:       "8f5c1c1e-0d1b-4d5e-9d7e-bench0000000",
		InvokedFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:keygate",
	})
}

// Invoke runs one invocation; an invocation error becomes an empty answer,
// which Status rejects.
func Invoke(h lambda.Handler, payload []byte) []byte {
	out, err := h.Invoke(Context(), payload)
	if err != nil {
		return nil
	}
	return out
}

// Status reads statusCode from a proxy-integration answer.
func Status(answer []byte) (int, error) {
	var r struct {
		StatusCode int `json:"statusCode"`
	}
	if err := json.Unmarshal(answer, &r); err != nil {
		return 0, fmt.Errorf("bench: the answer is not JSON: %w", err)
	}
	return r.StatusCode, nil
}

// Run is the body of an invocation benchmark: it checks once that h
// authorizes payload, then invokes it b.N times from raw bytes to response
// bytes, reporting allocations.
func Run(b *testing.B, h lambda.Handler, payload []byte) {
	if status, err := Status(Invoke(h, payload)); err != nil || status != 200 {
		b.Fatalf("the event is not answered 200 (status %d, %v)", status, err)
	}
	ctx := Context()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := h.Invoke(ctx, payload); err != nil {
			b.Fatal(err)
		}
	}
}
