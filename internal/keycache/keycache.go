// Package keycache keeps the current API key set in memory, loads it from a
// Source at cold start, refreshes it when it ages, and keeps serving the last
// good set when a refresh fails.
//
// The semantics follow aws-secretsmanager-caching-go and Powertools
// Parameters: a refresh interval with jitter, one refresh at a time, the
// stale value kept on error, and exponential backoff between failed loads.
// Until a first load succeeds there is no set, and Keys reports
// ErrUnavailable: the caller fails closed.
package keycache

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keygate/keygate/internal/apikey"
)

// ErrUnavailable means no key set has been loaded yet.
var ErrUnavailable = errors.New("no API key set is loaded")

var errNoSet = errors.New("source returned no key set")

// Source loads the current key set.
type Source interface {
	Load(ctx context.Context) (Snapshot, error)
}

// Snapshot is what a Source loaded.
type Snapshot struct {
	Set *apikey.Set
	// Source names where the keys came from (secretsmanager, env).
	Source string
	// Version is the secret version ID, when there is one.
	Version string
	// Partial means part of the set could not be read (for example the
	// previous version during a grace period); the cache uses it but
	// retries soon, as after a failure.
	Partial bool
	// Warnings are logged with the load; they never contain key material.
	Warnings []string
}

// Options tune the cache. Zero values take the defaults.
type Options struct {
	// Refresh is how old a set may get before it is re-read; zero or
	// negative means never (keys from the environment).
	Refresh time.Duration
	// LoadTimeout bounds one load, so no request waits longer on the store.
	LoadTimeout time.Duration
	// BackoffBase and BackoffMax shape the retry delay after failed loads.
	BackoffBase, BackoffMax time.Duration
	// MissInterval is the least time between two loads that Reload
	// starts for keys the set does not hold.
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

// Cache is safe for concurrent use.
type Cache struct {
	src Source
	opt Options

	cur atomic.Pointer[state]
	// loading is held for the whole of a load: Keys only tries it (a
	// request never waits for another's refresh), Load waits for it.
	loading sync.Mutex

	mu       sync.Mutex // serialises loads' bookkeeping
	failures int

	nextMiss atomic.Int64 // Unix nanoseconds from which Reload may load again
}

type state struct {
	set *apikey.Set
	due time.Time // when the next load may start
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
	c := &Cache{src: src, opt: opt}
	c.cur.Store(&state{})
	return c
}

// Load performs a load now (used at cold start). Its error is also logged.
// A load already in flight is waited for first, so two never overlap.
func (c *Cache) Load(ctx context.Context) error {
	c.loading.Lock()
	defer c.loading.Unlock()
	return c.load(ctx)
}

// Keys returns the current set. When the set is due for refresh, exactly one
// caller performs the load (bounded by LoadTimeout) while the others go on
// with the set they have; with no set at all, they get ErrUnavailable.
func (c *Cache) Keys(ctx context.Context) (*apikey.Set, error) {
	st := c.cur.Load()
	fresh := c.opt.Now().Before(st.due)
	if st.set != nil && fresh {
		return st.set, nil
	}
	if !fresh && c.loading.TryLock() {
		// st may predate a load that finished just before TryLock: look
		// again, or callers arriving together load twice in a row.
		if st = c.cur.Load(); !c.opt.Now().Before(st.due) {
			// The refresh belongs to the process, not to this request:
			// a caller that hangs up must not abort it.
			_ = c.load(context.WithoutCancel(ctx))
			st = c.cur.Load()
		}
		c.loading.Unlock()
	}
	if st.set == nil {
		return nil, ErrUnavailable
	}
	return st.set, nil
}

// Reload is for a caller that presented a key the set does not hold: a
// client handed a newly rotated key before this environment's next refresh
// is then let in at once, not after up to Refresh. It loads now, at most
// once per MissInterval (keys a caller makes up cost the store little);
// while another load runs it waits for that one and uses its result, so
// callers arriving together with the new key all see it. A failed load
// keeps the refresh schedule as it was. It returns the set to match
// against again; nil when keys never refresh.
func (c *Cache) Reload(ctx context.Context) *apikey.Set {
	if c.opt.Refresh <= 0 {
		return nil
	}
	now := c.opt.Now().UnixNano()
	next := c.nextMiss.Load()
	turn := now >= next && c.nextMiss.CompareAndSwap(next, now+int64(c.opt.MissInterval))
	before := c.cur.Load()
	c.loading.Lock()
	// A load that finished while this one waited has read the store now.
	if turn && c.cur.Load() == before {
		if c.load(context.WithoutCancel(ctx)) != nil {
			// Made-up keys must not put a store outage's retries on the
			// callers with right keys: the schedule stays as it was.
			c.cur.Store(before)
		}
	}
	c.loading.Unlock()
	return c.cur.Load().set
}

func (c *Cache) load(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.opt.LoadTimeout)
	defer cancel()
	start := c.opt.Now()
	snap, err := c.src.Load(ctx)
	took := slog.Float64("duration_ms", ms(c.opt.Now().Sub(start)))

	c.mu.Lock()
	defer c.mu.Unlock()
	prev := c.cur.Load()
	if err != nil || snap.Set == nil {
		if err == nil {
			err = errNoSet
		}
		c.failures++
		retry := c.backoff(c.failures)
		c.cur.Store(&state{set: prev.set, due: c.opt.Now().Add(retry)})
		c.opt.Log.LogAttrs(ctx, slog.LevelError, "key load failed",
			slog.String("error", err.Error()),
			slog.Bool("serving_stale", prev.set != nil),
			slog.Int("attempt", c.failures),
			slog.Float64("retry_in_ms", ms(retry)),
			took)
		return err
	}
	due := c.nextRefresh()
	if snap.Partial {
		c.failures++
		due = c.opt.Now().Add(c.backoff(c.failures))
	} else {
		c.failures = 0
	}
	c.cur.Store(&state{set: snap.Set, due: due})
	attrs := []slog.Attr{
		slog.String("source", snap.Source),
		slog.String("version_id", snap.Version),
		slog.Int("keys", snap.Set.Len()),
		slog.Bool("partial", snap.Partial),
		took,
	}
	if len(snap.Warnings) > 0 {
		attrs = append(attrs, slog.Any("warnings", snap.Warnings))
	}
	c.opt.Log.LogAttrs(ctx, slog.LevelInfo, "key set loaded", attrs...)
	return nil
}

// nextRefresh spreads a fleet's refreshes over the last tenth of the
// interval so that environments started together do not read at once.
func (c *Cache) nextRefresh() time.Time {
	if c.opt.Refresh <= 0 {
		return time.Unix(1<<62, 0) // never
	}
	r := c.opt.Refresh
	return c.opt.Now().Add(r - time.Duration(c.opt.Rand()*float64(r/10)))
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

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
