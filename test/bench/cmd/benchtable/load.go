package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"github.com/keygate/keygate/test/internal/proc"

	"github.com/keygate/keygate/test/bench"
)

// loadResult is one server's throughput run.
type loadResult struct {
	rps      float64 // authorized answers per second
	p50, p99 float64 // ms
	requests int
}

type throughputResult struct {
	keygate, flask loadResult
	workers        int // gunicorn workers (= cores)
}

// throughput loads `make run`'s server (the cmd/local binary) and the
// seed's Flask app under gunicorn, one after the other, with the same load
// generator (loadRun), o.loadRounds times in turn, and keeps each one's best
// run: on two shared cores a stray process costs a run thousands of
// requests per second, and it costs whichever server happens to be running.
func throughput(ctx context.Context, bins binaries, o options, dir string) (throughputResult, error) {
	res := throughputResult{workers: runtime.NumCPU()}
	gunicorn := filepath.Join(o.venv, "bin", "gunicorn")
	if _, err := os.Stat(gunicorn); err != nil {
		return res, fmt.Errorf("no gunicorn in %s: `make bench` installs flask and gunicorn there (pip install -r test/bench/flask/requirements.txt)", o.venv)
	}
	servers := []struct {
		name string
		out  *loadResult
		cmd  func(addr string) *exec.Cmd
	}{
		{"keygate local server", &res.keygate, func(addr string) *exec.Cmd {
			return exec.CommandContext(ctx, bins.local, "-addr", addr)
		}},
		{"Flask under gunicorn", &res.flask, func(addr string) *exec.Cmd {
			c := exec.CommandContext(ctx, gunicorn, "--workers", strconv.Itoa(res.workers), "--bind", addr,
				"--chdir", filepath.Join(o.root, "test", "bench", "flask"), "--log-level", "warning", "app:app")
			return c
		}},
	}
	for round := 0; round < max(o.loadRounds, 1); round++ {
		for _, s := range servers {
			r, err := loadServer(ctx, bins.bombardier, s.cmd, o, dir)
			if err != nil {
				return res, fmt.Errorf("%s: %w", s.name, err)
			}
			if r.rps > s.out.rps {
				*s.out = r
			}
		}
	}
	return res, nil
}

func loadServer(ctx context.Context, bombardier string, mk func(addr string) *exec.Cmd, o options, dir string) (loadResult, error) {
	ports, err := proc.FreePorts(1)
	if err != nil {
		return loadResult{}, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(ports[0])
	cmd := mk(addr)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + dir, "API_KEY=" + bench.ExampleKey}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// keygate's request log goes to stdout: it is written (part of the
	// cost) to /dev/null (a nil Stdout), not through a pipe this process
	// would have to drain on the cores the measurement shares.
	errs := &proc.Output{}
	cmd.Stdout, cmd.Stderr = nil, errs
	if err := cmd.Start(); err != nil {
		return loadResult{}, err
	}
	defer func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	}()
	url := "http://" + addr + "/"
	if err := waitServing(ctx, url); err != nil {
		return loadResult{}, fmt.Errorf("%w\n%s", err, errs.String())
	}
	// A short warm-up (connections, worker start) that is not counted;
	// a smoke run's numbers are not read.
	if !o.smoke {
		if _, err := loadRun(ctx, bombardier, url, o.conns, 0); err != nil {
			return loadResult{}, err
		}
	}
	return loadRun(ctx, bombardier, url, o.conns, o.load)
}

// smokeRequests is the length of a warm-up or -smoke run.
const smokeRequests = 2000

func waitServing(ctx context.Context, url string) error {
	client := &http.Client{Timeout: time.Second}
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if status, err := get(client, mustRequest(ctx, url)); err == nil && status == http.StatusOK {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s did not answer 200 within 20s", url)
}

// loadRun is the load generator: bombardier (a Go tool declared in
// go.mod), conns keep-alive connections sending requests back to back for
// d, each with the right key. Any answer but 200 fails the run. bombardier
// runs for whole seconds only: under a second, a run is of smokeRequests
// requests instead.
func loadRun(ctx context.Context, bombardier, url string, conns int, d time.Duration) (loadResult, error) {
	length := []string{"--duration", d.String()}
	if d < time.Second {
		length = []string{"--requests", strconv.Itoa(smokeRequests)}
	}
	args := append([]string{"--connections", strconv.Itoa(conns), "--latencies",
		"--header", "x-api-key: " + bench.ExampleKey, "--print", "result", "--format", "json"}, length...)
	cmd := exec.CommandContext(ctx, bombardier, append(args, url)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return loadResult{}, fmt.Errorf("bombardier: %w: %s%s", err, out, stderr.Bytes())
	}
	var r struct {
		Result struct {
			Seconds                                       float64 `json:"timeTakenSeconds"`
			Req1xx, Req2xx, Req3xx, Req4xx, Req5xx, Other int
			Errors                                        []struct {
				Description string
				Count       int
			}
			Latency struct {
				Percentiles map[string]float64 // µs
			}
		}
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return loadResult{}, fmt.Errorf("bombardier's output: %w: %s", err, out)
	}
	res := r.Result
	if bad := res.Req1xx + res.Req3xx + res.Req4xx + res.Req5xx + res.Other; bad > 0 || len(res.Errors) > 0 || res.Req2xx == 0 {
		return loadResult{}, fmt.Errorf("load: %d answers were 200, %d were not (errors: %+v)", res.Req2xx, bad, res.Errors)
	}
	return loadResult{
		rps:      float64(res.Req2xx) / res.Seconds,
		p50:      res.Latency.Percentiles["50"] / 1000,
		p99:      res.Latency.Percentiles["99"] / 1000,
		requests: res.Req2xx,
	}, nil
}

func mustRequest(ctx context.Context, url string) *http.Request {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		panic(err) // url is built from a loopback address and port
	}
	req.Header.Set("X-Api-Key", bench.ExampleKey)
	return req
}

func get(client *http.Client, req *http.Request) (int, error) {
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, err
}
