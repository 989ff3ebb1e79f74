package proof

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keygate/keygate/test/rie"
)

// startFunction runs the bootstrap (race-built or not) under the emulator
// in its multi-concurrency mode, reading the secret secretID from the
// store that store (smfake's or moto's Env) leads to.
func startFunction(t *testing.T, store []string, race bool, workers int, env ...string) *rie.Function {
	t.Helper()
	env = slices.Concat(store, []string{"API_KEY_SECRET_ID=" + secretID}, env)
	return rie.Start(t, rie.Build(t, "./cmd/api", race), rie.Options{MaxConcurrency: workers, Env: env})
}

// invoker sends invocations, retrying those the emulator rejects because
// every runtime is busy (like Lambda, it rejects rather than queues).
type invoker struct {
	f    *rie.Function
	busy atomic.Int64
}

var errBusy = errors.New("Runtime.Unavailable")

func (iv *invoker) invoke(ctx context.Context, payload []byte) ([]byte, error) {
	out, _, err := iv.invokeTimed(ctx, payload)
	return out, err
}

// invokeTimed also returns how long the accepted invocation took: the wait
// a caller has once Lambda has taken the request (a rejected attempt is,
// for a real caller, a throttle answered at once, not a wait).
func (iv *invoker) invokeTimed(ctx context.Context, payload []byte) ([]byte, time.Duration, error) {
	for {
		start := time.Now()
		out, err := iv.f.Invoke(ctx, payload)
		if err == nil || !strings.Contains(err.Error(), errBusy.Error()) {
			return out, time.Since(start), err
		}
		iv.busy.Add(1)
		select {
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// checkFunctionOutput stops the function and checks its output: no race
// report, no key, every line of the function's a JSON log record; and
// returns the number of key loads it logged.
func checkFunctionOutput(t *testing.T, f *rie.Function) (loads int) {
	t.Helper()
	f.Stop()
	logs := f.Logs()
	if strings.Contains(logs, "WARNING: DATA RACE") {
		t.Errorf("the race detector reported a data race in the bootstrap")
	}
	checkNoKeys(t, "the function's output", logs)
	for _, line := range f.Unstructured() {
		t.Errorf("the function wrote a line that is not a JSON log record: %q", line)
	}
	return countLines(logs, "key set loaded")
}
