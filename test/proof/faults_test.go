package proof

import (
	"context"
	"fmt"
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

	"github.com/keygate/keygate/internal/testsupport/smfake"
)

// The stated bound: no caller waits on the store longer than
// KEY_LOAD_TIMEOUT (set low here). The margin covers a machine whose two
// cores another test run keeps busy, and the race detector: it makes this
// a correctness bound, not a benchmark, and stays well below the faults it
// tells apart (a 10 s delay, a hang).
const (
	loadTimeout = time.Second
	margin      = 4 * time.Second
	bound       = loadTimeout + margin
)

// storeFaults are the store's failures, injected at the wire so that the
// real SDK client (built as the bootstrap builds it, retries included)
// meets them.
var storeFaults = []struct {
	name  string
	fault smfake.Fault
}{
	{"hang", smfake.HangFault},
	// Far beyond the bound, so that waiting it out would fail the test.
	{"delay beyond KEY_LOAD_TIMEOUT", smfake.DelayFault(10 * time.Second)},
	{"ThrottlingException", smfake.ThrottlingFault},
	{"500 InternalServiceError", smfake.InternalErrorFault},
	{"bare 503", smfake.UnavailableFault},
	{"truncated body", smfake.TruncatedBodyFault},
	{"non-JSON body", smfake.NonJSONFault},
	{"connection reset", smfake.ConnectionResetFault},
}

// expectation is the answer a kind of request must get.
type expectation struct {
	p      presented
	status int
}

// hammerStats sums up a hammer run.
type hammerStats struct {
	requests int64
	slowest  time.Duration
}

// hammer sends requests with every expectation's key from four goroutines
// for d, checking each answer's status and hygiene, and that no caller
// waited longer than bound.
func (s *stack) hammer(t *testing.T, d time.Duration, want []expectation) hammerStats {
	t.Helper()
	var (
		n       atomic.Int64
		mu      sync.Mutex
		slowest time.Duration
		wg      sync.WaitGroup
		failed  atomic.Bool
	)
	stop := time.Now().Add(d)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; time.Now().Before(stop) && !failed.Load(); i++ {
				e := want[i%len(want)]
				res, body, took := s.serve(e.p)
				n.Add(1)
				mu.Lock()
				slowest = max(slowest, took)
				mu.Unlock()
				if res.StatusCode != e.status {
					failed.Store(true)
					t.Errorf("%s: status %d, want %d", e.p.name, res.StatusCode, e.status)
				}
				if took > bound {
					failed.Store(true)
					t.Errorf("%s: the caller waited %s, more than KEY_LOAD_TIMEOUT (%s) + %s", e.p.name, took, loadTimeout, margin)
				}
				doortest.CheckHygiene(t, res.StatusCode, res.Header, body, false)
				// Pace the callers: the point is many refresh attempts
				// under traffic, not a CPU-bound loop that could starve
				// the process it measures.
				time.Sleep(time.Millisecond)
			}
		}()
	}
	wg.Wait()
	return hammerStats{requests: n.Load(), slowest: slowest}
}

func status(s *stack, p presented) int {
	res, _, _ := s.serve(p)
	return res.StatusCode
}

// A set is loaded, a refresh falls due, and the store fails it: the valid
// key keeps working from the stale set, nothing else is authorized, no
// caller waits longer than the bound, and once the store is back the
// cache reads it again (key B replaces A).
func TestStoreFaultDuringRefresh(t *testing.T) {
	for _, tc := range storeFaults {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newStack(t, "KEY_REFRESH=300ms", "KEY_LOAD_TIMEOUT="+loadTimeout.String(), "KEY_GRACE=0s")
			s.srv.Put(secretID, secretFor(t, keyA))
			if err := s.cache.Load(context.Background()); err != nil {
				t.Fatalf("cold start: %v", err)
			}
			before := s.srv.Calls("GetSecretValue")
			s.srv.Fail("GetSecretValue", tc.fault)

			st := s.hammer(t, 2*time.Second, []expectation{
				{presentA, http.StatusOK},
				{presentWrong, http.StatusUnauthorized},
				{presentMissing, http.StatusUnauthorized},
				{presentExpired, http.StatusUnauthorized},
				{presentAmbiguous, http.StatusUnauthorized},
			})
			calls := s.srv.Calls("GetSecretValue") - before
			if calls == 0 || !strings.Contains(s.logs.String(), `"serving_stale":true`) {
				t.Fatalf("no refresh met the fault (%d calls): the test proved nothing", calls)
			}
			t.Logf("%s during refresh: %d requests, slowest waited %s (bound %s), %d store calls failed",
				tc.name, st.requests, st.slowest.Round(time.Millisecond), bound, calls)

			s.srv.Clear()
			s.srv.Put(secretID, secretFor(t, keyB))
			wait.Until(t, 15*time.Second, "key B after the store returns", func() (bool, string) {
				got := status(s, presentB)
				return got == http.StatusOK, fmt.Sprint(got)
			})
			for _, p := range []presented{presentA, presentWrong, presentMissing} {
				if got := status(s, p); got != http.StatusUnauthorized {
					t.Errorf("after recovery: %s got %d, want 401", p.name, got)
				}
			}
		})
	}
}

// The store fails at cold start: the load gives up within the bound, every
// request (with the right key too) gets 503 within the bound, and the
// first load after the store returns serves.
func TestStoreFaultAtColdStart(t *testing.T) {
	for _, tc := range storeFaults {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newStack(t, "KEY_REFRESH=300ms", "KEY_LOAD_TIMEOUT="+loadTimeout.String(), "KEY_GRACE=0s")
			s.srv.Put(secretID, secretFor(t, keyA))
			s.srv.Fail("GetSecretValue", tc.fault)

			start := time.Now()
			err := s.cache.Load(context.Background())
			took := time.Since(start)
			if err == nil {
				t.Fatal("the cold-start load succeeded through the fault")
			}
			if took > bound {
				t.Errorf("the cold-start load took %s, more than KEY_LOAD_TIMEOUT (%s) + %s", took, loadTimeout, margin)
			}
			st := s.hammer(t, 1500*time.Millisecond, []expectation{
				{presentA, http.StatusServiceUnavailable},
				{presentWrong, http.StatusServiceUnavailable},
				{presentMissing, http.StatusServiceUnavailable},
			})
			t.Logf("%s at cold start: load gave up after %s; %d requests, all 503, slowest waited %s (bound %s)",
				tc.name, took.Round(time.Millisecond), st.requests, st.slowest.Round(time.Millisecond), bound)

			s.srv.Clear()
			wait.Until(t, 15*time.Second, "key A after the store returns", func() (bool, string) {
				got := status(s, presentA)
				return got == http.StatusOK, fmt.Sprint(got)
			})
			if got := status(s, presentWrong); got != http.StatusUnauthorized {
				t.Errorf("after recovery: wrong key got %d, want 401", got)
			}
		})
	}
}

// The SDK's retryer must not multiply the wait: with the client the
// bootstrap builds (standard retryer, 3 attempts), a throttled call is
// retried, but the load's deadline covers the attempts and the backoff
// between them, so three 1.8 s attempts (5.4 s and more, beyond the 4 s
// the test allows) end at the 2 s KEY_LOAD_TIMEOUT.
func TestRetriesStayWithinLoadTimeout(t *testing.T) {
	t.Parallel()
	const (
		timeout = 2 * time.Second
		attempt = 1800 * time.Millisecond
	)
	s := newStack(t, "KEY_LOAD_TIMEOUT="+timeout.String())
	s.srv.Put(secretID, secretFor(t, keyA))

	// The premise: without a deadline the client does retry throttling.
	s.srv.Fail("GetSecretValue", smfake.ThrottlingFault)
	client := s.client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(secretID)}); err == nil {
		t.Fatal("GetSecretValue succeeded through the fault")
	}
	if n := s.srv.Calls("GetSecretValue"); n < 2 {
		t.Fatalf("the client made %d attempts at a throttled call: the premise (it retries) does not hold", n)
	}
	retried := s.srv.Calls("GetSecretValue")

	s.srv.Fail("GetSecretValue", smfake.Fault{Delay: attempt, Code: "ThrottlingException", Message: "Rate exceeded"})
	start := time.Now()
	err := s.cache.Load(context.Background())
	took := time.Since(start)
	if err == nil {
		t.Fatal("the load succeeded through the fault")
	}
	if took > timeout+margin {
		t.Errorf("the load took %s: the retries went past KEY_LOAD_TIMEOUT (%s) + %s", took, timeout, margin)
	}
	t.Logf("retryer: %d attempts without a deadline; with KEY_LOAD_TIMEOUT=%s and %s per attempt the load ended after %s, %d attempt(s)",
		retried, timeout, attempt, took.Round(time.Millisecond), s.srv.Calls("GetSecretValue")-retried)
}

// The same through the real bootstrap under the emulator, for the worst
// fault (a store that never answers): cmd/api's wiring must bound the
// cold start (INIT) and every invocation by KEY_LOAD_TIMEOUT, answer 503
// until a set is loaded, serve the stale set when a refresh hangs, and
// recover both times when the store returns.
func TestFunctionStoreHang(t *testing.T) {
	srv := smfake.New()
	t.Cleanup(srv.Close)
	srv.Put(secretID, secretFor(t, keyA))
	srv.Fail("GetSecretValue", smfake.HangFault)
	f := startFunction(t, srv.Env(), false, 4, "KEY_REFRESH=300ms", "KEY_LOAD_TIMEOUT="+loadTimeout.String(), "KEY_GRACE=0s")
	iv := &invoker{f: f}
	d := doors(t)[0]
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	inits := f.InitDurations()
	if len(inits) != 1 {
		t.Fatalf("%d INIT reports, want 1", len(inits))
	}
	if init := time.Duration(inits[0] * float64(time.Millisecond)); init > bound {
		t.Errorf("INIT took %s with the store hanging: more than KEY_LOAD_TIMEOUT (%s) + %s", init, loadTimeout, margin)
	}

	// invokeAll sends the cases from four goroutines for dur.
	var slowestTotal time.Duration
	invokeAll := func(dur time.Duration, want []expectation) (n int64, slowest time.Duration) {
		var (
			mu sync.Mutex
			wg sync.WaitGroup
		)
		stop := time.Now().Add(dur)
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; time.Now().Before(stop); i++ {
					e := want[i%len(want)]
					start := time.Now()
					out, took, err := iv.invokeTimed(ctx, d.event(t, e.p, "", ""))
					total := time.Since(start)
					if err != nil {
						t.Errorf("invoke: %v", err)
						return
					}
					a := doortest.Decode(t, out)
					if a.StatusCode != e.status {
						t.Errorf("%s: %d, want %d", e.p.name, a.StatusCode, e.status)
					}
					if took > bound {
						t.Errorf("%s: the invocation took %s, more than KEY_LOAD_TIMEOUT (%s) + %s", e.p.name, took, loadTimeout, margin)
					}
					mu.Lock()
					n++
					slowest = max(slowest, took)
					slowestTotal = max(slowestTotal, total)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		return n, slowest
	}
	statusOf := func(p presented) int {
		out, err := iv.invoke(ctx, d.event(t, p, "", ""))
		if err != nil {
			t.Fatalf("invoke: %v", err)
		}
		return doortest.Decode(t, out).StatusCode
	}

	n, slowest := invokeAll(1500*time.Millisecond, []expectation{
		{presentA, http.StatusServiceUnavailable},
		{presentMissing, http.StatusServiceUnavailable},
	})
	t.Logf("bootstrap, store hanging at cold start: INIT %.0f ms; %d invocations, all 503, slowest %s (bound %s)",
		inits[0], n, slowest.Round(time.Millisecond), bound)
	srv.Clear()
	wait.Until(t, 15*time.Second, "key A after the store returns", func() (bool, string) {
		got := statusOf(presentA)
		return got == http.StatusOK, fmt.Sprint(got)
	})

	srv.Fail("GetSecretValue", smfake.HangFault)
	n, slowest = invokeAll(2*time.Second, []expectation{
		{presentA, http.StatusOK},
		{presentWrong, http.StatusUnauthorized},
		{presentMissing, http.StatusUnauthorized},
	})
	if err := f.WaitLog(ctx, `"serving_stale":true`); err != nil {
		t.Fatalf("no refresh met the hang: %v", err)
	}
	t.Logf("bootstrap, store hanging during refresh: %d invocations served from the stale set, slowest %s (bound %s)",
		n, slowest.Round(time.Millisecond), bound)
	srv.Clear()
	srv.Put(secretID, secretFor(t, keyB))
	wait.Until(t, 15*time.Second, "key B after the store returns", func() (bool, string) {
		got := statusOf(presentB)
		return got == http.StatusOK, fmt.Sprint(got)
	})
	t.Logf("slowest invocation counting the retries of busy rejections: %s; %d busy rejections", slowestTotal.Round(time.Millisecond), iv.busy.Load())
	checkFunctionOutput(t, f)
}
