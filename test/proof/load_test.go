package proof

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keygate/keygate/internal/testsupport/doortest"

	"github.com/keygate/keygate/internal/testsupport/smfake"
)

// A load is bounded by a count and by a time, whichever comes first; the
// time bound only keeps a slow machine from running long. Both runs must
// reach minRequests for the figures to mean anything.
const (
	loadWorkers     = 8
	localRequests   = 20000
	rieRequests     = 6000
	loadTimeBound   = 20 * time.Second
	minLoadRequests = 1000
)

// loadMix is what the load sends, and what each must get.
var loadMix = []struct {
	p            presented
	method, path string
	status       int
}{
	{presentA, http.MethodGet, "/", http.StatusOK},
	{presentWrong, http.MethodGet, "/", http.StatusUnauthorized},
	{presentMissing, http.MethodGet, "/", http.StatusUnauthorized},
	{presentA, http.MethodGet, "/", http.StatusOK},
	{presentExpired, http.MethodGet, "/", http.StatusUnauthorized},
	{presentAmbiguous, http.MethodGet, "/", http.StatusUnauthorized},
	{presentA, http.MethodHead, "/", http.StatusOK},
	{presentA, http.MethodGet, "/elsewhere", http.StatusNotFound},
	{presentWrong, http.MethodGet, "/elsewhere", http.StatusUnauthorized},
}

// loadStats counts a load run.
type loadStats struct {
	requests, wrong, serverErrors, failures atomic.Int64
}

func (s *loadStats) String() string {
	return fmt.Sprintf("%d requests, %d wrong answers, %d 5xx, %d transport errors",
		s.requests.Load(), s.wrong.Load(), s.serverErrors.Load(), s.failures.Load())
}

// run calls do from loadWorkers goroutines until n requests were sent or
// the time bound passes; do returns the status it got for mix entry i.
func (s *loadStats) run(t *testing.T, n int, do func(i int) (int, error)) {
	t.Helper()
	var (
		next atomic.Int64
		wg   sync.WaitGroup
	)
	deadline := time.Now().Add(loadTimeBound)
	for w := 0; w < loadWorkers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				s.requests.Add(1)
				status, err := do(i)
				want := loadMix[i%len(loadMix)]
				switch {
				case err != nil:
					if s.failures.Add(1) <= 5 {
						t.Errorf("%s %s with %s: %v", want.method, want.path, want.p.name, err)
					}
				case status >= 500:
					s.serverErrors.Add(1)
					fallthrough
				case status != want.status:
					if s.wrong.Add(1) <= 5 {
						t.Errorf("%s %s with %s: %d, want %d", want.method, want.path, want.p.name, status, want.status)
					}
				}
			}
		}()
	}
	wg.Wait()
}

// enough fails a measured run too short to mean anything.
func (s *loadStats) enough(t *testing.T) {
	t.Helper()
	if s.requests.Load() < minLoadRequests {
		t.Errorf("only %d requests within %s: the run proved little", s.requests.Load(), loadTimeBound)
	}
}

// The local server (the handler as cmd/local serves it, keys from the fake
// Secrets Manager refreshed every second) under a bounded concurrent load
// on loopback: no wrong answer, no 5xx, and the heap flat (live heap after
// a GC, before and after the run, sampled during it).
func TestLoadLocalServer(t *testing.T) {
	logs := &logSink{}
	s := newStackLog(t, logs, "KEY_REFRESH=1s", "KEY_GRACE=0s", "KEY_LOAD_TIMEOUT=2s")
	s.srv.Put(secretID, secretFor(t, keyA))
	if err := s.cache.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	base := s.listen(t)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: loadWorkers}, Timeout: 10 * time.Second}
	t.Cleanup(client.CloseIdleConnections)

	send := func(i int) (int, error) {
		m := loadMix[i%len(loadMix)]
		req, err := http.NewRequest(m.method, base+m.path, nil)
		if err != nil {
			return 0, err
		}
		for _, k := range m.p.keys {
			req.Header.Add("X-Api-Key", k)
		}
		res, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			return 0, err
		}
		if i%97 == 0 {
			doortest.CheckHygiene(t, res.StatusCode, res.Header, string(body), m.method == http.MethodHead)
		}
		return res.StatusCode, nil
	}

	// Warm up (connections, the first refreshes), then measure.
	var warm loadStats
	warm.run(t, 500, send)
	before := liveHeap()
	var peak atomic.Uint64
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-done:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	start := time.Now()
	var st loadStats
	st.run(t, localRequests, send)
	took := time.Since(start)
	st.enough(t)
	close(done)
	<-sampled
	after := liveHeap()

	if st.wrong.Load() != 0 || st.serverErrors.Load() != 0 || st.failures.Load() != 0 {
		t.Errorf("local server under load: %s", &st)
	}
	lines, requests, _ := logs.counts()
	if want := int(warm.requests.Load() + st.requests.Load()); requests != want || lines < want {
		t.Errorf("%d request log lines (%d lines in all) for %d requests: every request gets exactly one", requests, lines, want)
	}
	// Generous, yet a leak of 200 bytes per request would show.
	const growth = 4 << 20
	if after > before+growth {
		t.Errorf("live heap grew from %s to %s over %d requests", MiB(int64(before)), MiB(int64(after)), st.requests.Load())
	}
	if peak.Load() > 256<<20 {
		t.Errorf("heap peaked at %s", MiB(int64(peak.Load())))
	}
	t.Logf("local server, %d concurrent: %s in %s; live heap %s before, %s after (after GC), peak heap %s; %d refreshes",
		loadWorkers, &st, took.Round(time.Millisecond), MiB(int64(before)), MiB(int64(after)), MiB(int64(peak.Load())),
		s.srv.Calls("GetSecretValue")-1)
}

// liveHeap is the heap still in use after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// The real bootstrap (as make build builds it, without the race detector)
// under the emulator's multi-concurrency mode, every front door's events
// mixed: no wrong answer, no 5xx, and the bootstrap's resident memory flat
// and far below the function's 128 MB.
func TestLoadFunction(t *testing.T) {
	srv := smfake.New()
	t.Cleanup(srv.Close)
	srv.Put(secretID, secretFor(t, keyA))
	f := startFunction(t, srv.Env(), false, loadWorkers, "KEY_REFRESH=1s", "KEY_GRACE=0s", "KEY_LOAD_TIMEOUT=2s")
	iv := &invoker{f: f}
	pid, err := FindByName(f.Pids(), "bootstrap")
	if err != nil {
		t.Fatal(err)
	}

	ds := doors(t)
	// Payload i is door i/len(loadMix) with mix entry i%len(loadMix), so
	// that run's expectation for request i is the payload's.
	payloads := make([][]byte, len(ds)*len(loadMix))
	for i := range payloads {
		d, m := ds[(i/len(loadMix))%len(ds)], loadMix[i%len(loadMix)]
		payloads[i] = d.event(t, m.p, m.method, m.path)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*loadTimeBound)
	defer cancel()
	send := func(i int) (int, error) {
		out, err := iv.invoke(ctx, payloads[i%len(payloads)])
		if err != nil {
			return 0, err
		}
		a := doortest.Decode(t, out)
		if i%97 == 0 {
			doortest.CheckHygiene(t, a.StatusCode, a.Merged(), a.Body, loadMix[i%len(loadMix)].method == http.MethodHead)
		}
		return a.StatusCode, nil
	}
	var warm loadStats
	warm.run(t, 300, send)
	before, err := ReadMem(pid)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var st loadStats
	st.run(t, rieRequests, send)
	took := time.Since(start)
	st.enough(t)
	after, err := ReadMem(pid)
	if err != nil {
		t.Fatal(errors.Join(err, fmt.Errorf("the bootstrap is gone after the load: did it crash?")))
	}
	if st.wrong.Load() != 0 || st.serverErrors.Load() != 0 || st.failures.Load() != 0 {
		t.Errorf("function under load: %s", &st)
	}
	if after.RSS > before.RSS+32<<20 {
		t.Errorf("the bootstrap's resident memory grew from %s to %s", MiB(before.RSS), MiB(after.RSS))
	}
	if after.Peak > 128<<20 {
		t.Errorf("the bootstrap peaked at %s resident, over the function's 128 MB", MiB(after.Peak))
	}
	loads := checkFunctionOutput(t, f)
	if n := len(f.InitDurations()); n != 1 {
		t.Errorf("%d cold starts, want 1 (a restart means the runtime crashed)", n)
	}
	t.Logf("function, %d concurrent: %s in %s (%d busy retries); bootstrap resident %s before, %s after, peak %s; %d key loads",
		loadWorkers, &st, took.Round(time.Millisecond), iv.busy.Load(), MiB(before.RSS), MiB(after.RSS), MiB(after.Peak), loads)
}
