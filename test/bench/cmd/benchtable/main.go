// Command benchtable measures keygate against its baselines, side by side
// in one run, and prints one table (docs/performance.md):
//
//   - cold start in a model that pays what Lambda pays (model.go): Secrets
//     Manager over TLS a 2 ms round trip away, the provided.al2023 trust
//     store, the real Runtime Interface Emulator, one emulator per cold
//     start; keygate (also in a rotation's grace window, and with the
//     system trust store) against the naive Go floor, the hand-written
//     function, and the Python and Node.js ports of the seed;
//   - warm invocations in the same runs, against the hand-written function;
//   - bootstrap size, the in-process invocation benchmarks, and the local
//     server's throughput against the seed's Flask app under gunicorn.
//
// `make bench` runs it; `make bench-smoke` runs it with -smoke (every step
// once, tiny counts, numbers meaningless) so that it cannot rot. It exits 0
// when every measurement was made, whether or not the goals were met (a
// missed goal is marked in the table), and 1 when one could not be made.
// It writes the table as JSON too (-json), and into a Markdown file
// between two markers (-docs).
//
// The model needs root; without it benchtable fails, saying so. Everything
// it starts or creates (processes, namespaces, devices, mounts, files) is
// gone when it exits, on failure and on an interrupt too.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	samples "github.com/keygate/keygate/events"

	"github.com/keygate/keygate/test/internal/repo"

	"github.com/keygate/keygate/test/bench"
)

type options struct {
	root, venv, python, node string
	runs, warm               int
	rtt                      time.Duration
	load                     time.Duration
	conns                    int
	// throughput runs per server, in turn; the best counts
	loadRounds int
	benchtime  string
	rounds     int
	smoke      bool
	keygate    string
	logs       bool
	json, docs string
	command    string
}

func main() {
	var o options
	flag.StringVar(&o.root, "root", "", "repository root (default: found from the working directory)")
	flag.StringVar(&o.venv, "venv", "", "Python virtual environment with flask and gunicorn (default: <root>/bin/bench/venv)")
	flag.StringVar(&o.python, "python", "", "Python virtual environment of the Python port, test/bench/python/requirements.txt (default: <root>/bin/bench/python)")
	flag.StringVar(&o.node, "node", "", "npm ci of test/bench/node, the Node.js port (default: <root>/bin/bench/node)")
	flag.IntVar(&o.runs, "runs", 21, "cold starts per function in the model (the median is reported)")
	flag.IntVar(&o.warm, "warm", 30, "warm invocations of each event after each cold start")
	flag.DurationVar(&o.rtt, "rtt", 2*time.Millisecond, "round-trip time of the model's link between the function and Secrets Manager")
	flag.DurationVar(&o.load, "load", 5*time.Second, "duration of each throughput run (whole seconds; under 1s, a run of 2000 requests)")
	flag.IntVar(&o.conns, "conns", 32, "concurrent connections of the load generator")
	flag.IntVar(&o.loadRounds, "load-rounds", 2, "throughput runs per server, taken in turn (the best is reported)")
	flag.StringVar(&o.benchtime, "benchtime", "500ms", "run time of each in-process benchmark run (as go test -benchtime)")
	flag.IntVar(&o.rounds, "rounds", 3, "in-process benchmark runs per handler (the median is reported)")
	flag.StringVar(&o.keygate, "keygate", "", "measure this prebuilt bootstrap instead of building ./cmd/api (to compare builds; sizes are of the build)")
	flag.BoolVar(&o.logs, "logs", false, "print the emulator's and functions' output of every cold start to stderr")
	flag.BoolVar(&o.smoke, "smoke", false, "run every step with tiny counts, to check the program works (numbers are meaningless)")
	flag.StringVar(&o.json, "json", "", "write the table's rows as a JSON array here (default: <root>/bin/bench/results.json, or results-smoke.json with -smoke)")
	flag.StringVar(&o.docs, "docs", "", "also write the report into this Markdown file, between the lines "+docsBegin+" and "+docsEnd)
	flag.StringVar(&o.command, "command", "", "the command that ran this, for the report's header (the Makefile passes its target)")
	flag.Parse()
	if o.smoke {
		o.runs, o.warm, o.load, o.loadRounds, o.benchtime, o.rounds = 1, 1, 200*time.Millisecond, 1, "1x", 1
	}
	o.command = commandLine(o.command, os.Args[1:])
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	load := loadAverage() // before this program adds to it
	if err := modelPrerequisites(); err != nil {
		return err // before minutes of building
	}
	if o.root == "" {
		root, err := repo.Root()
		if err != nil {
			return err
		}
		o.root = root
	}
	defaults := map[*string]string{
		&o.venv:   filepath.Join(o.root, "bin", "bench", "venv"),
		&o.python: filepath.Join(o.root, "bin", "bench", "python"),
		&o.node:   filepath.Join(o.root, "bin", "bench", "node"),
		&o.json:   filepath.Join(o.root, "bin", "bench", "results.json"),
	}
	if o.smoke {
		defaults[&o.json] = filepath.Join(o.root, "bin", "bench", "results-smoke.json")
	}
	for p, d := range defaults {
		if *p == "" {
			*p = d
		}
	}
	// Children run in other directories: relative paths would break.
	for _, p := range []*string{&o.root, &o.venv, &o.python, &o.node, &o.keygate, &o.json, &o.docs} {
		if *p == "" {
			continue
		}
		abs, err := filepath.Abs(*p)
		if err != nil {
			return err
		}
		*p = abs
	}
	if o.runs < 1 || o.warm < 1 || o.conns < 1 || o.rounds < 1 {
		return fmt.Errorf("-runs, -warm, -conns and -rounds must be at least 1")
	}
	if o.docs != "" {
		// Fail before the run, not after it, on a file without markers.
		if _, err := spliceDocs(o.docs, nil, true); err != nil {
			return err
		}
	}
	evs, err := bench.Events()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "keygate-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	start := time.Now()
	step := func(s string) { fmt.Fprintf(os.Stderr, "benchtable: [%5.1fs] %s\n", time.Since(start).Seconds(), s) }
	t := &table{}
	t.header = header(o, load, start)

	step("building the bootstraps, the emulator and the local server")
	bins, err := buildAll(ctx, o.root, tmp)
	if err != nil {
		return err
	}
	if o.keygate != "" {
		bins.keygate = o.keygate
	}
	t.size(bins)

	step("setting up the cold-start model (namespaces, delayed link, Secrets Manager over TLS, the AL2023 trust store)")
	m, err := newModel(filepath.Join(tmp, "model"), o.rtt)
	if err != nil {
		return err
	}
	defer m.Close()
	fns, skipped, err := functions(o, bins, m.trust, evs, tmp)
	if err != nil {
		return err
	}
	env, err := modelEnv(tmp)
	if err != nil {
		return err
	}
	wrong, err := event("rest-wrong-key.json")
	if err != nil {
		return err
	}
	step(fmt.Sprintf("cold starts in the model: %d per function, %d functions, %d warm invocations of each event after each", o.runs, len(fns), o.warm))
	cold, err := coldStarts(ctx, m, bins.rie, fns, wrong, env, o, step)
	if err != nil {
		return err
	}
	t.cold(cold, fns, skipped, m, o)

	step("in-process invocation benchmarks")
	t.inProcess(inProcess(evs, o.benchtime, o.rounds))
	step("what a key's rules cost (in process)")
	t.rules(rulesBench(evs, o.rounds))

	step(fmt.Sprintf("throughput: %d connections for %s per server", o.conns, o.load))
	thr, err := throughput(ctx, bins, o, tmp)
	if err != nil {
		return err
	}
	t.throughput(thr)
	t.notes = append(t.notes, runNote(o))

	step("done")
	var report bytes.Buffer
	t.print(&report)
	os.Stdout.Write(report.Bytes())
	var js bytes.Buffer
	if err := t.writeJSON(&js); err != nil {
		return err
	}
	if err := writeFile(o.json, js.Bytes()); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "benchtable: wrote %s\n", o.json)
	if o.docs != "" {
		if _, err := spliceDocs(o.docs, report.Bytes(), false); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "benchtable: wrote the report into %s\n", o.docs)
	}
	return nil
}

// event returns the sample event called name (events/).
func event(name string) (samples.Event, error) {
	all, err := samples.All()
	if err != nil {
		return samples.Event{}, err
	}
	for _, ev := range all {
		if ev.Name == name {
			return ev, nil
		}
	}
	return samples.Event{}, fmt.Errorf("no events/%s", name)
}

// header is what the report says about the run above its table.
func header(o options, load string, start time.Time) []string {
	var h []string
	title := fmt.Sprintf("keygate performance — %s, commit %s", start.UTC().Format("2006-01-02"), commit(o.root))
	h = append(h, title, "")
	if o.smoke {
		h = append(h, "SMOKE RUN (-smoke): every step ran once with tiny counts; the numbers mean nothing.", "")
	}
	h = append(h,
		fmt.Sprintf("Machine: %s; 1-minute load average at start: %s.  ", machine(), load),
		fmt.Sprintf("Command: %s.", o.command))
	return h
}

// commit is HEAD's short hash, with "+dirty" when the work tree has
// changes git would show.
func commit(root string) string {
	out, err := exec.Command("git", "-C", root, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown (not a git checkout)"
	}
	c := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "-C", root, "status", "--porcelain").Output(); err != nil || len(bytes.TrimSpace(st)) > 0 {
		c += "+dirty"
	}
	return c
}

// machine describes where the numbers were taken.
func machine() string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range splitLines(string(b)) {
			if k, v, ok := cut(line, ":"); ok && k == "model name" {
				cpu = v
				break
			}
		}
	}
	return fmt.Sprintf("%s, %d cores, %s/%s, %s", cpu, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version())
}

// loadAverage is the machine's 1-minute load average.
func loadAverage() string {
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			return f[0]
		}
	}
	return "unknown"
}

// commandLine is how the report names the run: the Makefile's target, if
// it passed one with -command, and the program's own flags.
func commandLine(target string, args []string) string {
	var own []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "-command" || a == "--command" {
			i++ // and its value
			continue
		}
		if strings.HasPrefix(a, "-command=") || strings.HasPrefix(a, "--command=") {
			continue
		}
		own = append(own, a)
	}
	c := strings.TrimSpace("go run ./bench/cmd/benchtable " + strings.Join(own, " "))
	if target == "" {
		return "`" + c + "`, in test/"
	}
	return "`" + target + "` (in test/: `" + c + "`)"
}

// runNote says how much was measured, under the table.
func runNote(o options) string {
	length := o.load.String()
	if o.load < time.Second {
		length = fmt.Sprint(smokeRequests, " requests")
	}
	return fmt.Sprintf("Counts: %d cold starts per function in the model, interleaved (the order rotates every round), one emulator each, %d warm invocations of each event after each; in-process: median of %d runs of %s each; load: bombardier, %d connections × %s per server, best of %d runs taken in turn.",
		o.runs, o.warm, o.rounds, o.benchtime, o.conns, length, max(o.loadRounds, 1))
}
