package main

import (
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// The budget (issue 5), as ratios to the baselines on the same machine in
// the same run, and one absolute limit.
const (
	goalInit    = 1.20 // keygate INIT ≤ 1.20 × hello
	goalSize    = 1.25 // bootstrap ≤ 1.25 × hello
	goalWarm    = 1.10 // warm invocation ≤ 1.10 × hello
	goalServer  = 8.0  // local server ≥ 8 × Flask req/s
	goalRSSMB   = 30.0 // max RSS < 30 MB
	mb          = 1000 * 1000
	missedLabel = "**MISSED**"
)

type row struct {
	measure, keygate, baseline, ratio, goal, met string
}

type table struct {
	machine string
	smoke   bool
	opts    options
	rows    []row
	missed  int
	notes   []string // printed under the table
}

func (t *table) add(r row) { t.rows = append(t.rows, r) }

// fmtRatio shows ratio with two decimals, or four when two would make it
// look equal to goal: the reader must see which side of it ratio is.
func fmtRatio(ratio, goal float64) string {
	r := fmt.Sprintf("%.2f×", ratio)
	if r == fmt.Sprintf("%.2f×", goal) && ratio != goal {
		r = fmt.Sprintf("%.4f×", ratio)
	}
	return r
}

// check fills ratio, goal and met: ok when ratio satisfies cmp against goal.
func (t *table) check(r row, ratio, goal float64, atMost bool) row {
	r.ratio = fmtRatio(ratio, goal)
	ok := ratio >= goal
	r.goal = fmt.Sprintf("≥ %.2f×", goal)
	if atMost {
		ok = ratio <= goal
		r.goal = fmt.Sprintf("≤ %.2f×", goal)
	}
	r.met = "ok"
	if !ok {
		r.met = missedLabel
		t.missed++
	}
	return r
}

func (t *table) size(b binaries) {
	arches := []string{runtime.GOARCH}
	if runtime.GOARCH != deployArch {
		arches = append(arches, deployArch)
	}
	for _, arch := range arches {
		s := b.sizes[arch]
		label := "Bootstrap size, stripped, linux/" + arch
		if arch == deployArch {
			label += " (deployed)"
		} else {
			label += " (measured here)"
		}
		t.add(t.check(row{measure: label, keygate: fmtMB(s[0]), baseline: fmtMB(s[1]) + " hello"},
			float64(s[0])/float64(s[1]), goalSize, true))
	}
}

// floorNote says where the floors stand against hello-world and the goals:
// a goal below its floor is out of reach of any function with keygate's
// contract, and then keygate's ratio to the floor is the number to watch.
func floorNote(plainInit, sdkInit, warm float64) string {
	reach := func(floor, goal float64) string {
		side := "within"
		if floor > goal {
			side = "above"
		}
		return fmt.Sprintf("%s, %s the %.2f× goal", fmtRatio(floor, goal), side, goal)
	}
	return "Floors (package test/bench/floor, same run): the least a function can do and keep keygate's contract for one front door — " +
		"fetch the key at cold start, decode the event, compare the header, answer. " +
		"Against hello, its INIT is " + reach(plainInit, goalInit) + " with the key read over plain unsigned HTTP (floor/plain: lower than any real function can go), " +
		reach(sdkInit, goalInit) + " with the SDK client keygate must use (floor/sdk); " +
		"its warm invocation, without a log line, is " + reach(warm, goalWarm) + ". " +
		"Where a floor is above its goal the goal is out of reach by construction, and keygate's ratio to the floor measures its own cost."
}

// info is a row without a goal: keygate against another baseline.
func info(measure, keygate, baseline string, ratio float64) row {
	return row{measure: measure, keygate: keygate, baseline: baseline, ratio: fmt.Sprintf("%.2f×", ratio), goal: "—"}
}

func (t *table) cold(res map[string]*coldResult) {
	k, h, d := res["keygate"], res["hello"], res["direct"]
	fp, fs := res["floor"], res["floorsdk"]
	n := len(k.init)
	t.notes = append(t.notes, floorNote(median(fp.init)/median(h.init), median(fs.init)/median(h.init), median(fp.warm)/median(h.warm)))
	t.add(t.check(row{
		measure:  fmt.Sprintf("Cold start: RIE INIT duration, median of %d", n),
		keygate:  fmtMs(median(k.init)),
		baseline: fmtMs(median(h.init)) + " hello",
	}, median(k.init)/median(h.init), goalInit, true))
	t.add(info("  same, against the hand-written function (same key fetch)", fmtMs(median(k.init)),
		fmtMs(median(d.init))+" direct", median(k.init)/median(d.init)))
	t.add(info("  same, against the SDK floor (the same fetch, then nothing)", fmtMs(median(k.init)),
		fmtMs(median(fs.init))+" floor/sdk", median(k.init)/median(fs.init)))
	t.add(row{
		measure:  fmt.Sprintf("Cold start: first invocation round trip, median of %d", n),
		keygate:  fmtMs(median(k.first)),
		baseline: fmtMs(median(h.first)) + " hello",
		ratio:    fmt.Sprintf("%.2f×", median(k.first)/median(h.first)),
		goal:     "—",
	})
	t.add(t.check(row{
		measure:  fmt.Sprintf("Warm invocation: RIE REPORT Duration, median of %d", len(k.warm)),
		keygate:  fmtMs(median(k.warm)),
		baseline: fmtMs(median(h.warm)) + " hello",
	}, median(k.warm)/median(h.warm), goalWarm, true))
	t.add(info("  same, against the hand-written function", fmtMs(median(k.warm)),
		fmtMs(median(d.warm))+" direct", median(k.warm)/median(d.warm)))
	t.add(info("  same, against the floor (decode, compare, answer; no log)", fmtMs(median(k.warm)),
		fmtMs(median(fp.warm))+" floor/plain", median(k.warm)/median(fp.warm)))
	t.add(row{
		measure:  fmt.Sprintf("Warm invocation: client round trip, median of %d", len(k.warmClient)),
		keygate:  fmtMs(median(k.warmClient)),
		baseline: fmtMs(median(h.warmClient)) + " hello",
		ratio:    fmt.Sprintf("%.2f×", median(k.warmClient)/median(h.warmClient)),
		goal:     "—",
	})
	peak := slices.Max(k.hwm)
	r := row{
		measure:  fmt.Sprintf("Peak RSS (VmHWM), max of %d cold-start runs", n),
		keygate:  fmt.Sprintf("%.1f MB", peak),
		baseline: fmt.Sprintf("%.1f MB hello", slices.Max(h.hwm)),
		ratio:    fmt.Sprintf("%.2f×", peak/slices.Max(h.hwm)),
		goal:     fmt.Sprintf("< %.0f MB", goalRSSMB),
		met:      "ok",
	}
	// VmHWM is in KiB, shown in MiB: the "MB" of Lambda's memory setting
	// and its "Max Memory Used".
	if peak >= goalRSSMB {
		r.met = missedLabel
		t.missed++
	}
	t.add(r)
}

func (t *table) inProcess(pairs []benchPair) {
	for _, p := range pairs {
		r := row{
			measure:  fmt.Sprintf("In-process invoke, %s event → response bytes", p.door),
			keygate:  fmtBench(p.keygate),
			baseline: fmtBench(p.direct) + " direct",
			goal:     "—",
		}
		if p.keygate.N > 0 && p.direct.N > 0 {
			r.ratio = fmt.Sprintf("%.2f×", float64(p.keygate.NsPerOp())/float64(p.direct.NsPerOp()))
		} else {
			r.ratio, r.met = "—", "**FAILED**"
			t.missed++
		}
		t.add(r)
	}
}

func (t *table) throughput(r throughputResult) {
	flask := fmt.Sprintf(" Flask (gunicorn, %d workers)", r.workers)
	t.add(t.check(row{
		measure:  "Local server throughput",
		keygate:  fmt.Sprintf("%.0f req/s", r.keygate.rps),
		baseline: fmt.Sprintf("%.0f req/s", r.flask.rps) + flask,
	}, r.keygate.rps/r.flask.rps, goalServer, false))
	t.add(row{
		measure:  "Local server latency p99 (p50)",
		keygate:  fmt.Sprintf("%s (%s)", fmtMs(r.keygate.p99), fmtMs(r.keygate.p50)),
		baseline: fmt.Sprintf("%s (%s)", fmtMs(r.flask.p99), fmtMs(r.flask.p50)) + flask,
		ratio:    fmt.Sprintf("%.2f×", r.keygate.p99/r.flask.p99),
		goal:     "—",
	})
}

// print writes the table as Markdown, ready for README's Performance
// section.
func (t *table) print(w io.Writer) {
	o := t.opts
	fmt.Fprintf(w, "keygate performance — %s\n\n", time.Now().UTC().Format("2006-01-02"))
	if t.smoke {
		fmt.Fprintln(w, "SMOKE RUN (-smoke): every step ran once with tiny counts; the numbers mean nothing.")
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "Machine: %s\n", t.machine)
	length := o.load.String()
	if o.load < time.Second {
		length = fmt.Sprint(smokeRequests, " requests")
	}
	fmt.Fprintf(w, "Run: %d cold starts per function (one emulator each, %d warm invocations after each), REST event, key from a Secrets Manager endpoint on loopback; in-process: median of %d runs of %s each; load: bombardier, %d connections × %s per server, best of %d runs taken in turn.\n\n",
		o.runs, o.warm, o.rounds, o.benchtime, o.conns, length, max(o.loadRounds, 1))
	head := row{"Measure", "keygate", "Baseline", "Ratio", "Goal", "Met"}
	rows := append([]row{head}, t.rows...)
	var wid [6]int
	for _, r := range rows {
		for i, c := range r.cells() {
			wid[i] = max(wid[i], len([]rune(c)))
		}
	}
	line := func(cells [6]string) {
		fmt.Fprint(w, "|")
		for i, c := range cells {
			fmt.Fprintf(w, " %s%s |", c, strings.Repeat(" ", wid[i]-len([]rune(c))))
		}
		fmt.Fprintln(w)
	}
	line(head.cells())
	var sep [6]string
	for i := range sep {
		sep[i] = strings.Repeat("-", wid[i])
	}
	line(sep)
	for _, r := range t.rows {
		line(r.cells())
	}
	fmt.Fprintln(w)
	for _, n := range t.notes {
		fmt.Fprintln(w, n)
		fmt.Fprintln(w)
	}
	if t.missed > 0 {
		fmt.Fprintf(w, "%d goal(s) missed.\n", t.missed)
	} else {
		fmt.Fprintln(w, "Every goal met.")
	}
}

func (r row) cells() [6]string {
	return [6]string{r.measure, r.keygate, r.baseline, r.ratio, r.goal, r.met}
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func fmtMs(v float64) string {
	if v < 10 {
		return fmt.Sprintf("%.2f ms", v)
	}
	return fmt.Sprintf("%.1f ms", v)
}

func fmtMB(b int64) string { return fmt.Sprintf("%.2f MB", float64(b)/mb) }

func fmtBench(r testing.BenchmarkResult) string {
	if r.N == 0 {
		return "failed"
	}
	return fmt.Sprintf("%d ns/op, %d B/op, %d allocs/op", r.NsPerOp(), r.AllocedBytesPerOp(), r.AllocsPerOp())
}

func splitLines(s string) []string { return strings.Split(s, "\n") }

func cut(line, sep string) (string, string, bool) {
	k, v, ok := strings.Cut(line, sep)
	return strings.TrimSpace(k), strings.TrimSpace(v), ok
}
