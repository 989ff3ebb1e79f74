package soak

import (
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Settings are the functions' timing, as their environment sets it.
type Settings struct {
	Refresh     time.Duration // KEY_REFRESH
	Grace       time.Duration // KEY_GRACE
	LoadTimeout time.Duration // KEY_LOAD_TIMEOUT
}

// backoffMax is keycache's cap on the wait between failed loads.
// docs/operating.md: "retries the read with exponential backoff (200 ms
// doubling to a 5 s cap, jittered)".
const backoffMax = 5 * time.Second

// slack absorbs the scheduling delays of a loaded machine between the
// moments the function and the harness take their clocks (a load may end a
// little after its KEY_LOAD_TIMEOUT). It widens every window by one second;
// no window is asserted any tighter than that.
const slack = time.Second

// staleness is how old, at most, the set an environment answers from can
// be when no fault is in the way. docs/rotation.md: "Each execution
// environment keeps the set it loaded for KEY_REFRESH …; the first request
// after that re-reads the secret and is answered with the new set." The
// read happened at most KEY_LOAD_TIMEOUT before that load ended. The
// re-read for a key the set lacks ("at most once per 30 seconds per
// environment") only ever makes the set fresher, so with KEY_REFRESH under
// 30 s it bounds neither a new key's window nor a revoked one's.
func (s Settings) staleness() time.Duration { return s.Refresh + s.LoadTimeout + slack }

// shadow is how long after a fault ends an environment may still answer
// from the set it held when the fault began: docs/operating.md, "a failed
// refresh keeps the last good set in force and retries with backoff", the
// next try within the 5 s cap, taking at most KEY_LOAD_TIMEOUT.
func (s Settings) shadow() time.Duration { return backoffMax + s.LoadTimeout + slack }

// Oracle follows every change of the secret and judges every answer
// against the key sets that may be in force in the environment that gave
// it. Its rules are in judge; docs/rotation.md and docs/operating.md are
// where they come from.
type Oracle struct {
	set  Settings
	read func() snapshot
	now  func() time.Time

	write sync.Mutex // one writer of the secret at a time

	mu      sync.Mutex
	states  []*state
	pending map[int]time.Time // writes under way: when each began
	nextID  int
	faults  []*fault
	// restarts are the moments, by function, when keygate keys revoke
	// --now returned, having replaced the function's environments.
	restarts map[string][]time.Time
	created  map[string][2]time.Time // version → when it was written, within
	keys     *catalogue
	windows  *windows
}

// snapshot is what the store holds: the value of each labelled version.
type snapshot struct {
	current, previous, pending string // version IDs ("" none)
	values                     map[string]string
}

// fault is one store fault: from its injection until it was cleared.
type fault struct {
	kind       string
	begin, end time.Time // end zero: still on
}

// NewOracle returns an oracle for functions with these settings over the
// store that read reads (without faults: smfake's own accessors).
func NewOracle(set Settings, read func() snapshot) *Oracle {
	return &Oracle{set: set, read: read, now: time.Now, pending: map[int]time.Time{}, created: map[string][2]time.Time{}, restarts: map[string][]time.Time{},
		keys: newCatalogue(), windows: newWindows(set)}
}

// Write runs fn, a change of the secret (kind, as the windows report it,
// and its detail), and records the state it leaves. Changes are
// serialized: the soak's driver and its bad-document fault never
// interleave within one.
func (o *Oracle) Write(kind, detail string, fn func() error) error {
	o.write.Lock()
	defer o.write.Unlock()
	o.mu.Lock()
	id, from := o.nextID, o.now()
	o.nextID++
	o.pending[id] = from
	o.mu.Unlock()

	err := fn()
	snap := o.read()
	to := o.now()

	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.pending, id)
	for vid, v := range snap.values {
		if _, ok := o.created[vid]; !ok && v != "" {
			// CreatedDate travels in milliseconds.
			o.created[vid] = [2]time.Time{from.Add(-time.Millisecond), to.Add(time.Millisecond)}
		}
	}
	s := &state{from: from, to: to, kind: kind, what: strings.TrimSpace(kind + " " + detail), currentID: snap.current, previousID: snap.previous}
	s.current = parseDoc(snap.values[snap.current], o.keys.byHash)
	if snap.previous != "" {
		s.previous = parseDoc(snap.values[snap.previous], o.keys.byHash)
	}
	c := o.created[snap.current]
	s.graceLo, s.graceHi = c[0].Add(o.set.Grace), c[1].Add(o.set.Grace)
	var last *state // the last state an environment could load
	for i := len(o.states) - 1; i >= 0 && last == nil; i-- {
		if o.states[i].loadable() {
			last = o.states[i]
		}
	}
	if n := len(o.states); n > 0 && o.states[n-1].currentID == s.currentID && o.states[n-1].previousID == s.previousID {
		return err // nothing in force changed (a rotation's first steps)
	}
	o.states = append(o.states, s)
	if s.loadable() {
		o.keys.see(s)
		o.keys.moved(o.windows.changed(last, s), s.to)
	}
	o.windows.forget(to)
	return err
}

// Learn records a key the soak was handed (keygate keys add and rotate
// print it once), so that entries holding only its SHA-256 map back to it.
func (o *Oracle) Learn(key string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.keys.learn(key)
}

// Restarted records that keygate keys revoke --now, naming function, has
// just returned: docs/rotation.md, "Lambda replaces every execution
// environment, so each one's next request is a cold start that reads the
// secret without the revoked key".
func (o *Oracle) Restarted(function string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.restarts[function] = append(o.restarts[function], o.now())
}

// FaultOn records a fault just before it is injected; FaultOff just after
// it is cleared.
func (o *Oracle) FaultOn(kind string) *fault {
	o.mu.Lock()
	defer o.mu.Unlock()
	f := &fault{kind: kind, begin: o.now()}
	o.faults = append(o.faults, f)
	return f
}

func (o *Oracle) FaultOff(f *fault) {
	o.mu.Lock()
	defer o.mu.Unlock()
	f.end = o.now()
}

// safe is the time up to which answers can be judged: no write that began
// earlier is still under way, so every state they may reflect is known.
func (o *Oracle) safe() time.Time {
	o.mu.Lock()
	defer o.mu.Unlock()
	t := o.now()
	for _, from := range o.pending {
		if from.Before(t) {
			t = from
		}
	}
	return t
}

// horizon is the earliest moment whose key set the environment may still
// answer from at sent, and whether a fault pushed it back. A fault that
// began before the request stretches it: the set held when the fault began
// stays in force until shadow after it ended (docs/operating.md, "the last
// good set stays in force"; faults can chain).
func (o *Oracle) horizon(sent time.Time) (h time.Time, stretched bool) {
	h = sent.Add(-o.set.staleness())
	for changed := true; changed; {
		changed = false
		for _, f := range o.faults {
			end := f.end
			if end.IsZero() {
				end = sent // still on
			}
			back := f.begin.Add(-o.set.staleness())
			if f.begin.Before(sent) && !end.Add(o.set.shadow()).Before(h) && back.Before(h) {
				h, stretched, changed = back, true, true
			}
		}
	}
	return h, stretched
}

// during returns the states that may have been in force at some moment of
// [lo, hi], in order: state i from its write's beginning until the end of
// the next write.
func (o *Oracle) during(lo, hi time.Time) []*state {
	i := sort.Search(len(o.states), func(i int) bool {
		return i+1 == len(o.states) || !o.states[i+1].to.Before(lo)
	})
	var out []*state
	for ; i < len(o.states) && !o.states[i].from.After(hi); i++ {
		out = append(out, o.states[i])
	}
	return out
}

// verdict is how an answer is judged: ok, or allowed only by a read that
// straddled a write (counted, not failed: see acceptable), or wrong.
type verdict int

const (
	right verdict = iota
	straddled
	wrong
)

// judge decides whether a is an answer the environment may give, and
// returns the answers it may give.
//
// The rules:
//  1. An environment answers from a key set it loaded at some moment
//     between its horizon (staleness before the request: KEY_REFRESH
//     plus one load) and the answer, and never from one older than its own
//     start: a cold start reads the secret afresh. That is every window
//     docs/rotation.md promises: a key added or rotated in may be refused,
//     and a revoked one accepted, until each environment's next read.
//  2. After keygate keys revoke --now returns, the function it named
//     answers every request from a set loaded after that moment (its
//     environments were replaced): the revoked key is refused at once.
//     Other functions, and the local server, take it at their next read.
//  3. Store faults push the horizon back (horizon), and then an
//     environment that started during the fault may have no set at all:
//     503 (docs/operating.md: "If that fails, the function starts anyway
//     and answers every request with 503"), and a set may lack AWSPREVIOUS
//     (a cold start reads AWSCURRENT only, and its first re-read for an
//     old key can fail; a load whose second read fails is partial).
//  4. A state whose AWSCURRENT does not parse is never loaded: the last
//     good set stays in force.
//  5. Expiry, and the end of AWSPREVIOUS's grace, take effect at the moment
//     of the request in every environment that holds the key.
//  6. A request's answer for a key valid in the set is the one
//     events/expected.json gives its event; for any other key, the
//     refusal; and the same whatever the key for the events whose outcome
//     does not depend on it (no key, two keys, malformed).
func (o *Oracle) judge(a *answer) (verdict, []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	sl := a.req.slot
	h, stretched := o.horizon(a.sent)
	lo := h
	if a.env.started.After(lo) {
		lo = a.env.started
	}
	for _, t := range o.restarts[a.env.function] {
		if t.Before(a.sent) && t.After(lo) {
			lo = t
		}
	}
	states := o.during(lo, a.recv)
	var ok []string
	add := func(v string) {
		if !slices.Contains(ok, v) {
			ok = append(ok, v)
		}
	}
	if stretched && !h.After(a.env.started) {
		add(sl.expect(validity{}, false))
	}
	for _, s := range states {
		if !s.loadable() {
			continue
		}
		for _, v := range s.answers(a.req.key, a.sent.Add(-time.Millisecond), a.recv.Add(time.Millisecond), true) {
			add(sl.expect(v, true))
		}
		if stretched {
			for _, v := range s.answers(a.req.key, a.sent, a.recv, false) {
				add(sl.expect(v, true))
			}
		}
	}
	if slices.Contains(ok, a.verdict) {
		o.windows.observe(a, o.faults)
		return right, ok
	}
	// Outside the rules: a load that read AWSCURRENT, then AWSPREVIOUS
	// after a write moved it, holds the earlier AWSCURRENT with the later
	// AWSPREVIOUS, or none. keysource reads again when it sees one write
	// did that; two writes within its reads still can. Such an answer is
	// counted and reported, not failed: see the soak's report.
	for i := 1; i < len(states); i++ {
		a0, b := states[i-1], states[i]
		if !a0.loadable() || !b.loadable() {
			continue
		}
		mixed := &state{current: a0.current, previous: b.previous, graceLo: a0.graceLo, graceHi: a0.graceHi}
		current := &state{current: a0.current}
		for _, m := range []*state{mixed, current} {
			for _, v := range m.answers(a.req.key, a.sent, a.recv, true) {
				if sl.expect(v, true) == a.verdict {
					return straddled, ok
				}
			}
		}
	}
	return wrong, ok
}
