// Command benchtable measures keygate against its baselines, side by side
// in one run, and prints one table (README "Performance"): cold start and
// warm invocation through the Runtime Interface Emulator against a
// hello-world aws-lambda-go bootstrap built with the same flags, bootstrap
// size, peak memory, the in-process invocation benchmarks against a
// hand-written handler, and the local server's throughput against the
// seed's Flask app under gunicorn.
//
// `make bench` runs it; `make bench-smoke` runs it with -smoke (every step
// once, tiny counts, numbers meaningless) so that it cannot rot. It exits 0
// when every measurement was made, whether or not the goals were met (a
// missed goal is marked in the table), and 1 when one could not be made.
//
// Everything it starts listens on 127.0.0.1 and is stopped before it exits.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/keygate/keygate/test/internal/repo"

	"github.com/keygate/keygate/test/bench"
)

type options struct {
	root  string
	venv  string
	runs  int
	warm  int
	load  time.Duration
	conns int
	// throughput runs per server, in turn; the best counts
	loadRounds int
	benchtime  string
	rounds     int
	smoke      bool
	keygate    string
	logs       bool
}

func main() {
	var o options
	flag.StringVar(&o.root, "root", "", "repository root (default: found from the working directory)")
	flag.StringVar(&o.venv, "venv", "", "Python virtual environment with flask and gunicorn (default: <root>/bin/bench/venv)")
	flag.IntVar(&o.runs, "runs", 21, "cold starts per function (the median is reported)")
	flag.IntVar(&o.warm, "warm", 30, "warm invocations after each cold start")
	flag.DurationVar(&o.load, "load", 5*time.Second, "duration of each throughput run (whole seconds; under 1s, a run of 2000 requests)")
	flag.IntVar(&o.conns, "conns", 32, "concurrent connections of the load generator")
	flag.IntVar(&o.loadRounds, "load-rounds", 2, "throughput runs per server, taken in turn (the best is reported)")
	flag.StringVar(&o.benchtime, "benchtime", "500ms", "run time of each in-process benchmark run (as go test -benchtime)")
	flag.IntVar(&o.rounds, "rounds", 3, "in-process benchmark runs per handler (the median is reported)")
	flag.StringVar(&o.keygate, "keygate", "", "measure this prebuilt bootstrap instead of building ./cmd/api (to compare builds; sizes are of the build)")
	flag.BoolVar(&o.logs, "logs", false, "print the emulator's and functions' output of every cold start to stderr")
	flag.BoolVar(&o.smoke, "smoke", false, "run every step with tiny counts, to check the program works (numbers are meaningless)")
	flag.Parse()
	if o.smoke {
		o.runs, o.warm, o.load, o.loadRounds, o.benchtime, o.rounds = 1, 2, 200*time.Millisecond, 1, "1x", 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	if o.root == "" {
		root, err := repo.Root()
		if err != nil {
			return err
		}
		o.root = root
	}
	if o.venv == "" {
		o.venv = filepath.Join(o.root, "bin", "bench", "venv")
	}
	// Children run in a temporary directory: relative paths would break.
	for _, p := range []*string{&o.root, &o.venv, &o.keygate} {
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

	step("building the bootstraps, the emulator and the local server")
	bins, err := buildAll(ctx, o.root, tmp)
	if err != nil {
		return err
	}
	if o.keygate != "" {
		bins.keygate = o.keygate
		if fi, err := os.Stat(o.keygate); err == nil {
			s := bins.sizes[runtime.GOARCH]
			s[0] = fi.Size()
			bins.sizes[runtime.GOARCH] = s
		}
	}
	t := &table{machine: machine(), smoke: o.smoke, opts: o}
	t.size(bins)

	step(fmt.Sprintf("cold starts: %d per function, %d warm invocations each", o.runs, o.warm))
	sm, err := newSecretStore(bench.ExampleKey)
	if err != nil {
		return err
	}
	defer sm.Close()
	cold, err := coldStarts(ctx, bins, sm, evs, o, tmp)
	if err != nil {
		return err
	}
	t.cold(cold)

	step("in-process invocation benchmarks")
	t.inProcess(inProcess(evs, o.benchtime, o.rounds))

	step(fmt.Sprintf("throughput: %d connections for %s per server", o.conns, o.load))
	thr, err := throughput(ctx, bins, o, tmp)
	if err != nil {
		return err
	}
	t.throughput(thr)

	step("done")
	t.print(os.Stdout)
	return nil
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
	load := "unknown"
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			load = f[0]
		}
	}
	return fmt.Sprintf("%s, %d cores, %s/%s, %s (1-minute load average at start: %s)", cpu, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version(), load)
}
