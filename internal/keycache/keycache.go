// Package keycache keeps the current API key set in memory, loads it from a
// Source at cold start, refreshes it when it ages, and keeps serving the last
// good set when a refresh fails.
//
// The semantics follow aws-secretsmanager-caching-go and Powertools
// Parameters: a refresh interval with jitter, one load at a time, the stale
// value kept on error, and exponential backoff between failed loads. Until a
// first load succeeds there is no set, and Keys reports ErrUnavailable: the
// caller fails closed.
//
// The cache decides when to read what; the source reads what it is asked
// for. The first load (the cold start) asks for AWSCURRENT only, even in a
// rotation's grace period: a second read in a row is a second round trip
// that every cold start would pay, for keys most clients no longer use. The
// first request whose key that set lacks loads again, in full.
//
// One mutex guards all of the cache's state and is never held while the
// Source is read, so no caller ever waits on the lock for the store. Only
// three callers wait for a load: the one that performs it, Load (cold
// start), and the caller that owns a re-read for a key the set lacks.
package keycache

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keygate/keygate/internal/apikey"
	"github.com/keygate/keygate/internal/keysource"
)

// ErrUnavailable means no key set has been loaded yet.
var ErrUnavailable = errors.New("no API key set is loaded")

var errNoSet = errors.New("source returned no key set")

// Source reads key sets; keysource's sources are.
type Source interface {
	// Load reads the key set in force; withPrevious asks also for the
	// keys a rotation's grace period keeps working.
	Load(ctx context.Context, withPrevious bool) (keysource.Snapshot, error)
}

var (
	_ Source = (*keysource.SecretsManager)(nil)
	_ Source = (*keysource.Static)(nil)
)

// Options tune the cache. Zero values take the defaults.
type Options struct {
	// Refresh is how old a set may get before it is re-read; zero or
	// negative means never (keys from the environment, which cannot
	// change).
	Refresh time.Duration
	// LoadTimeout bounds one load, so no request waits longer on the store.
	LoadTimeout time.Duration
	// BackoffBase and BackoffMax shape the retry delay after failed loads.
	BackoffBase, BackoffMax time.Duration
	// MissInterval is the least time between two re-reads for keys the set
	// does not hold.
	MissInterval time.Duration
	// Now and Rand (a float in [0,1)) are injectable for tests.
	Now  func() time.Time
	Rand func() float64
	Log  *slog.Logger
}

// Defaults used when Options leave a field zero.
const (
	DefaultLoadTimeout  = 3 * time.Second
	DefaultBackoffBase  = 200 * time.Millisecond
	DefaultBackoffMax   = 5 * time.Second
	DefaultMissInterval = 30 * time.Second
)

// Why a load runs, as its log line's trigger says.
const (
	triggerInit    = "init"        // Load, at cold start
	triggerRefresh = "refresh"     // the set was due
	triggerMiss    = "unknown_key" // a key the set lacks or holds as expired
)

// Cache is safe for concurrent use.
type Cache struct {
	src Source
	opt Options

	mu       sync.Mutex
	set      *apikey.Set // nil until a load succeeds
	due      time.Time   // when the scheduled load may start
	failures int         // scheduled loads failed (or partial) in a row
	nextMiss time.Time   // when a re-read for an unknown key may start
	flight   *flight     // the load in progress, if any

	// loaded is when the set in force was loaded (nil: none is). Age
	// reads it without the lock: the cache logs while it holds the lock,
	// and a log handler may ask for the age.
	loaded atomic.Pointer[time.Time]
}

// flight is one load; done is closed once its result is in the cache.
type flight struct {
	done chan struct{}
	// withPrevious: the load asks for the previous version's keys too.
	// Only the cold start's load (no set yet) leaves them out.
	withPrevious bool
}

// New returns a cache over src. Nothing is loaded until Load or Keys.
func New(src Source, opt Options) *Cache {
	if opt.LoadTimeout <= 0 {
		opt.LoadTimeout = DefaultLoadTimeout
	}
	if opt.BackoffBase <= 0 {
		opt.BackoffBase = DefaultBackoffBase
	}
	if opt.BackoffMax <= 0 {
		opt.BackoffMax = DefaultBackoffMax
	}
	if opt.MissInterval <= 0 {
		opt.MissInterval = DefaultMissInterval
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Rand == nil {
		opt.Rand = rand.Float64
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	return &Cache{src: src, opt: opt}
}

// Load performs a load now (used at cold start), after any load in flight,
// so two never overlap. Its error is also logged.
func (c *Cache) Load(ctx context.Context) error {
	c.mu.Lock()
	for c.flight != nil {
		f := c.flight
		c.mu.Unlock()
		<-f.done
		c.mu.Lock()
	}
	f := c.begin()
	c.mu.Unlock()
	return c.run(ctx, f, triggerInit)
}

// Keys returns the current set. When the set is due for refresh, exactly one
// caller performs the load (bounded by LoadTimeout) while the others go on
// with the set they have; with no set at all, they get ErrUnavailable.
func (c *Cache) Keys(ctx context.Context) (*apikey.Set, error) {
	c.mu.Lock()
	if c.flight != nil || c.opt.Now().Before(c.due) {
		set := c.set
		c.mu.Unlock()
		return orUnavailable(set)
	}
	f := c.begin()
	c.mu.Unlock()
	// The refresh belongs to the process, not to this request: a caller
	// that hangs up must not abort it.
	_ = c.run(context.WithoutCancel(ctx), f, triggerRefresh)
	c.mu.Lock()
	set := c.set
	c.mu.Unlock()
	return orUnavailable(set)
}

// Age is how long ago the set in force was loaded (the last load that
// succeeded), and false while no set is: the age of what is served when
// refreshes fail (stale-if-error).
func (c *Cache) Age() (time.Duration, bool) {
	t := c.loaded.Load()
	if t == nil {
		return 0, false
	}
	return max(c.opt.Now().Sub(*t), 0), true
}

// Match reports whether key authorizes, and which entry it matched. An
// error means no set is loaded (fail closed). A key the set lacks or holds
// as expired (its expiry may have moved) makes the cache re-read the store
// at once and match again, so that a key rotated in moments ago works at
// its first request: at most once per MissInterval (a caller making keys
// up costs the store little), never for the empty key, never when keys do
// not refresh. Only the caller that owns that re-read waits for it; a
// failed re-read leaves the refresh schedule as it was.
func (c *Cache) Match(ctx context.Context, key string) (apikey.Entry, apikey.Result, error) {
	set, err := c.Keys(ctx)
	if err != nil {
		return apikey.Entry{}, apikey.Invalid, err
	}
	entry, res := set.Match(key, c.opt.Now())
	if res == apikey.OK || key == "" || c.opt.Refresh <= 0 {
		return entry, res, nil
	}
	if fresh := c.reread(ctx); fresh != nil && fresh != set {
		entry, res = fresh.Match(key, c.opt.Now())
	}
	return entry, res, nil
}

// reread loads for a key the set lacks, if this caller's turn has come,
// and returns the set to match again (nil when it was not its turn).
func (c *Cache) reread(ctx context.Context) *apikey.Set {
	c.mu.Lock()
	now := c.opt.Now()
	if now.Before(c.nextMiss) {
		c.mu.Unlock()
		return nil
	}
	// The cold start's set lacks the previous version's keys: the first
	// miss after it always has the turn (nextMiss is still zero), and
	// reads them.
	c.nextMiss = now.Add(c.opt.MissInterval)
	if f := c.flight; f != nil {
		// A load is already reading the store: its answer is as fresh.
		c.mu.Unlock()
		<-f.done
	} else {
		f := c.begin()
		c.mu.Unlock()
		_ = c.run(context.WithoutCancel(ctx), f, triggerMiss)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.set
}

// begin records a new load in flight; c.mu must be held.
func (c *Cache) begin() *flight {
	f := &flight{done: make(chan struct{}), withPrevious: c.set != nil}
	c.flight = f
	return f
}

// run performs the load f stands for and records its result.
func (c *Cache) run(ctx context.Context, f *flight, trigger string) error {
	ctx, cancel := context.WithTimeout(ctx, c.opt.LoadTimeout)
	defer cancel()
	start := c.opt.Now()
	snap, err := c.src.Load(ctx, f.withPrevious)
	if err == nil && snap.Set == nil {
		err = errNoSet
	}

	c.mu.Lock()
	defer func() {
		c.flight = nil
		c.mu.Unlock()
		close(f.done)
	}()
	now := c.opt.Now()
	took := slog.Float64("duration_ms", ms(now.Sub(start)))
	// The process's goroutines at each load: a number that grows from one
	// refresh to the next is a leak an operator (and the soak) can see.
	goroutines := slog.Int("goroutines", runtime.NumGoroutine())
	if err != nil {
		// A re-read for an unknown key must not put a store outage's
		// retries on the callers with right keys: only scheduled loads
		// move the schedule.
		if trigger != triggerMiss {
			c.failures++
			c.due = now.Add(c.backoff(c.failures))
		}
		c.opt.Log.LogAttrs(ctx, slog.LevelError, "key load failed",
			slog.String("trigger", trigger),
			slog.String("error", err.Error()),
			slog.Bool("serving_stale", c.set != nil),
			slog.Int("attempt", c.failures),
			slog.Float64("retry_in_ms", ms(max(c.due.Sub(now), 0))),
			took, goroutines)
		return err
	}
	c.set = snap.Set
	c.loaded.Store(&now)
	if snap.Partial {
		c.failures++
		c.due = now.Add(c.backoff(c.failures))
	} else {
		c.failures = 0
		c.due = c.nextRefresh(now)
	}
	attrs := []slog.Attr{
		slog.String("trigger", trigger),
		slog.String("source", snap.Source),
		slog.String("version_id", snap.Version),
		slog.Int("keys", snap.Set.Len()),
		slog.Bool("partial", snap.Partial),
		took, goroutines,
	}
	if snap.PreviousInGrace && !f.withPrevious {
		attrs = append(attrs, slog.Bool("previous_deferred", true))
	}
	if len(snap.Warnings) > 0 {
		attrs = append(attrs, slog.Any("warnings", snap.Warnings))
	}
	c.opt.Log.LogAttrs(ctx, slog.LevelInfo, "key set loaded", attrs...)
	return nil
}

// nextRefresh spreads a fleet's refreshes over the last tenth of the
// interval so that environments started together do not read at once.
func (c *Cache) nextRefresh(now time.Time) time.Time {
	if c.opt.Refresh <= 0 {
		return time.Unix(1<<62, 0) // never
	}
	r := c.opt.Refresh
	return now.Add(r - time.Duration(c.opt.Rand()*float64(r/10)))
}

// backoff is exponential with "equal jitter": half fixed, half random.
func (c *Cache) backoff(failures int) time.Duration {
	d := c.opt.BackoffBase
	for i := 1; i < failures && d < c.opt.BackoffMax; i++ {
		d *= 2
	}
	d = min(d, c.opt.BackoffMax)
	return d/2 + time.Duration(c.opt.Rand()*float64(d/2))
}

func orUnavailable(set *apikey.Set) (*apikey.Set, error) {
	if set == nil {
		return nil, ErrUnavailable
	}
	return set, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
