package soak

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	samples "github.com/keygate/keygate/events"
	"github.com/keygate/keygate/internal/smapi"
	"github.com/keygate/keygate/internal/testsupport/smfake"
	"github.com/keygate/keygate/test/internal/repo"
	"github.com/keygate/keygate/test/moto"
	"github.com/keygate/keygate/test/rie"
)

// The functions' settings: KEY_REFRESH of a few seconds, so that every
// environment re-reads the secret (and logs its goroutines) often; a
// KEY_GRACE shorter than the time between rotations, so that each
// rotated-away key's grace ends within the run.
var settings = Settings{Refresh: 5 * time.Second, Grace: 20 * time.Second, LoadTimeout: 3 * time.Second}

// TestSoak runs keygate for SOAK (default 2m; make soak: 60m) under a
// steady mixed load, while the driver rotates the secret, adds, rotates and
// revokes clients and injects store faults; the oracle judges every
// answer, and the processes' memory, descriptors, goroutines and latency
// must stay flat. It writes bin/soak/results.json and bin/soak/soak.svg
// (SOAK_OUT names another directory).
func TestSoak(t *testing.T) {
	d := soakDuration(t)
	long := d >= 10*time.Minute
	built := commit() // what this run tests: HEAD as it starts
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))

	sm := smfake.Start(t)
	o := NewOracle(settings, func() snapshot { return read(sm) })
	mon := newMonitor(o.holds)
	o.Write("setup", "", func() error {
		sm.Put(secretID, initialSecret(t))
		return nil
	})

	vars := map[string]string{
		"API_KEY_SECRET_ID": secretID, "AWS_ENDPOINT_URL_SECRETS_MANAGER": sm.URL, "LOG_LEVEL": "info",
		"KEY_REFRESH": settings.Refresh.String(), "KEY_GRACE": settings.Grace.String(), "KEY_LOAD_TIMEOUT": settings.LoadTimeout.String(),
	}
	boot := rie.Build(t, "./cmd/api", false)
	fleet := startFunction(t, fleetName, 2, boot, vars, moto.Function(t, moto.Start(t), fleetName, vars), mon.lines)
	steady := startFunction(t, steadyName, 1, boot, vars, nil, mon.lines)
	localVars := map[string]string{}
	for _, kv := range sm.Env() {
		k, v, _ := strings.Cut(kv, "=")
		localVars[k] = v
	}
	for k, v := range vars {
		localVars[k] = v
	}
	local, server, base := startLocal(t, localVars, mon.lines)
	drv := &driver{t: t, sm: sm, o: o, fleet: fleet, r: r, done: map[string]int{}, failed: map[string]int{},
		rot: rie.Start(t, rie.Build(t, "./cmd/rotate", false), rie.Options{Env: sm.Env()})}

	fn, loc, err := slots()
	if err != nil {
		t.Fatal(err)
	}
	l := &load{t: t, o: o, fn: fn, local: loc, answer: make(chan *answer, 1<<16), latency: map[string][]latency{}}
	stopLoad := make(chan struct{})
	var workers sync.WaitGroup
	for _, f := range []*function{fleet, steady} {
		for i := range f.current() {
			wr := rand.New(rand.NewPCG(r.Uint64(), 2))
			workers.Go(func() { l.lambdaWorker(stopLoad, f, i, wr) })
		}
	}
	lr := rand.New(rand.NewPCG(r.Uint64(), 3))
	workers.Go(func() { l.localWorker(stopLoad, local, base, lr) })
	judged := make(chan struct{})
	warm := time.Now()
	go func() { defer close(judged); l.judge(warm) }()

	// A short warm-up: every process has started and grown to its
	// working size before the first quarter's samples.
	time.Sleep(10 * time.Second)
	start := time.Now()
	end := start.Add(d)
	envs := func() []*env { return append(append(fleet.current(), steady.current()...), local) }
	stopRest := make(chan struct{})
	var rest sync.WaitGroup
	rest.Go(func() {
		for {
			mon.sample(envs())
			select {
			case <-stopRest:
				return
			case <-time.After(5 * time.Second):
			}
		}
	})
	sched := longSchedule
	if !long {
		sched = shortSchedule(d)
	}
	fr := rand.New(rand.NewPCG(r.Uint64(), 4))
	rest.Go(func() { drv.faults(stopRest, sched.faultGap, sched.faultLength, fr) })
	// The driver runs here, on the test's goroutine.
	drv.run(start, end, sched, func(now time.Time) {
		l.mu.Lock()
		defer l.mu.Unlock()
		t.Logf("%s: %d answers judged, %d wrong", since(now, start), l.tally.requests, l.tally.wrongAllows+l.tally.wrongRefusals+l.tally.wrongOther)
	})
	close(stopRest)
	rest.Wait()
	close(stopLoad)
	workers.Wait()
	close(l.answer)
	<-judged
	if err := stopLocal(server); err != nil {
		t.Error(err)
	}
	fleet.stop()
	steady.stop()

	res := &Results{Date: time.Now().UTC().Format(time.RFC3339), Commit: built, Command: command(d),
		Settings:  map[string]string{"KEY_REFRESH": vars["KEY_REFRESH"], "KEY_GRACE": vars["KEY_GRACE"], "KEY_LOAD_TIMEOUT": vars["KEY_LOAD_TIMEOUT"]},
		DurationS: end.Sub(start).Seconds(), Changes: drv.done, Failed: drv.failed, Loads: map[string]Load{}}
	tl := l.tally
	res.Requests, res.WrongAllows, res.WrongRefusals, res.WrongOther = tl.requests, tl.wrongAllows, tl.wrongRefusals, tl.wrongOther
	res.StraddledReads, res.HygieneFailures, res.InvocationErrors, res.KeyLeaks = tl.straddled, tl.hygiene, tl.invokeErrors, len(mon.leaks)
	for name, c := range mon.loads {
		res.Loads[name] = Load{Loaded: c.loaded, Failed: c.failed}
	}
	m := &measures{start: start, end: end, base: warm, long: long, latency: l.latency, mem: mon.mem, gor: mon.gor}
	for _, e := range envs() {
		if e.gen == 0 {
			m.steady = append(m.steady, e.name)
		}
	}
	m.series(res)
	m.flatness(res)
	res.Windows = o.windows.report()
	faults, marks := o.spans(start)
	out := outDir(t)
	if err := res.write(out); err != nil {
		t.Error(err)
	}
	if err := os.WriteFile(filepath.Join(out, "soak.svg"), []byte(plot(res, faults, marks)), 0o644); err != nil {
		t.Error(err)
	}

	t.Logf("%s: %d requests in %s; wrong: %d allows, %d refusals, %d other; %d straddled reads; results in %s",
		res.Command, res.Requests, d, res.WrongAllows, res.WrongRefusals, res.WrongOther, res.StraddledReads, out)
	t.Logf("changes: %s", strings.Join(summary(drv.done), ", "))
	t.Logf("changes that failed (in a fault, mostly): %s", strings.Join(summary(drv.failed), ", "))
	for _, w := range res.Windows {
		t.Logf("window %s @ %s: %d seen, max %.0f ms (latest stale answer %.0f ms); %d without a fault, max %.0f ms (stale %.0f ms); promise: %s (%.0f ms)",
			w.Kind, w.Function, w.Count, w.MaxMS, w.StaleMS, w.Calm, w.MaxCalmMS, w.StaleCalmMS, w.Promise, w.PromiseMS)
	}
	for _, rep := range tl.reports {
		t.Error(rep)
	}
	for _, leak := range mon.leaks {
		t.Error(leak)
	}
	if n := res.WrongAllows + res.WrongRefusals + res.WrongOther + res.HygieneFailures + res.InvocationErrors; n > 0 {
		t.Errorf("%d wrong answers (%d allows, %d refusals, %d other), %d badly shaped, %d failed invocations", n-res.HygieneFailures-res.InvocationErrors,
			res.WrongAllows, res.WrongRefusals, res.WrongOther, res.HygieneFailures, res.InvocationErrors)
	}
	for _, c := range res.Checks {
		if !c.Pass && c.Enforced {
			t.Error(c)
		} else {
			t.Log(c)
		}
	}
}

// soakDuration reads SOAK (default 2m) and checks that go test's
// -timeout leaves room for it.
func soakDuration(t *testing.T) time.Duration {
	d := 2 * time.Minute
	if v := os.Getenv("SOAK"); v != "" {
		var err error
		if d, err = time.ParseDuration(v); err != nil || d < time.Minute {
			t.Fatalf("SOAK=%q: want a duration of at least 1m (2m, 60m)", v)
		}
	}
	if deadline, ok := t.Deadline(); ok && time.Until(deadline) < d+5*time.Minute {
		t.Fatalf("SOAK=%s does not fit in go test's -timeout (%s left): pass -timeout %s", d, time.Until(deadline).Round(time.Second), d+15*time.Minute)
	}
	return d
}

// initialSecret is events/env.json's key set (the default, readonly and
// office clients, whose keys the sample events carry) with a client whose
// key expired long ago.
func initialSecret(t *testing.T) string {
	env, err := samples.Env()
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]map[string]any
	if err := json.Unmarshal([]byte(env["KeygateFunction"]["API_KEY"]), &doc); err != nil {
		t.Fatal(err)
	}
	doc["api_keys"]["retired"] = map[string]string{"key": "kgSoakRetiredKey0123456789abcdefAB", "expires": "2020-01-01T00:00:00Z"}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// read is the secret as smfake holds it, read without its faults.
func read(sm *smfake.Server) snapshot {
	s := snapshot{values: map[string]string{}}
	for id, stages := range sm.Stages(secretID) {
		for _, st := range stages {
			switch st {
			case smapi.StageCurrent:
				s.current = id
			case smapi.StagePrevious:
				s.previous = id
			case smapi.StagePending:
				s.pending = id
			default:
				continue
			}
			s.values[id], _ = sm.Value(secretID, st)
		}
	}
	return s
}

func outDir(t *testing.T) string {
	if d := os.Getenv("SOAK_OUT"); d != "" {
		return d
	}
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "bin", "soak")
}

func commit() string {
	root, _ := repo.Root()
	out, err := exec.Command("git", "-C", root, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

func command(d time.Duration) string {
	if c := os.Getenv("SOAK_COMMAND"); c != "" {
		return c
	}
	return "SOAK=" + d.String() + " go test -run TestSoak ./soak"
}
