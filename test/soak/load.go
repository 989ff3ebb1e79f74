package soak

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate/internal/apikey"
)

// rate is each environment's requests a second: steady, well below what
// this 2-core machine serves, so that latency measures keygate rather
// than a saturated machine.
const rate = 100

// load sends a steady mix of requests to every environment, one worker
// each (Lambda sends an environment one invocation at a time), and has the
// oracle judge every answer.
type load struct {
	t      *testing.T
	o      *Oracle
	fn     []*slot // the functions' requests
	local  []*slot // the local server's
	answer chan *answer

	mu      sync.Mutex
	latency map[string][]latency // by environment
	tally   tally
}

// latency is one request's: when it was sent (seconds after the load
// began: 8 bytes a request, for an hour of them) and how long it took.
type latency struct {
	at, ms float32
}

// tally counts the answers and keeps the first reports of each kind of
// wrong one.
type tally struct {
	requests, straddled                    int
	wrongAllows, wrongRefusals, wrongOther int
	hygiene, invokeErrors                  int
	reports                                []string
}

// pick chooses a request: any slot, with a key of its class (one in force,
// one that just came or went, or any the soak has seen) or a made-up one.
func (l *load) pick(r *rand.Rand, slots []*slot) request {
	s := slots[r.IntN(len(slots))]
	switch {
	case s.fixture == "":
		return request{slot: s}
	case s.class == "":
		return request{slot: s, key: madeUp(r)}
	}
	l.o.mu.Lock()
	key := l.o.keys.pick(s.class, r, time.Now())
	l.o.mu.Unlock()
	if key == "" {
		key = s.fixture
	}
	return request{slot: s, key: key}
}

// madeUp is a key no one was given: events/'s wrong key, another that
// makes the environment re-read the secret (taking the turn a key rotated
// in would use), or a kg_ key whose checksum fails (refused without one).
func madeUp(r *rand.Rand) string {
	switch r.IntN(3) {
	case 0:
		return fixtures[3].key
	case 1:
		return fmt.Sprintf("kgMadeUp%024x", r.Uint64())
	}
	k := []byte(apikey.Generate())
	k[len(k)-1] ^= 1
	return string(k)
}

// lambdaWorker loads environment i of f until stop.
func (l *load) lambdaWorker(stop <-chan struct{}, f *function, i int, r *rand.Rand) {
	l.paced(stop, func() {
		req := l.pick(r, l.fn)
		payload := req.slot.payload(req.key)
		var a *answer
		f.use(i, func(e *env) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			a = &answer{env: e, req: req, sent: time.Now()}
			out, err := e.fn.Invoke(ctx, payload)
			a.recv = time.Now()
			if err != nil {
				a.verdict, a.raw = "failed", err.Error()
				return
			}
			a.verdict, a.hygiene = classify(l.t, req.slot, out)
			a.raw = string(out)
		})
		l.answer <- a
	})
}

// localWorker loads the local server at base until stop.
func (l *load) localWorker(stop <-chan struct{}, e *env, base string, r *rand.Rand) {
	client := &http.Client{Timeout: time.Minute}
	defer client.CloseIdleConnections()
	l.paced(stop, func() {
		req := l.pick(r, l.local)
		a := &answer{env: e, req: req, sent: time.Now()}
		res, err := client.Do(req.slot.httpRequest(base, req.key))
		var body []byte
		if err == nil {
			body, err = io.ReadAll(res.Body)
			res.Body.Close()
		}
		a.recv = time.Now()
		if err != nil {
			a.verdict, a.raw = "failed", err.Error()
		} else {
			a.verdict, a.hygiene = classifyLocal(l.t, req.slot, res, body)
			a.raw = fmt.Sprintf("%d %v %s", res.StatusCode, res.Header, body)
		}
		l.answer <- a
	})
}

// paced calls send rate times a second until stop, never in a burst to
// catch up.
func (l *load) paced(stop <-chan struct{}, send func()) {
	next := time.Now()
	for {
		select {
		case <-stop:
			return
		default:
		}
		send()
		next = next.Add(time.Second / rate)
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		} else {
			next = time.Now()
		}
	}
}

// judge judges answers as it becomes safe to (every write they may
// reflect is recorded), in the order they came, until answer is closed and
// drained.
func (l *load) judge(start time.Time) {
	var queue []*answer
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for open := true; open || len(queue) > 0; {
		select {
		case a, ok := <-l.answer:
			if !ok {
				open = false
				break
			}
			queue = append(queue, a)
			continue
		case <-tick.C:
		}
		safe := l.o.safe()
		if !open {
			safe = time.Now().Add(time.Hour)
		}
		sort.Slice(queue, func(i, j int) bool { return queue[i].recv.Before(queue[j].recv) })
		n := sort.Search(len(queue), func(i int) bool { return !queue[i].recv.Before(safe) })
		for _, a := range queue[:n] {
			l.take(a, start)
		}
		queue = queue[n:]
	}
}

// take judges one answer and counts it.
func (l *load) take(a *answer, start time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.tally.requests++
	l.latency[a.env.name] = append(l.latency[a.env.name], latency{float32(a.sent.Sub(start).Seconds()), float32(a.recv.Sub(a.sent).Seconds() * 1000)})
	if a.verdict == "failed" {
		l.tally.invokeErrors++
		l.report(fmt.Sprintf("%s: the invocation failed (%s, sent %s): %s", a.env.name, a.req.slot.ev.Name, since(a.sent, start), a.raw))
		return
	}
	if len(a.hygiene) > 0 {
		l.tally.hygiene++
		l.report(fmt.Sprintf("%s: %s answered %s, whose shape is wrong: %s\n  answer: %.400s", a.env.name, a.req.slot.ev.Name, a.verdict, strings.Join(a.hygiene, "; "), a.raw))
	}
	v, ok := l.o.judge(a)
	switch v {
	case right:
		return
	case straddled:
		l.tally.straddled++
		if l.tally.straddled <= 3 {
			l.reports0(a, ok, start, "allowed only by a read that straddled a write (counted, not failed)")
		}
		return
	}
	switch {
	case a.verdict == "200" || strings.HasPrefix(a.verdict, "allow:"):
		l.tally.wrongAllows++
	case a.verdict == "400" || a.verdict == "404" || a.verdict == "405" || strings.HasPrefix(a.verdict, "not a") || strings.HasPrefix(a.verdict, "failed:"):
		l.tally.wrongOther++
	default:
		l.tally.wrongRefusals++
	}
	l.reports0(a, ok, start, "WRONG")
}

func (l *load) reports0(a *answer, ok []string, start time.Time, what string) {
	key := a.req.key
	if len(key) > 12 {
		key = key[:12] + "…"
	}
	l.report(fmt.Sprintf("%s: %s answered %s to %s with key %q, sent at %s, answered %s later; the oracle allows %v\n  environment: generation %d, started at %s\n  answer: %.400s\n  the key's history:\n%s",
		what, a.env.name, a.verdict, a.req.slot.ev.Name, key, since(a.sent, start), a.recv.Sub(a.sent).Round(time.Microsecond), ok,
		a.env.gen, since(a.env.started, start), a.raw, l.o.history(a.req.key, start, a.sent)))
}

func (l *load) report(s string) {
	if len(l.tally.reports) < 20 {
		l.tally.reports = append(l.tally.reports, s)
	}
}

// since formats t as an offset from the start of the run.
func since(t, start time.Time) string { return t.Sub(start).Round(time.Millisecond).String() }
