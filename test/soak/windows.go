package soak

import (
	"sort"
	"strings"
	"time"
)

// windows measures, for every change of a key's validity, the time from
// the change to the first answer that shows it, in each environment (the
// first request with that key there after the change: the measure includes
// the wait for that request), and the latest answer that still did not.
type windows struct {
	set   Settings
	open  map[string][]*transition // by key
	stats map[string]*Window       // by kind and function
	down  map[*env]time.Time       // environments answering without a key set, since
}

type transition struct {
	kind  string
	valid bool      // what the key becomes
	at    time.Time // the change: a write's end, or when an expiry passes
	after time.Time // answers to requests sent from here on may show it
	seen  map[string]bool
}

// Window is what results.json reports of one kind of change in one
// function's environments (or the local server).
type Window struct {
	Kind     string  `json:"kind"`
	Function string  `json:"function"`
	Count    int     `json:"count"`
	MaxMS    float64 `json:"max_ms"`
	// Calm counts the windows no store fault (or its shadow) overlapped,
	// and MaxCalmMS is their maximum: what compares with PromiseMS.
	Calm      int     `json:"without_fault"`
	MaxCalmMS float64 `json:"max_without_fault_ms"`
	// StaleMS is the latest answer after a change that still showed the
	// state before it (all, and without a fault): the window's lower
	// bound. MaxMS includes the wait for the next request with that key
	// in that environment (the load picks each key about once a second).
	StaleMS     float64 `json:"stale_max_ms"`
	StaleCalmMS float64 `json:"stale_max_without_fault_ms"`
	PromiseMS   float64 `json:"promise_ms"`
	Promise     string  `json:"promise"`
}

func newWindows(set Settings) *windows {
	return &windows{set: set, open: map[string][]*transition{}, stats: map[string]*Window{}, down: map[*env]time.Time{}}
}

// changed opens a transition for every key whose validity the write that
// made s changed (against the last state an environment could load), and
// one for every expiry ahead; it returns the keys that changed.
func (w *windows) changed(last, s *state) []string {
	var moved []string
	if last != nil {
		keys := map[string]bool{}
		for _, d := range []doc{last.current, last.previous, s.current, s.previous} {
			for k := range d {
				keys[k] = true
			}
		}
		for k := range keys {
			if was, is := last.valid(k, s.to), s.valid(k, s.to); was != is {
				w.add(k, &transition{kind: s.kind + map[bool]string{true: " (in)", false: " (out)"}[is], valid: is, at: s.to, after: s.from})
				moved = append(moved, k)
			}
		}
	}
	for k, e := range s.current {
		if !e.expires.IsZero() && e.expires.After(s.to) {
			w.add(k, &transition{kind: "expiry", at: e.expires, after: e.expires})
		}
	}
	for k, e := range s.previous {
		if _, kept := s.current[k]; kept || !s.valid(k, s.to) {
			continue
		}
		end := s.graceLo
		if !e.expires.IsZero() && e.expires.Before(end) {
			end = e.expires
		}
		w.add(k, &transition{kind: "grace end", at: end, after: end})
	}
	return moved
}

// add opens t for key. A write that changed the key ends its earlier
// transitions (changed then opens its expiries again, if it keeps them).
func (w *windows) add(key string, t *transition) {
	t.seen = map[string]bool{}
	if t.kind != "expiry" && t.kind != "grace end" {
		w.open[key] = []*transition{t}
		return
	}
	for _, o := range w.open[key] {
		if o.kind == t.kind && o.at.Equal(t.at) {
			return
		}
	}
	w.open[key] = append(w.open[key], t)
}

// observe takes a right answer: the first that shows each open
// transition in its environment closes that environment's window.
func (w *windows) observe(a *answer, faults []*fault) {
	s := a.req.slot
	fn := a.env.function
	// 503 (the no-set answer) to its first other answer: a recovery.
	if !s.malformed && s.refusal(true) != s.refusal(false) {
		since, down := w.down[a.env]
		switch {
		case a.verdict == s.refusal(true) && !down:
			w.down[a.env] = a.recv
		case a.verdict != s.refusal(true) && down:
			delete(w.down, a.env)
			from := since
			for _, f := range faults {
				if !f.begin.After(since) && f.end.After(from) {
					from = f.end
				}
			}
			w.record("cold start in a fault: recovered", fn, max(a.recv.Sub(from), 0), true, false)
		}
	}
	if !s.telling() || a.verdict == s.refusal(true) {
		return
	}
	// The key's latest transition by the time the request was sent is
	// the one the answer shows, or not yet.
	var t *transition
	for _, o := range w.open[a.req.key] {
		if !a.sent.Before(o.after) && (t == nil || o.after.After(t.after)) {
			t = o
		}
	}
	if t == nil {
		return
	}
	calm := true
	for _, f := range faults {
		end := f.end
		if end.IsZero() {
			end = a.recv
		}
		if f.begin.Before(a.recv) && end.Add(w.set.shadow()).After(t.at) {
			calm = false
		}
	}
	env := fn + a.env.name
	switch granted := a.verdict != s.refusal(false); {
	case granted != t.valid:
		w.record(t.kind, fn, a.recv.Sub(t.at), calm, true)
	case !t.seen[env]:
		t.seen[env] = true
		w.record(t.kind, fn, max(a.recv.Sub(t.at), 0), calm, false)
	}
}

// forget drops transitions older than ten minutes: an environment that
// got no request with the key by then never will.
func (w *windows) forget(now time.Time) {
	for k, ts := range w.open {
		var keep []*transition
		for _, t := range ts {
			if now.Sub(t.at) < 10*time.Minute {
				keep = append(keep, t)
			}
		}
		if len(keep) == 0 {
			delete(w.open, k)
		} else {
			w.open[k] = keep
		}
	}
}

// record counts a window that closed after d (or, stale, an answer
// still showing the old state d after the change).
func (w *windows) record(kind, fn string, d time.Duration, calm, stale bool) {
	id := kind + "@" + fn
	st := w.stats[id]
	if st == nil {
		st = &Window{Kind: kind, Function: fn}
		st.Promise, st.PromiseMS = w.promise(kind, fn)
		w.stats[id] = st
	}
	ms := float64(d.Microseconds()) / 1000
	switch {
	case stale:
		st.StaleMS = max(st.StaleMS, ms)
		if calm {
			st.StaleCalmMS = max(st.StaleCalmMS, ms)
		}
	default:
		st.Count++
		st.MaxMS = max(st.MaxMS, ms)
		if calm {
			st.Calm++
			st.MaxCalmMS = max(st.MaxCalmMS, ms)
		}
	}
}

// promise is what docs/rotation.md and docs/operating.md promise for a
// kind of change (without a fault), in words and as a bound.
func (w *windows) promise(kind, fn string) (string, float64) {
	ms := func(d time.Duration) float64 { return float64(d.Milliseconds()) }
	load := w.set.LoadTimeout
	switch {
	case strings.HasSuffix(kind, "(in)"):
		return "at once; ≤ min(30 s, KEY_REFRESH) + one load after another unknown key took the re-read", ms(min(30*time.Second, w.set.Refresh) + load)
	case strings.HasPrefix(kind, "keys revoke --now") && fn == fleetName:
		return "refused from the first request after the command", 0
	case strings.HasSuffix(kind, "(out)"):
		return "≤ KEY_REFRESH + one load (each environment's next refresh)", ms(w.set.Refresh + load)
	case kind == "expiry", kind == "grace end":
		return "refused from that moment", 0
	}
	return "≤ the 5 s backoff cap + one load after the fault ends", ms(backoffMax + load)
}

// report lists the windows, by kind and function.
func (w *windows) report() []Window {
	var out []Window
	for _, st := range w.stats {
		out = append(out, *st)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].Function < out[j].Function
	})
	return out
}
