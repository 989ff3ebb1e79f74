package proof

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/keygate/keygate/internal/testsupport/doortest"
	"github.com/keygate/keygate/internal/testsupport/smfake"
	"github.com/keygate/keygate/test/internal/wait"
	"github.com/keygate/keygate/test/moto"
)

// A Lambda environment may serve invocations in parallel (the
// multi-concurrency mode of Lambda Managed Instances, which the emulator
// runs): its key state must be race-free. These tests run the race-built
// bootstrap so, and rie fails a test on any data race it reports.
//
// Every request carries one of these kinds of key: A and B are the keys a
// secret holds, the others never authorize.
var concurrentKinds = []presented{presentA, presentB, presentWrong, presentMissing, presentExpired, presentAmbiguous}

// Indexes of concurrentKinds.
const (
	kindA = 0
	kindB = 1
)

// request is one invocation: door's event carrying concurrentKinds[kind].
type request struct {
	kind    int
	door    string
	payload []byte
}

// concurrentRequests is every door's event with each kind of key.
func concurrentRequests(t *testing.T) []request {
	t.Helper()
	var reqs []request
	for _, d := range doors(t) {
		for k, p := range concurrentKinds {
			reqs = append(reqs, request{k, d.name, d.event(t, p, "", "")})
		}
	}
	return reqs
}

// result is a request's answer, and when the request was sent and
// answered.
type result struct {
	request
	start, end time.Time
	status     int
}

// invokeConcurrently has workers goroutines send reqs round the list, each
// from its own place, until stop is called; stop waits for them, and may be
// called again. Every answer must be a JSON response with the headers and
// the fixed body of its status (doortest.CheckHygiene), and goes to record.
// A worker ends at an invocation that fails, or when record returns false.
func (iv *invoker) invokeConcurrently(t *testing.T, ctx context.Context, workers int, reqs []request, record func(result) bool) (stop func()) {
	t.Helper()
	var (
		wg   sync.WaitGroup
		done = make(chan struct{})
		once sync.Once
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w * len(reqs) / workers; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				r := reqs[i%len(reqs)]
				start := time.Now()
				out, err := iv.invoke(ctx, r.payload)
				end := time.Now()
				if err != nil {
					t.Errorf("invoke (%s via %s): %v", concurrentKinds[r.kind].name, r.door, err)
					return
				}
				// Not doortest.Decode: its t.Fatalf belongs to the test's
				// own goroutine.
				var a doortest.Answer
				if err := json.Unmarshal(out, &a); err != nil {
					t.Errorf("%s via %s: the answer is not a JSON response: %v: %s", concurrentKinds[r.kind].name, r.door, err, out)
					return
				}
				doortest.CheckHygiene(t, a.StatusCode, a.Merged(), a.Body, false)
				if !record(result{r, start, end, a.StatusCode}) {
					return
				}
			}
		}()
	}
	return func() {
		once.Do(func() { close(done) })
		wg.Wait()
	}
}

// The environment serves parallel invocations while its key cache fails at
// cold start, retries and recovers: the secret does not exist in moto (a
// Secrets Manager that is not keygate's own fake) until the test creates
// it. Every request gets 503 until some request has seen a key set served;
// a request sent after that gets its key's own answer (A 200, any other
// 401), never 503 again; one cold start throughout.
func TestConcurrentInvocationsDuringRecovery(t *testing.T) {
	const workers = 4
	endpoint := moto.Start(t)
	f := startFunction(t, moto.Env(endpoint), true, workers)
	t.Cleanup(func() { checkFunctionOutput(t, f) })
	iv := &invoker{f: f}

	var (
		served          atomic.Int64 // when an answer from a key set arrived (UnixNano); 0: none yet
		unavailable, ok atomic.Int64
	)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	stop := iv.invokeConcurrently(t, ctx, workers, concurrentRequests(t), func(r result) bool {
		want := http.StatusUnauthorized
		if r.kind == kindA {
			want = http.StatusOK
		}
		switch {
		case r.status == want:
			served.CompareAndSwap(0, r.end.UnixNano())
			if want == http.StatusOK {
				ok.Add(1)
			}
		case r.status == http.StatusServiceUnavailable && (served.Load() == 0 || r.start.UnixNano() < served.Load()):
			unavailable.Add(1)
		default:
			t.Errorf("%s via %s: status %d (a key set served before it was sent: %v), want %d",
				concurrentKinds[r.kind].name, r.door, r.status, served.Load() != 0, want)
			return false
		}
		return true
	})
	defer stop()

	wait.Until(t, 30*time.Second, "parallel 503s before the secret exists", func() (bool, string) {
		return unavailable.Load() >= workers, fmt.Sprintf("%d 503s", unavailable.Load())
	})
	if _, err := moto.Client(endpoint).CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String(secretID), SecretString: aws.String(secretFor(t, keyA)),
	}); err != nil {
		t.Fatalf("CreateSecret: %v", err)
	}
	wait.Until(t, 30*time.Second, "parallel 200s after the secret appears", func() (bool, string) {
		return ok.Load() >= 4*workers, fmt.Sprintf("%d 200s", ok.Load())
	})
	stop()
	if n := len(f.InitDurations()); n != 1 {
		t.Errorf("%d cold starts, want 1", n)
	}
	t.Logf("race-built bootstrap, %d concurrent: %d 503s before the secret existed, %d 200s after, %d busy retries",
		workers, unavailable.Load(), ok.Load(), iv.busy.Load())
}

// Eight invocations at once, the key set refreshed every 100 ms while the
// secret changes from key A to key B mid-run.
//
// No race report, and no wrong answer. With KEY_GRACE=0 the switch is
// sharp, and one cache serves the environment, so the answers must be
// linearizable around it:
//   - a wrong, missing, expired or doubled key is always 401;
//   - A is 200 for a request answered before the secret changed, and 401
//     for one sent after any request saw B accepted;
//   - B is 401 for a request answered before the secret changed, and 200
//     for one sent after any request saw A refused;
//   - in between, A and B may each get 200 or 401, never anything else.
//
// The run lasts until each side of the switch has been seen many times,
// across a second or so of refreshes each (waits with a bound, not a length
// of time), so a busy machine makes it longer, not weaker.
func TestConcurrentInvocationsDuringRefresh(t *testing.T) {
	const (
		workers = 8
		// Each side of the switch: the answers that show it, and the
		// refreshes (every 100 ms) that run among them.
		answers   = 100
		refreshes = 10
	)
	srv := smfake.New()
	t.Cleanup(srv.Close)
	srv.Put(secretID, secretFor(t, keyA))
	f := startFunction(t, srv.Env(), true, workers, "KEY_REFRESH=100ms", "KEY_GRACE=0s", "KEY_LOAD_TIMEOUT=2s")
	iv := &invoker{f: f}

	var (
		mu      sync.Mutex
		results []result
	)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	stop := iv.invokeConcurrently(t, ctx, workers, concurrentRequests(t), func(r result) bool {
		mu.Lock()
		defer mu.Unlock()
		results = append(results, r)
		return true
	})
	defer stop()
	count := func(kind, status int) (n, all int) {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range results {
			if r.kind == kind && r.status == status {
				n++
			}
		}
		return n, len(results)
	}
	loaded := func() int { return countLines(f.Logs(), "key set loaded") }

	wait.Until(t, 30*time.Second, "key A accepted, and refreshed, before the switch", func() (bool, string) {
		n, _ := count(kindA, http.StatusOK)
		return n >= answers && loaded() >= refreshes, fmt.Sprintf("%d A→200, %d key loads", n, loaded())
	})
	switched := time.Now()
	srv.Put(secretID, secretFor(t, keyB))
	wait.Until(t, 30*time.Second, "key B accepted and key A refused after the switch", func() (bool, string) {
		b, all := count(kindB, http.StatusOK)
		a, _ := count(kindA, http.StatusUnauthorized)
		return b >= answers && a >= answers && all >= 10*answers && loaded() >= 2*refreshes,
			fmt.Sprintf("%d B→200, %d A→401, %d invocations, %d key loads", b, a, all, loaded())
	})
	stop()

	// The first answers that show the new set in use.
	var firstB200, firstA401 time.Time
	for _, r := range results {
		switch {
		case r.kind == kindB && r.status == http.StatusOK && (firstB200.IsZero() || r.end.Before(firstB200)):
			firstB200 = r.end
		case r.kind == kindA && r.status == http.StatusUnauthorized && (firstA401.IsZero() || r.end.Before(firstA401)):
			firstA401 = r.end
		}
	}
	statuses := map[int]int{}
	wrong := 0
	for _, r := range results {
		statuses[r.status]++
		var want []int
		switch {
		case r.kind != kindA && r.kind != kindB:
			want = []int{http.StatusUnauthorized}
		case r.end.Before(switched) && r.kind == kindA:
			want = []int{http.StatusOK}
		case r.end.Before(switched):
			want = []int{http.StatusUnauthorized}
		case r.kind == kindA && !firstB200.IsZero() && r.start.After(firstB200):
			want = []int{http.StatusUnauthorized}
		case r.kind == kindB && !firstA401.IsZero() && r.start.After(firstA401):
			want = []int{http.StatusOK}
		default:
			want = []int{http.StatusOK, http.StatusUnauthorized}
		}
		if !slices.Contains(want, r.status) {
			wrong++
			if wrong <= 10 {
				t.Errorf("%s via %s, sent %s after the switch: %d, want one of %v",
					concurrentKinds[r.kind].name, r.door, r.start.Sub(switched).Round(time.Millisecond), r.status, want)
			}
		}
	}
	loads := checkFunctionOutput(t, f)
	if loads < 2*refreshes {
		t.Errorf("the function logged %d key loads: the set did not refresh during the run", loads)
	}
	if len(results) < 10*answers {
		t.Errorf("only %d invocations: the run proved little", len(results))
	}
	t.Logf("race-built bootstrap, %d concurrent: %d invocations (statuses %v), %d wrong, %d busy retries, %d key loads, no race report",
		workers, len(results), statuses, wrong, iv.busy.Load(), loads)
}
