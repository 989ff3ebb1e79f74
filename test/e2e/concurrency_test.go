package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keygate/keygate/test/internal/wait"

	"github.com/keygate/keygate/internal/testsupport/doortest"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/keygate/keygate/test/moto"
	"github.com/keygate/keygate/test/rie"
)

// A Lambda environment may serve concurrent requests (the multi-concurrency
// mode of Lambda Managed Instances): the key state must be race-free. The
// race-detector build of the bootstrap serves parallel invocations while
// its key cache fails at cold start, retries and recovers; rie fails the
// test on any data race the bootstrap reports.
func TestConcurrentInvocationsDuringRecovery(t *testing.T) {
	const workers = 4
	fxs := apiEvents(t)
	endpoint := moto.Start(t)
	const id = "keygate/concurrent"
	f := rie.Start(t, rie.Build(t, "./cmd/api", true), rie.Options{
		MaxConcurrency: workers,
		Env:            motoEnv(endpoint, id),
	})
	t.Cleanup(func() { checkLogs(t, f) })

	want := make([]int, len(fxs))
	for i, fx := range fxs {
		want[i] = fx.Want.Status
	}
	var (
		recovered       atomic.Bool // a key set has been served
		unavailable, ok atomic.Int64
		stop            = make(chan struct{})
		wg              sync.WaitGroup
	)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				fx, want := fxs[i%len(fxs)], want[i%len(fxs)]
				loaded := recovered.Load()
				out, err := f.Invoke(ctx, fx.Payload)
				if err != nil && strings.Contains(err.Error(), "Runtime.Unavailable") {
					// All runtimes busy for a moment: the emulator,
					// like Lambda, rejects rather than queues.
					time.Sleep(5 * time.Millisecond)
					continue
				}
				if err != nil {
					t.Errorf("invoke: %v", err)
					return
				}
				var r doortest.Answer
				if err := json.Unmarshal(out, &r); err != nil {
					t.Errorf("answer %s: %v", out, err)
					return
				}
				switch {
				case r.StatusCode == want:
					recovered.Store(true)
					if want == http.StatusOK {
						ok.Add(1)
					}
				case r.StatusCode == http.StatusServiceUnavailable && !loaded:
					unavailable.Add(1)
				default:
					t.Errorf("%s: status %d (key set served before: %v), want %d", fx.Name, r.StatusCode, loaded, want)
					return
				}
			}
		}()
	}
	defer func() {
		close(stop)
		wg.Wait()
	}()

	wait.Until(t, 30*time.Second, "parallel 503s before the secret exists", func() (bool, string) {
		return unavailable.Load() >= workers, "503s: " + itoa(int(unavailable.Load()))
	})
	if _, err := moto.Client(endpoint).CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String(id), SecretString: aws.String(rightKey),
	}); err != nil {
		t.Fatalf("CreateSecret: %v", err)
	}
	wait.Until(t, 30*time.Second, "parallel 200s after the secret appears", func() (bool, string) {
		return ok.Load() >= 4*workers, "200s: " + itoa(int(ok.Load()))
	})
	if n := initCount(f); n != 1 {
		t.Errorf("%d cold starts, want 1", n)
	}
}
