package proof

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate/test/internal/wait"

	"github.com/keygate/keygate/internal/testsupport/doortest"

	"github.com/keygate/keygate/internal/testsupport/smfake"
)

// One execution environment serving eight invocations at once (the
// emulator's multi-concurrency mode), race-built, refreshing its key set
// every 100 ms while the secret changes from key A to key B mid-run.
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
func TestConcurrentInvocationsDuringRefresh(t *testing.T) {
	const workers = 8
	srv := smfake.New()
	t.Cleanup(srv.Close)
	srv.Put(secretID, secretFor(t, keyA))
	f := startFunction(t, srv, true, workers, "KEY_REFRESH=100ms", "KEY_GRACE=0s", "KEY_LOAD_TIMEOUT=2s")
	iv := &invoker{f: f}

	kinds := []presented{presentA, presentB, presentWrong, presentMissing, presentExpired, presentAmbiguous}
	type request struct {
		kind    int
		door    string
		payload []byte
	}
	var reqs []request
	for _, d := range doors(t) {
		for k, p := range kinds {
			reqs = append(reqs, request{k, d.name, d.event(t, p, "", "")})
		}
	}

	type result struct {
		kind       int
		door       string
		start, end time.Time
		status     int
	}
	var (
		mu      sync.Mutex
		results []result
		wg      sync.WaitGroup
		stop    = make(chan struct{})
	)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w * 7; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				r := reqs[i%len(reqs)]
				start := time.Now()
				out, err := iv.invoke(ctx, r.payload)
				end := time.Now()
				if err != nil {
					t.Errorf("invoke (%s, %s): %v", r.door, kinds[r.kind].name, err)
					return
				}
				a := doortest.Decode(t, out)
				doortest.CheckHygiene(t, a.StatusCode, a.Merged(), a.Body, false)
				mu.Lock()
				results = append(results, result{r.kind, r.door, start, end, a.StatusCode})
				mu.Unlock()
			}
		}()
	}
	count := func(kind, status int) (n int) {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range results {
			if r.kind == kind && r.status == status {
				n++
			}
		}
		return n
	}

	time.Sleep(1500 * time.Millisecond)
	switched := time.Now()
	srv.Put(secretID, secretFor(t, keyB))
	wait.Until(t, 30*time.Second, "key B accepted after the switch", func() (bool, string) {
		n := count(1, http.StatusOK)
		return n >= 50, fmt.Sprintf("%d B→200", n)
	})
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()

	// The first answers that show the new set in use.
	var firstB200, firstA401 time.Time
	for _, r := range results {
		switch {
		case r.kind == 1 && r.status == http.StatusOK && (firstB200.IsZero() || r.end.Before(firstB200)):
			firstB200 = r.end
		case r.kind == 0 && r.status == http.StatusUnauthorized && (firstA401.IsZero() || r.end.Before(firstA401)):
			firstA401 = r.end
		}
	}
	statuses := map[int]int{}
	wrong := 0
	for _, r := range results {
		statuses[r.status]++
		var want []int
		switch {
		case r.kind > 1:
			want = []int{http.StatusUnauthorized}
		case r.end.Before(switched) && r.kind == 0:
			want = []int{http.StatusOK}
		case r.end.Before(switched):
			want = []int{http.StatusUnauthorized}
		case r.kind == 0 && !firstB200.IsZero() && r.start.After(firstB200):
			want = []int{http.StatusUnauthorized}
		case r.kind == 1 && !firstA401.IsZero() && r.start.After(firstA401):
			want = []int{http.StatusOK}
		default:
			want = []int{http.StatusOK, http.StatusUnauthorized}
		}
		if !containsInt(want, r.status) {
			wrong++
			if wrong <= 10 {
				t.Errorf("%s via %s, sent %s after the switch: %d, want one of %v",
					kinds[r.kind].name, r.door, r.start.Sub(switched).Round(time.Millisecond), r.status, want)
			}
		}
	}
	loads := checkFunctionOutput(t, f)
	if loads < 5 {
		t.Errorf("the function logged %d key loads: the set did not refresh during the run", loads)
	}
	if len(results) < 500 {
		t.Errorf("only %d invocations: the run proved little", len(results))
	}
	t.Logf("race-built bootstrap, %d concurrent: %d invocations (statuses %v), %d wrong, %d busy retries, %d key loads, no race report",
		workers, len(results), statuses, wrong, iv.busy.Load(), loads)
}

func containsInt(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
