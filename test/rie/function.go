package rie

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/keygate/keygate/test/internal/proc"
)

// Options configure one execution environment.
type Options struct {
	// Env is added to the bootstrap's environment (NAME=value), after the
	// defaults, so it can override them (AWS_REGION, for example).
	Env []string
	// MaxConcurrency > 0 runs the emulator in its multi-concurrency mode
	// (Lambda Managed Instances, AWS_LAMBDA_MAX_CONCURRENCY): it starts the
	// bootstrap at once and serves that many invocations in parallel.
	// That mode only runs a bootstrap found at /var/task/bootstrap (or
	// /var/runtime, /opt), so Start runs it in a private mount namespace
	// where a tmpfs on /var holds a copy: Linux with mount namespaces
	// (as root, or unprivileged user namespaces) and util-linux mount.
	MaxConcurrency int
	// Output, when set, receives the emulator's and the function's output
	// as it arrives, and the Function keeps only the first 64 KiB of it for
	// Logs (enough for a start-up's diagnostics): for runs so long that
	// keeping everything would fill the test's memory (the soak). Lines
	// may arrive in pieces.
	Output io.Writer
}

// Function is one running emulator and, after its first invocation (or at
// once with MaxConcurrency), the bootstrap it runs.
type Function struct {
	// URL is the emulator's base URL, http://127.0.0.1:<port>.
	URL string

	t      testing.TB
	cmd    *exec.Cmd
	out    *proc.Output
	marker string
	done   chan struct{}
	stop   sync.Once
}

// InvokePath is the emulator's invocation endpoint (the Lambda Invoke API).
const InvokePath = "/2015-03-31/functions/function/invocations"

// markerVar tags every process of one Function through its environment
// (which the emulator hands down to the bootstrap), so Stop finds them all
// even after the emulator died and its children were re-parented.
const markerVar = "KEYGATE_RIE_INSTANCE"

// Defaults for the bootstrap's environment. The credentials are dummies:
// the SDK signs requests to a local endpoint with them, and they keep it
// from looking anywhere else (files, IMDS) for real ones.
var defaultEnv = []string{
	"PATH=/usr/local/bin:/usr/bin:/bin",
	"AWS_REGION=us-east-1",
	"AWS_DEFAULT_REGION=us-east-1",
	"AWS_ACCESS_KEY_ID=AKIDKEYGATETESTONLY",
	"AWS_SECRET_ACCESS_KEY=keygate-test-secret-not-a-real-one",
	"AWS_EC2_METADATA_DISABLED=true",
	"AWS_LAMBDA_FUNCTION_NAME=keygate",
	"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128",
	// The emulator ends an invocation that runs longer (seconds).
	"AWS_LAMBDA_FUNCTION_TIMEOUT=30",
	// A race-detector build stops at the first race, and the log says so.
	"GORACE=halt_on_error=1",
}

// Start runs the emulator for bootstrap on free loopback ports and returns
// once it accepts invocations. The test's cleanup stops it (Stop). On
// failure to start, Start fails the test with the emulator's output.
func Start(t testing.TB, bootstrap string, opt Options) *Function {
	t.Helper()
	emulator := Emulator(t)
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatalf("rie: %v", err)
	}
	env := append([]string{
		"HOME=" + dir,
		// The developer's ~/.aws must not leak into the function.
		"AWS_CONFIG_FILE=" + empty,
		"AWS_SHARED_CREDENTIALS_FILE=" + empty,
	}, defaultEnv...)
	if opt.MaxConcurrency > 0 {
		env = append(env, "AWS_LAMBDA_MAX_CONCURRENCY="+strconv.Itoa(opt.MaxConcurrency))
	}
	env = append(env, opt.Env...)

	// Free ports can be taken between probing and binding: retry then.
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		f, err := start(t, emulator, bootstrap, dir, env, opt)
		if err == nil {
			return f
		}
		lastErr = err
		if !errors.Is(err, errAddrInUse) {
			break
		}
	}
	t.Fatalf("rie: %v", lastErr)
	return nil
}

var errAddrInUse = errors.New("address already in use")

func start(t testing.TB, emulator, bootstrap, dir string, env []string, opt Options) (*Function, error) {
	multi := opt.MaxConcurrency
	ports, err := proc.FreePorts(2)
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(ports[0])
	f := &Function{
		URL:    "http://" + addr,
		t:      t,
		out:    &proc.Output{},
		marker: newMarker(),
		done:   make(chan struct{}),
	}
	// Its own level (LOG_LEVEL in Env is for the function). The
	// multi-concurrency mode logs its INIT REPORT and the runtime's /next
	// polls only at debug level (and never payloads at any level).
	level := "info"
	if multi > 0 {
		level = "debug"
	}
	args := []string{
		"--log-level", level,
		"--runtime-interface-emulator-address", addr,
		"--runtime-api-address", "127.0.0.1:" + strconv.Itoa(ports[1]),
		bootstrap,
	}
	// Pdeathsig: if the test binary itself is killed, so is the emulator
	// (and then the bootstrap, whose Runtime API connection breaks).
	attr := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if multi > 0 {
		f.cmd = inPrivateVar(attr, emulator, bootstrap, args)
	} else {
		f.cmd = exec.Command(emulator, args...)
	}
	f.cmd.SysProcAttr = attr
	f.cmd.Dir = dir
	f.cmd.Env = append(append([]string{}, env...), markerVar+"="+f.marker)
	var out io.Writer = f.out
	if opt.Output != nil {
		out = io.MultiWriter(&prefix{w: f.out, room: 64 << 10}, opt.Output)
	}
	f.cmd.Stdout, f.cmd.Stderr = out, out
	// The bootstrap inherits the output pipe; do not wait for it forever.
	f.cmd.WaitDelay = 2 * time.Second
	if err := f.cmd.Start(); err != nil {
		if multi > 0 {
			return nil, fmt.Errorf("starting the emulator in a private mount namespace (MaxConcurrency needs root or unprivileged user namespaces): %w", err)
		}
		return nil, fmt.Errorf("starting the emulator: %w", err)
	}
	go func() {
		_ = f.cmd.Wait()
		close(f.done)
	}()
	t.Cleanup(func() {
		f.Stop()
		logs := f.Logs()
		if strings.Contains(logs, "WARNING: DATA RACE") {
			t.Errorf("rie: the function reported a data race:\n%s", logs)
		} else if t.Failed() {
			t.Logf("rie: function output (%s):\n%s", bootstrap, logs)
		}
	})
	if err := f.waitReady(addr, multi); err != nil {
		f.Stop()
		if strings.Contains(f.Logs(), "address already in use") {
			return nil, errAddrInUse
		}
		return nil, fmt.Errorf("%w; emulator output:\n%s", err, f.Logs())
	}
	return f, nil
}

// waitReady polls until the emulator accepts connections and, in the
// multi-concurrency mode (which initializes at once and rejects, rather
// than queues, invocations it has no idle runtime for), until all workers
// wait for work. The bound only keeps a broken setup from hanging the suite.
func (f *Function) waitReady(addr string, workers int) error {
	deadline := time.Now().Add(30 * time.Second)
	listening := false
	for time.Now().Before(deadline) {
		select {
		case <-f.done:
			return errors.New("the emulator exited before it was ready")
		default:
		}
		if !listening {
			conn, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				conn.Close()
				listening = true
			}
		}
		if listening {
			logs := f.Logs()
			switch {
			case workers == 0 || strings.Count(logs, "InvokeRouter: received runtime /next") >= workers:
				return nil
			case strings.Contains(logs, "INIT failed"):
				return errors.New("the function's initialization failed")
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return errors.New("the emulator was not ready within 30s")
}

// Invoke sends payload as one invocation and returns the function's
// response. Without a deadline in ctx the call is bounded by one minute.
// A non-2xx answer from the emulator (for example a crashed runtime) is an
// error that carries the answer.
func (f *Function) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Minute)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.URL+InvokePath, bytes.NewReader(payload))
	if err != nil {
		return nil, fmt.Errorf("invoke: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("invoke: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("invoke: reading the answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		return body, fmt.Errorf("invoke: emulator answered %s: %s", resp.Status, body)
	}
	return body, nil
}

// Logs returns everything the emulator and the bootstrap wrote so far,
// stdout and stderr interleaved: the function's JSON log lines and the
// emulator's own lines (START, INIT REPORT, END, REPORT…). Output reaches
// it through a pipe, a little after the invocation that caused it: use
// WaitLog to wait for a line. With Options.Output set it holds only the
// output's first 64 KiB.
func (f *Function) Logs() string { return f.out.String() }

// WaitLog waits until the output contains substr, ctx ends (default bound:
// 30s) or the emulator exits.
func (f *Function) WaitLog(ctx context.Context, substr string) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
	}
	for {
		if strings.Contains(f.Logs(), substr) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %q in the function's output: %w", substr, ctx.Err())
		case <-f.done:
			if strings.Contains(f.Logs(), substr) {
				return nil
			}
			return fmt.Errorf("waiting for %q in the function's output: the emulator exited", substr)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

var initReport = regexp.MustCompile(`INIT REPORT\([^)]*?durationMs: ([0-9.]+)`)

// InitDurations returns the duration (ms) of every bootstrap initialization
// so far, from the emulator's "INIT REPORT(… durationMs: X" lines: one per
// cold start, so more than one means the runtime was restarted.
func (f *Function) InitDurations() []float64 {
	var ds []float64
	for _, m := range initReport.FindAllStringSubmatch(f.Logs(), -1) {
		d, err := strconv.ParseFloat(m[1], 64)
		if err == nil {
			ds = append(ds, d)
		}
	}
	return ds
}

// Stop kills the emulator and every process it started, and waits for the
// emulator to exit. It is safe to call more than once; the test's cleanup
// calls it too.
func (f *Function) Stop() {
	f.stop.Do(func() {
		// The bootstrap first: killed after the emulator, it would log
		// its lost Runtime API connection. Rescan: the emulator may start
		// a bootstrap while we kill.
		emulator := f.cmd.Process.Pid
		for i := 0; i < 10; i++ {
			pids := marked(f.marker)
			if len(pids) == 0 {
				break
			}
			for _, pid := range pids {
				if pid != emulator {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
			if len(pids) == 1 && pids[0] == emulator {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		_ = syscall.Kill(-f.cmd.Process.Pid, syscall.SIGKILL)
		<-f.done
	})
}

// Pids returns the live processes of this Function (the emulator and the
// bootstrap), for tests that check nothing outlives Stop.
func (f *Function) Pids() []int { return marked(f.marker) }

// marked returns the live processes whose environment holds the marker.
func marked(marker string) []int {
	want := []byte(markerVar + "=" + marker)
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		environ, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil {
			continue // gone, a zombie, or not ours
		}
		for _, kv := range bytes.Split(environ, []byte{0}) {
			if bytes.Equal(kv, want) {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

func newMarker() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// prefix keeps the first room bytes written to it and drops the rest.
type prefix struct {
	w    io.Writer
	room int
}

func (p *prefix) Write(b []byte) (int, error) {
	if n := min(len(b), p.room); n > 0 {
		p.room -= n
		_, _ = p.w.Write(b[:n])
	}
	return len(b), nil
}
