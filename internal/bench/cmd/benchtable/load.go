package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/keygate/keygate/internal/bench"
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

// maxRequests bounds a run whatever its duration.
const maxRequests = 5_000_000

// throughput loads `make run`'s server (the cmd/local binary) and the
// seed's Flask app under gunicorn, one after the other, with the same load
// generator: o.conns keep-alive connections for o.load, each request
// carrying the right key and checked for 200.
func throughput(ctx context.Context, bins binaries, o options, dir string) (throughputResult, error) {
	res := throughputResult{workers: runtime.NumCPU()}
	gunicorn := filepath.Join(o.venv, "bin", "gunicorn")
	if _, err := os.Stat(gunicorn); err != nil {
		return res, fmt.Errorf("no gunicorn in %s: `make bench` installs flask and gunicorn there (pip install -r internal/bench/flask/requirements.txt)", o.venv)
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
				"--chdir", filepath.Join(o.root, "internal", "bench", "flask"), "--log-level", "warning", "app:app")
			return c
		}},
	}
	for _, s := range servers {
		r, err := loadServer(ctx, s.cmd, o, dir)
		if err != nil {
			return res, fmt.Errorf("%s: %w", s.name, err)
		}
		*s.out = r
	}
	return res, nil
}

func loadServer(ctx context.Context, mk func(addr string) *exec.Cmd, o options, dir string) (loadResult, error) {
	ports, err := freePorts(1)
	if err != nil {
		return loadResult{}, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(ports[0])
	cmd := mk(addr)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + dir, "API_KEY=" + bench.ExampleKey}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// keygate's request log goes to stdout: it is written (part of the
	// cost) but not kept.
	errs := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = io.Discard, errs
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
	// A short warm-up (connections, worker start) that is not counted.
	if _, err := loadRun(ctx, url, o.conns, min(o.load/5, time.Second)); err != nil {
		return loadResult{}, err
	}
	return loadRun(ctx, url, o.conns, o.load)
}

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

// loadRun is the load generator: conns workers, each on its own keep-alive
// connection, sending requests back to back until d has passed (or
// maxRequests were sent).
func loadRun(ctx context.Context, url string, conns int, d time.Duration) (loadResult, error) {
	tr := &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	defer tr.CloseIdleConnections()

	var (
		mu    sync.Mutex
		lats  []time.Duration
		fails []error
		sent  int
		wg    sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(d)
	for w := 0; w < conns; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := mustRequest(ctx, url)
			mine := make([]time.Duration, 0, 4096)
			var err error
			for n := 0; n < maxRequests/conns && time.Now().Before(deadline) && ctx.Err() == nil; n++ {
				t0 := time.Now()
				var status int
				status, err = get(client, req)
				if err == nil && status != http.StatusOK {
					err = fmt.Errorf("answered %d, want 200", status)
				}
				if err != nil {
					break
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			defer mu.Unlock()
			lats = append(lats, mine...)
			sent += len(mine)
			if err != nil {
				fails = append(fails, err)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if len(fails) > 0 {
		return loadResult{}, fmt.Errorf("load: %w", errors.Join(fails...))
	}
	if ctx.Err() != nil {
		return loadResult{}, ctx.Err()
	}
	if len(lats) == 0 {
		return loadResult{}, errors.New("load: no request completed")
	}
	slices.Sort(lats)
	return loadResult{
		rps:      float64(sent) / elapsed.Seconds(),
		p50:      ms(percentile(lats, 50)),
		p99:      ms(percentile(lats, 99)),
		requests: sent,
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

// percentile of sorted values, nearest rank.
func percentile[T any](sorted []T, p int) T {
	i := (len(sorted)*p + 99) / 100
	return sorted[max(0, min(len(sorted)-1, i-1))]
}
