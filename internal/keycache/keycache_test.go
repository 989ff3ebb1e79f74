package keycache_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keygate/keygate/internal/testsupport/logtest"

	"github.com/keygate/keygate/internal/apikey"
	"github.com/keygate/keygate/internal/keycache"
	"github.com/keygate/keygate/internal/keysource"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// clock is the cache's injected time; tests move it by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: t0} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// source is a fake keycache.Source: load decides each call's answer;
// previous records what each call asked for.
type source struct {
	mu       sync.Mutex
	calls    int
	inFlight int
	maxIn    int
	previous []bool
	load     func(ctx context.Context, call int) (keysource.Snapshot, error)
}

func (s *source) Load(ctx context.Context, withPrevious bool) (keysource.Snapshot, error) {
	s.mu.Lock()
	s.previous = append(s.previous, withPrevious)
	s.calls++
	call := s.calls
	s.inFlight++
	s.maxIn = max(s.maxIn, s.inFlight)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inFlight--
		s.mu.Unlock()
	}()
	return s.load(ctx, call)
}

func (s *source) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

func (s *source) MaxInFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxIn
}

const secretKey = "kgCacheSecretKey0123456789"

func setOf(keys ...string) *apikey.Set {
	var es []apikey.Entry
	for i, k := range keys {
		es = append(es, apikey.Entry{Client: fmt.Sprintf("c%d", i), Digest: apikey.Digest(k)})
	}
	return apikey.NewSet(es)
}

func ok(set *apikey.Set) func(context.Context, int) (keysource.Snapshot, error) {
	return func(context.Context, int) (keysource.Snapshot, error) {
		return keysource.Snapshot{Set: set, Source: "test", Version: "v1"}, nil
	}
}

var errStore = errors.New("store down")

func failing(context.Context, int) (keysource.Snapshot, error) {
	return keysource.Snapshot{}, errStore
}

type fixture struct {
	clk   *clock
	src   *source
	cache *keycache.Cache
	logs  *logtest.Buffer
	rand  atomic.Value // float64
}

func newFixture(opt keycache.Options, load func(context.Context, int) (keysource.Snapshot, error)) *fixture {
	f := &fixture{clk: newClock(), src: &source{load: load}, logs: &logtest.Buffer{}}
	f.rand.Store(0.0)
	opt.Now = f.clk.Now
	opt.Rand = func() float64 { return f.rand.Load().(float64) }
	opt.Log = slog.New(slog.NewJSONHandler(f.logs, nil))
	f.cache = keycache.New(f.src, opt)
	return f
}

// keys calls Keys and fails the test on an unexpected error.
func (f *fixture) keys(t *testing.T) *apikey.Set {
	t.Helper()
	set, err := f.cache.Keys(context.Background())
	if err != nil {
		t.Fatalf("Keys: %v", err)
	}
	return set
}

func (f *fixture) wantCalls(t *testing.T, want int, when string) {
	t.Helper()
	if got := f.src.Calls(); got != want {
		t.Fatalf("%s: %d source loads, want %d", when, got, want)
	}
}

func TestFirstKeysLoads(t *testing.T) {
	want := setOf(secretKey)
	f := newFixture(keycache.Options{Refresh: time.Minute}, ok(want))
	f.wantCalls(t, 0, "after New")
	if got := f.keys(t); got != want {
		t.Fatalf("Keys returned another set")
	}
	f.wantCalls(t, 1, "after the first Keys")
	f.keys(t)
	f.wantCalls(t, 1, "after a second Keys within Refresh")
}

func TestLoadThenKeys(t *testing.T) {
	want := setOf(secretKey)
	f := newFixture(keycache.Options{Refresh: time.Minute}, ok(want))
	if err := f.cache.Load(context.Background()); err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got := f.keys(t); got != want {
		t.Fatalf("Keys returned another set")
	}
	f.wantCalls(t, 1, "Load then Keys")
}

func TestUnavailableUntilFirstSuccess(t *testing.T) {
	want := setOf(secretKey)
	var fail atomic.Bool
	fail.Store(true)
	f := newFixture(keycache.Options{Refresh: time.Minute, BackoffBase: time.Second, BackoffMax: time.Second},
		func(ctx context.Context, call int) (keysource.Snapshot, error) {
			if fail.Load() {
				return failing(ctx, call)
			}
			return ok(want)(ctx, call)
		})
	if err := f.cache.Load(context.Background()); !errors.Is(err, errStore) {
		t.Fatalf("Load = %v, want the source's error", err)
	}
	for i := range 3 {
		if set, err := f.cache.Keys(context.Background()); !errors.Is(err, keycache.ErrUnavailable) || set != nil {
			t.Fatalf("Keys #%d before any success = %v, %v; want nil, ErrUnavailable", i, set, err)
		}
	}
	f.wantCalls(t, 1, "within the backoff")
	fail.Store(false)
	f.clk.Advance(time.Second) // rand 0: retry after BackoffBase/2 at most
	if got := f.keys(t); got != want {
		t.Fatal("Keys after recovery returned another set")
	}
	f.wantCalls(t, 2, "after the backoff")
	if l := f.logs.Last(t, "key load failed"); l["serving_stale"] != false {
		t.Errorf("serving_stale = %v, want false before any success", l["serving_stale"])
	}
}

func TestNilSetIsAFailure(t *testing.T) {
	f := newFixture(keycache.Options{Refresh: time.Minute}, func(context.Context, int) (keysource.Snapshot, error) {
		return keysource.Snapshot{Source: "broken"}, nil
	})
	if err := f.cache.Load(context.Background()); err == nil {
		t.Fatal("Load accepted a snapshot without a set")
	}
	if _, err := f.cache.Keys(context.Background()); !errors.Is(err, keycache.ErrUnavailable) {
		t.Fatalf("Keys = %v, want ErrUnavailable", err)
	}
}

// TestRefreshWithJitter: the next load happens exactly at
// Refresh - rand*Refresh/10 after the last one, never before, which keeps
// every refresh within [0.9*Refresh, Refresh].
func TestRefreshWithJitter(t *testing.T) {
	const refresh = 10 * time.Minute
	for _, r := range []float64{0, 0.25, 0.5, 0.999999} {
		t.Run(fmt.Sprint(r), func(t *testing.T) {
			sets := []*apikey.Set{setOf("kgFirst"), setOf("kgSecond")}
			f := newFixture(keycache.Options{Refresh: refresh}, func(_ context.Context, call int) (keysource.Snapshot, error) {
				return keysource.Snapshot{Set: sets[min(call, 2)-1], Source: "test"}, nil
			})
			f.rand.Store(r)
			f.keys(t)
			due := refresh - time.Duration(r*float64(refresh/10))
			if due < 9*refresh/10 || due > refresh {
				t.Fatalf("bad test: due %v outside the jitter window", due)
			}
			f.clk.Advance(due - time.Nanosecond)
			if f.keys(t) != sets[0] {
				t.Fatal("set changed before the refresh was due")
			}
			f.wantCalls(t, 1, "one nanosecond before due")
			f.clk.Advance(time.Nanosecond)
			if f.keys(t) != sets[1] {
				t.Fatal("refreshed set not served")
			}
			f.wantCalls(t, 2, "at due")
		})
	}
}

func TestNoRefreshWhenRefreshIsZero(t *testing.T) {
	f := newFixture(keycache.Options{}, ok(setOf(secretKey)))
	f.keys(t)
	f.clk.Advance(100 * 365 * 24 * time.Hour)
	f.keys(t)
	f.wantCalls(t, 1, "a century later with Refresh 0")
}

func TestStaleIfError(t *testing.T) {
	good := setOf(secretKey)
	f := newFixture(keycache.Options{Refresh: time.Minute}, func(ctx context.Context, call int) (keysource.Snapshot, error) {
		if call == 1 {
			return ok(good)(ctx, call)
		}
		return failing(ctx, call)
	})
	f.keys(t)
	for i := range 5 {
		f.clk.Advance(time.Hour)
		if f.keys(t) != good {
			t.Fatalf("after failed refresh %d: the last good set was not served", i+1)
		}
	}
	f.wantCalls(t, 6, "after five failed refreshes")
	l := f.logs.Last(t, "key load failed")
	if l["serving_stale"] != true || l["error"] != errStore.Error() || l["attempt"] != 5.0 {
		t.Errorf("failure log = %v, want serving_stale true, the error, attempt 5", l)
	}
}

// Age is the time since the last load that succeeded: none before the
// first, growing while refreshes fail (the stale set's age), back to zero
// at the next success, a partial one included.
func TestAge(t *testing.T) {
	f := newFixture(keycache.Options{Refresh: time.Minute}, func(ctx context.Context, call int) (keysource.Snapshot, error) {
		switch call {
		case 1, 3:
			return failing(ctx, call)
		case 4:
			return keysource.Snapshot{Set: setOf(secretKey), Source: "test", Partial: true}, nil
		}
		return ok(setOf(secretKey))(ctx, call)
	})
	steps := []struct {
		name    string
		advance time.Duration
		load    bool // Keys runs (a load, when one is due)
		age     time.Duration
		in      bool
	}{
		{"before any load", 0, false, 0, false},
		{"the first load failed", 0, true, 0, false},
		{"loaded", time.Second, true, 0, true},
		{"a while later", 30 * time.Second, false, 30 * time.Second, true},
		{"a refresh failed: the stale set ages", 45 * time.Second, true, 75 * time.Second, true},
		{"a partial load is a load", time.Second, true, 0, true},
		{"loaded in full", time.Minute, true, 0, true},
	}
	for _, s := range steps {
		f.clk.Advance(s.advance)
		if s.load {
			_, _ = f.cache.Keys(context.Background())
		}
		age, in := f.cache.Age()
		if age != s.age || in != s.in {
			t.Errorf("%s: Age() = %v, %v; want %v, %v", s.name, age, in, s.age, s.in)
		}
	}
	f.wantCalls(t, 5, "after the steps")
}

// TestBackoff observes the retry times through the clock: no load one
// nanosecond before the expected retry, a load exactly at it.
func TestBackoff(t *testing.T) {
	const base, maxB = 200 * time.Millisecond, 5 * time.Second
	// Ceilings of the exponential: base, 2base, … capped at max.
	ceilings := []time.Duration{200, 400, 800, 1600, 3200, 5000, 5000, 5000}
	for _, r := range []float64{0, 0.5, 0.999} {
		t.Run(fmt.Sprint(r), func(t *testing.T) {
			f := newFixture(keycache.Options{Refresh: time.Minute, BackoffBase: base, BackoffMax: maxB}, failing)
			f.rand.Store(r)
			_, _ = f.cache.Keys(context.Background())
			for i, c := range ceilings {
				d := c * time.Millisecond
				// Equal jitter: half fixed, half random, within [d/2, d).
				want := d/2 + time.Duration(r*float64(d/2))
				if want < d/2 || want >= d {
					t.Fatalf("bad test: %v outside [%v, %v)", want, d/2, d)
				}
				calls := f.src.Calls()
				f.clk.Advance(want - time.Nanosecond)
				_, _ = f.cache.Keys(context.Background())
				f.wantCalls(t, calls, fmt.Sprintf("retry %d one nanosecond early", i+1))
				l := f.logs.Last(t, "key load failed")
				if got := retryIn(l); got != want.Truncate(time.Microsecond) {
					t.Errorf("failure %d: retry_in_ms = %v, want %v", i+1, got, want)
				}
				f.clk.Advance(time.Nanosecond)
				if _, err := f.cache.Keys(context.Background()); !errors.Is(err, keycache.ErrUnavailable) {
					t.Fatalf("Keys = %v, want ErrUnavailable", err)
				}
				f.wantCalls(t, calls+1, fmt.Sprintf("retry %d on time", i+1))
			}
		})
	}
}

func TestDefaultBackoff(t *testing.T) {
	f := newFixture(keycache.Options{}, failing)
	var got []time.Duration
	for range 8 {
		_ = f.cache.Load(context.Background())
		got = append(got, retryIn(f.logs.Last(t, "key load failed")))
	}
	// rand 0: half of 200ms, 400ms, … capped at 5s.
	want := []time.Duration{100, 200, 400, 800, 1600, 2500, 2500, 2500}
	for i := range want {
		if got[i] != want[i]*time.Millisecond {
			t.Fatalf("default retry_in_ms = %v, want %v ms", got, want)
		}
	}
}

func TestRecoveryResetsBackoff(t *testing.T) {
	good := setOf(secretKey)
	var fail atomic.Bool
	f := newFixture(keycache.Options{Refresh: time.Minute, BackoffBase: time.Second, BackoffMax: time.Hour},
		func(ctx context.Context, call int) (keysource.Snapshot, error) {
			if fail.Load() {
				return failing(ctx, call)
			}
			return ok(good)(ctx, call)
		})
	f.keys(t)
	fail.Store(true)
	for range 4 {
		f.clk.Advance(time.Hour)
		f.keys(t)
	}
	if l := f.logs.Last(t, "key load failed"); l["attempt"] != 4.0 || retryIn(l) != 4*time.Second {
		t.Fatalf("after 4 failures: %v, want attempt 4, retry_in_ms 4000", l)
	}
	fail.Store(false)
	f.clk.Advance(time.Hour)
	f.keys(t)
	fail.Store(true)
	f.clk.Advance(time.Hour)
	f.keys(t)
	if l := f.logs.Last(t, "key load failed"); l["attempt"] != 1.0 || retryIn(l) != 500*time.Millisecond {
		t.Fatalf("first failure after recovery: %v, want attempt 1, retry_in_ms 500", l)
	}
}

// TestPartial: a partial snapshot is served, but reloaded after the short
// retry delay rather than after Refresh; a full one then restores Refresh.
func TestPartial(t *testing.T) {
	partial, full := setOf("kgCurrentOnly"), setOf("kgCurrentOnly", "kgPrevious")
	f := newFixture(keycache.Options{Refresh: time.Hour, BackoffBase: time.Second, BackoffMax: time.Minute},
		func(_ context.Context, call int) (keysource.Snapshot, error) {
			if call <= 2 {
				return keysource.Snapshot{Set: partial, Source: "test", Partial: true, Warnings: []string{"previous unreadable"}}, nil
			}
			return keysource.Snapshot{Set: full, Source: "test"}, nil
		})
	if f.keys(t) != partial {
		t.Fatal("partial set not served")
	}
	l := f.logs.Last(t, "key set loaded")
	if l["partial"] != true || fmt.Sprint(l["warnings"]) != "[previous unreadable]" {
		t.Errorf("load log = %v, want partial true and the warning", l)
	}
	f.clk.Advance(500*time.Millisecond - time.Nanosecond) // rand 0: retry after base/2
	f.keys(t)
	f.wantCalls(t, 1, "before the partial retry")
	f.clk.Advance(time.Nanosecond)
	f.keys(t)
	f.wantCalls(t, 2, "at the partial retry")
	// The second partial load counts as a second failure: the delay grows.
	f.clk.Advance(time.Second)
	if f.keys(t) != full {
		t.Fatal("full set not served after the retry")
	}
	f.wantCalls(t, 3, "at the second partial retry")
	f.clk.Advance(time.Hour - time.Nanosecond)
	f.keys(t)
	f.wantCalls(t, 3, "a full set waits for Refresh")
}

// TestOneLoadInFlight: while one caller loads, every other caller returns
// at once (with the current set, or ErrUnavailable before the first one)
// and no second load starts.
func TestOneLoadInFlight(t *testing.T) {
	const callers = 50
	for _, loaded := range []bool{false, true} {
		t.Run(fmt.Sprintf("set loaded %v", loaded), func(t *testing.T) {
			old, fresh := setOf("kgOld"), setOf("kgFresh")
			entered, release := make(chan struct{}), make(chan struct{})
			f := newFixture(keycache.Options{Refresh: time.Minute}, func(ctx context.Context, call int) (keysource.Snapshot, error) {
				if loaded && call == 1 {
					return ok(old)(ctx, call)
				}
				close(entered) // a second concurrent call would panic here
				<-release
				return ok(fresh)(ctx, call)
			})
			calls := 0
			if loaded {
				f.keys(t)
				f.clk.Advance(time.Hour)
				calls = 1
			}
			type answer struct {
				set *apikey.Set
				err error
			}
			answers := make(chan answer, callers)
			for range callers {
				go func() {
					set, err := f.cache.Keys(context.Background())
					answers <- answer{set, err}
				}()
			}
			<-entered
			// All but the loader answer while the load is blocked.
			for range callers - 1 {
				a := <-answers
				switch {
				case loaded && (a.err != nil || a.set != old):
					t.Errorf("during the refresh: %v, %v; want the current set", a.set, a.err)
				case !loaded && (!errors.Is(a.err, keycache.ErrUnavailable) || a.set != nil):
					t.Errorf("during the first load: %v, %v; want ErrUnavailable", a.set, a.err)
				}
			}
			f.wantCalls(t, calls+1, "while blocked")
			close(release)
			if a := <-answers; a.err != nil || a.set != fresh {
				t.Errorf("the loader got %v, %v; want the fresh set", a.set, a.err)
			}
			if f.keys(t) != fresh {
				t.Error("fresh set not served after the load")
			}
			f.wantCalls(t, calls+1, "after the load")
		})
	}
}

// TestConcurrentKeysLoadOnce: many callers arriving together when a
// refresh is due cause exactly one load, even when some of them read the
// old state before the load finished.
func TestConcurrentKeysLoadOnce(t *testing.T) {
	const callers, rounds = 64, 20
	f := newFixture(keycache.Options{Refresh: time.Minute}, ok(setOf(secretKey)))
	f.keys(t)
	for round := range rounds {
		f.clk.Advance(time.Hour)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range callers {
			wg.Go(func() {
				<-start
				if _, err := f.cache.Keys(context.Background()); err != nil {
					t.Errorf("Keys: %v", err)
				}
			})
		}
		close(start)
		wg.Wait()
		f.wantCalls(t, round+2, fmt.Sprintf("round %d", round+1))
	}
}

// TestLoadWhileKeysRefreshes: a Load (cold start, or a forced reload)
// that arrives during a refresh waits for it instead of running a second
// load alongside, and cannot open the way for a third.
func TestLoadWhileKeysRefreshes(t *testing.T) {
	entered, release := make(chan struct{}, 10), make(chan struct{})
	f := newFixture(keycache.Options{Refresh: time.Minute}, func(ctx context.Context, call int) (keysource.Snapshot, error) {
		entered <- struct{}{}
		if call == 1 {
			<-release
		}
		return ok(setOf(secretKey))(ctx, call)
	})
	keysDone := make(chan error)
	go func() {
		_, err := f.cache.Keys(context.Background())
		keysDone <- err
	}()
	<-entered // Keys is loading, blocked
	loadDone := make(chan error, 1)
	go func() { loadDone <- f.cache.Load(context.Background()) }()
	// A Load that does not wait finishes at once (its load does not
	// block). Only the failure is decided by this wait: a correct Load
	// never finishes here however long we wait, so it cannot flake.
	select {
	case err := <-loadDone:
		t.Error("Load finished while another load was in flight: it ran alongside it")
		loadDone <- err
	case <-time.After(200 * time.Millisecond):
	}
	for range 10 {
		_, _ = f.cache.Keys(context.Background())
	}
	close(release)
	if err := <-keysDone; err != nil {
		t.Errorf("Keys: %v", err)
	}
	if err := <-loadDone; err != nil {
		t.Errorf("Load: %v", err)
	}
	if n := f.src.MaxInFlight(); n != 1 {
		t.Errorf("%d loads ran at once, want 1", n)
	}
	f.wantCalls(t, 2, "Keys' load and Load's")
}

// TestLoadTimeout: the deadline reaches the source, so a hanging store
// ends the load after LoadTimeout instead of holding a request.
func TestLoadTimeout(t *testing.T) {
	const timeout = 50 * time.Millisecond
	var sawDeadline atomic.Bool
	f := newFixture(keycache.Options{Refresh: time.Minute, LoadTimeout: timeout}, func(ctx context.Context, _ int) (keysource.Snapshot, error) {
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= timeout {
			sawDeadline.Store(true)
		}
		<-ctx.Done() // hang until the cache gives up
		return keysource.Snapshot{}, ctx.Err()
	})
	if _, err := f.cache.Keys(context.Background()); !errors.Is(err, keycache.ErrUnavailable) {
		t.Fatalf("Keys = %v, want ErrUnavailable", err)
	}
	if !sawDeadline.Load() {
		t.Error("the source's context had no deadline within LoadTimeout")
	}
	if l := f.logs.Last(t, "key load failed"); !strings.Contains(fmt.Sprint(l["error"]), "deadline exceeded") {
		t.Errorf("failure log = %v, want the deadline error", l)
	}
}

func TestDefaultLoadTimeout(t *testing.T) {
	var got time.Duration
	f := newFixture(keycache.Options{}, func(ctx context.Context, _ int) (keysource.Snapshot, error) {
		dl, has := ctx.Deadline()
		if !has {
			return keysource.Snapshot{}, errors.New("no deadline")
		}
		got = time.Until(dl)
		return ok(setOf(secretKey))(ctx, 0)
	})
	f.keys(t)
	if got <= 0 || got > keycache.DefaultLoadTimeout || keycache.DefaultLoadTimeout != 3*time.Second {
		t.Errorf("deadline in %v, want within the default %v (3s)", got, keycache.DefaultLoadTimeout)
	}
}

// A caller that hangs up must not abort the refresh it happens to run.
func TestCallerCancelDoesNotAbortLoad(t *testing.T) {
	f := newFixture(keycache.Options{Refresh: time.Minute}, func(ctx context.Context, call int) (keysource.Snapshot, error) {
		if err := ctx.Err(); err != nil {
			return keysource.Snapshot{}, err
		}
		return ok(setOf(secretKey))(ctx, call)
	})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.cache.Keys(ctx); err != nil {
		t.Fatalf("Keys with a cancelled request context: %v", err)
	}
}

func TestLogs(t *testing.T) {
	f := newFixture(keycache.Options{Refresh: time.Minute}, func(ctx context.Context, call int) (keysource.Snapshot, error) {
		if call == 2 {
			return failing(ctx, call)
		}
		return keysource.Snapshot{Set: setOf(secretKey, "kgSecondSecret99"), Source: "secretsmanager", Version: "ver-123"}, nil
	})
	f.keys(t)
	l := f.logs.Last(t, "key set loaded")
	want := map[string]any{"level": "INFO", "source": "secretsmanager", "version_id": "ver-123", "keys": 2.0, "partial": false}
	for k, v := range want {
		if l[k] != v {
			t.Errorf("key set loaded: %s = %v, want %v", k, l[k], v)
		}
	}
	if _, has := l["duration_ms"]; !has {
		t.Error("key set loaded: no duration_ms")
	}
	f.clk.Advance(time.Hour)
	f.keys(t)
	l = f.logs.Last(t, "key load failed")
	for _, k := range []string{"error", "serving_stale", "attempt", "retry_in_ms", "duration_ms"} {
		if _, has := l[k]; !has {
			t.Errorf("key load failed: no %s in %v", k, l)
		}
	}
	if l["level"] != "ERROR" {
		t.Errorf("key load failed at level %v, want ERROR", l["level"])
	}
	all := f.logs.String()
	for _, k := range []string{secretKey, "kgSecondSecret99"} {
		if strings.Contains(all, k) {
			t.Errorf("a key reached the log:\n%s", all)
		}
	}
}

// retryIn reads a failure line's retry_in_ms (milliseconds, to the microsecond).
func retryIn(l map[string]any) time.Duration {
	return time.Duration(math.Round(l["retry_in_ms"].(float64)*1000)) * time.Microsecond
}

// Match answers from the set in force; a key the set lacks or holds as
// expired makes it re-read at once and match again, at most once per
// MissInterval, never for the empty key or keys that do not refresh.
func TestMatch(t *testing.T) {
	now := t0
	expired := apikey.NewSet([]apikey.Entry{{Client: "old", Digest: apikey.Digest("kgMoved"), Expires: now.Add(-time.Second)}})
	moved := apikey.NewSet([]apikey.Entry{{Client: "old", Digest: apikey.Digest("kgMoved"), Expires: now.Add(time.Hour)}})
	v1, v2, v3 := setOf("kgOne"), setOf("kgOne", "kgTwo"), setOf("kgOne", "kgTwo", "kgThree")
	sets := []*apikey.Set{v1, v2, v3}
	load := func(_ context.Context, call int) (keysource.Snapshot, error) {
		return keysource.Snapshot{Set: sets[min(call, len(sets))-1], Source: "test"}, nil
	}
	f := newFixture(keycache.Options{Refresh: time.Hour, MissInterval: 30 * time.Second}, load)
	match := func(key string, want apikey.Result, calls int, when string) {
		t.Helper()
		_, res, err := f.cache.Match(context.Background(), key)
		if err != nil || res != want {
			t.Errorf("%s: Match(%s) = %v, %v; want %v", when, key, res, err, want)
		}
		f.wantCalls(t, calls, when)
	}
	match("kgOne", apikey.OK, 1, "a key in the first set")
	match("", apikey.Invalid, 1, "no key: no re-read")
	match("kgTwo", apikey.OK, 2, "a key rotated in: re-read at once")
	if l := f.logs.Last(t, "key set loaded"); l["trigger"] != "unknown_key" {
		t.Errorf("the re-read's log line = %v, want trigger unknown_key", l)
	}
	f.clk.Advance(29 * time.Second)
	match("kgThree", apikey.Invalid, 2, "another new key within MissInterval")
	f.clk.Advance(time.Second)
	match("kgThree", apikey.OK, 3, "after MissInterval")

	e := newFixture(keycache.Options{Refresh: time.Hour}, func(_ context.Context, call int) (keysource.Snapshot, error) {
		if call == 1 {
			return keysource.Snapshot{Set: expired}, nil
		}
		return keysource.Snapshot{Set: moved}, nil
	})
	if entry, res, err := e.cache.Match(context.Background(), "kgMoved"); err != nil || res != apikey.OK || entry.Client != "old" {
		t.Errorf("an expired key whose expiry moved: %v %v %v, want OK for old", entry, res, err)
	}
	e.wantCalls(t, 2, "an expired key re-reads")

	static := newFixture(keycache.Options{}, ok(v1)) // Refresh 0: keys from the environment
	if _, res, _ := static.cache.Match(context.Background(), "kgTwo"); res != apikey.Invalid {
		t.Errorf("static keys: Match = %v, want Invalid", res)
	}
	static.wantCalls(t, 1, "Refresh 0 never re-reads")

	down := newFixture(keycache.Options{Refresh: time.Hour}, failing)
	if _, _, err := down.cache.Match(context.Background(), "kgOne"); !errors.Is(err, keycache.ErrUnavailable) {
		t.Errorf("no set loaded: Match error = %v, want ErrUnavailable", err)
	}
}

// A failed re-read keeps the set in force and the refresh schedule: the
// failure count, the next scheduled retry and every logged retry_in_ms
// agree.
func TestMatchRereadFailureKeepsSchedule(t *testing.T) {
	good := setOf(secretKey)
	var fail atomic.Bool
	f := newFixture(keycache.Options{Refresh: time.Hour, MissInterval: time.Second, BackoffBase: time.Second, BackoffMax: time.Minute},
		func(ctx context.Context, call int) (keysource.Snapshot, error) {
			if fail.Load() {
				return failing(ctx, call)
			}
			return ok(good)(ctx, call)
		})
	f.keys(t)
	fail.Store(true)
	f.clk.Advance(time.Hour)
	f.keys(t) // scheduled failure 1: retry in 500ms (rand 0)
	f.clk.Advance(500 * time.Millisecond)
	f.keys(t) // scheduled failure 2: retry in 1s
	if l := f.logs.Last(t, "key load failed"); l["attempt"] != 2.0 || retryIn(l) != time.Second {
		t.Fatalf("second scheduled failure: %v, want attempt 2, retry in 1s", l)
	}
	f.clk.Advance(400 * time.Millisecond)
	if _, res, err := f.cache.Match(context.Background(), "kgUnknown"); err != nil || res != apikey.Invalid {
		t.Fatalf("Match during the outage = %v, %v; want Invalid from the stale set", res, err)
	}
	f.wantCalls(t, 4, "the re-read ran")
	l := f.logs.Last(t, "key load failed")
	if l["trigger"] != "unknown_key" || l["attempt"] != 2.0 || retryIn(l) != 600*time.Millisecond {
		t.Errorf("failed re-read: %v, want trigger unknown_key, attempt 2, retry in 600ms (the schedule, unchanged)", l)
	}
	if f.keys(t) != good {
		t.Error("the stale set is not served after a failed re-read")
	}
	f.clk.Advance(600*time.Millisecond - time.Nanosecond)
	f.keys(t)
	f.wantCalls(t, 4, "the scheduled retry did not move earlier")
	f.clk.Advance(time.Nanosecond)
	f.keys(t)
	f.wantCalls(t, 5, "the scheduled retry on time")
	if l := f.logs.Last(t, "key load failed"); l["trigger"] != "refresh" || l["attempt"] != 3.0 || retryIn(l) != 2*time.Second {
		t.Errorf("third scheduled failure: %v, want attempt 3, retry in 2s", l)
	}
}

// The caller that owns a re-read joins a load already running and answers
// its result; a caller without the turn never waits for a load.
func TestMatchDuringLoad(t *testing.T) {
	good, fresh := setOf(secretKey), setOf(secretKey, "kgFresh")
	entered, release := make(chan struct{}), make(chan struct{})
	var block atomic.Bool
	f := newFixture(keycache.Options{Refresh: time.Hour, MissInterval: time.Minute}, func(ctx context.Context, call int) (keysource.Snapshot, error) {
		if block.Load() {
			close(entered)
			<-release
			return ok(fresh)(ctx, call)
		}
		return ok(good)(ctx, call)
	})
	f.keys(t)
	block.Store(true)
	f.clk.Advance(time.Hour) // the next Keys refreshes, and blocks in the source
	go f.cache.Keys(context.Background())
	<-entered
	// Callers arriving together with a new key: one owns the re-read
	// and joins the blocked load; all the others answer from the set in
	// force at once, without waiting for it.
	const callers = 21
	answers := make(chan apikey.Result, callers)
	for range callers {
		go func() {
			_, res, _ := f.cache.Match(context.Background(), "kgFresh")
			answers <- res
		}()
	}
	deadline := time.After(time.Minute)
	for range callers - 1 {
		select {
		case res := <-answers:
			if res != apikey.Invalid {
				t.Fatalf("a caller answered %v while the load was blocked, want Invalid from the set in force", res)
			}
		case <-deadline:
			t.Fatal("callers without the turn waited for the running load")
		}
	}
	close(release)
	if res := <-answers; res != apikey.OK {
		t.Errorf("the owner answered %v, want OK from the load it joined", res)
	}
	f.wantCalls(t, 2, "the refresh only: the owner joined it")
}

// The cold start reads the current version only, even in a rotation's
// grace period; the first key its set lacks (a made-up one too) re-reads
// in full, and then the usual once per MissInterval holds.
func TestColdStartLeavesPreviousOut(t *testing.T) {
	current, full := setOf("kgNew"), setOf("kgNew", "kgOld")
	f := newFixture(keycache.Options{Refresh: time.Hour, MissInterval: time.Minute}, nil)
	f.src.load = func(context.Context, int) (keysource.Snapshot, error) {
		f.src.mu.Lock()
		withPrevious := f.src.previous[len(f.src.previous)-1]
		f.src.mu.Unlock()
		if withPrevious {
			return keysource.Snapshot{Set: full, Source: "test", PreviousInGrace: true}, nil
		}
		return keysource.Snapshot{Set: current, Source: "test", PreviousInGrace: true}, nil
	}
	if err := f.cache.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	if l := f.logs.Last(t, "key set loaded"); l["previous_deferred"] != true {
		t.Errorf("cold start's load line %v, want previous_deferred", l)
	}
	match := func(key string, want apikey.Result, calls int, when string) {
		t.Helper()
		if _, res, _ := f.cache.Match(context.Background(), key); res != want {
			t.Errorf("%s: Match(%s) = %v, want %v", when, key, res, want)
		}
		f.wantCalls(t, calls, when)
	}
	match("kgNew", apikey.OK, 1, "a current key: no load")
	match("kgMadeUp", apikey.Invalid, 2, "a made-up key re-reads (the first miss)")
	if l := f.logs.Last(t, "key set loaded"); l["previous_deferred"] != nil {
		t.Errorf("full load's line %v, want no previous_deferred", l)
	}
	f.clk.Advance(time.Second)
	match("kgOld", apikey.OK, 2, "an old key within MissInterval: the full set has it")
	match("kgMadeUpToo", apikey.Invalid, 2, "and the limit holds")
	if got := fmt.Sprint(f.src.previous); got != "[false true]" {
		t.Errorf("loads asked for the previous version %s, want [false true]", got)
	}
}

// A refresh after a failed cold start is the first set: it too leaves the
// previous version out; every load after a set exists asks for it.
func TestFirstSetLeavesPreviousOut(t *testing.T) {
	f := newFixture(keycache.Options{Refresh: time.Minute}, func(_ context.Context, call int) (keysource.Snapshot, error) {
		if call == 1 {
			return keysource.Snapshot{}, errStore
		}
		return keysource.Snapshot{Set: setOf(secretKey), Source: "test"}, nil
	})
	_ = f.cache.Load(context.Background())
	f.clk.Advance(time.Minute)
	f.keys(t)
	f.clk.Advance(time.Hour)
	f.keys(t)
	if got := fmt.Sprint(f.src.previous); got != "[false false true]" {
		t.Errorf("loads asked for the previous version %s, want [false false true]", got)
	}
}
