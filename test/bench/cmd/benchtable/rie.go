package main

import (
	"bytes"
	"context"
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
	"syscall"
	"time"

	"github.com/keygate/keygate/test/internal/proc"

	samples "github.com/keygate/keygate/events"

	"github.com/keygate/keygate/internal/frontdoor"
	"github.com/keygate/keygate/test/bench"
)

// coldResult collects one function's numbers over all its cold starts.
type coldResult struct {
	init       []float64 // ms, INIT REPORT durationMs, one per cold start
	first      []float64 // ms, client round trip of the first invocation (init + invoke)
	warm       []float64 // ms, REPORT Duration of the warm invocations
	warmClient []float64 // ms, client round trip of the warm invocations
	hwm        []float64 // MB, the bootstrap's VmHWM at the end of each run
}

const invokePath = "/2015-03-31/functions/function/invocations"

var (
	initReport   = regexp.MustCompile(`INIT REPORT\((?:[^)]*?)durationMs: ([0-9.]+)`)
	invokeReport = regexp.MustCompile(`REPORT RequestId: \S+\t(?:Init Duration: [0-9.]+ ms\t)?Duration: ([0-9.]+) ms`)
)

// coldStarts starts each function (keygate, the hello-world, the
// hand-written direct function and the two floors) o.runs times, one
// emulator process per cold start, rotating which goes first so that none
// always runs on a warmer machine. All get the same environment: all but
// hello read their key from sm.
func coldStarts(ctx context.Context, bins binaries, sm *secretStore, evs map[frontdoor.Kind]samples.Event, o options, dir string) (map[string]*coldResult, error) {
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		return nil, err
	}
	env := append(sm.Env(),
		"PATH=/usr/local/bin:/usr/bin:/bin",
		"HOME="+dir,
		// The pre-envclient bootstrap read shared config: keep the
		// machine's own out of the measurement.
		"AWS_CONFIG_FILE="+empty,
		"AWS_SHARED_CREDENTIALS_FILE="+empty,
		"AWS_EC2_METADATA_DISABLED=true",
		"API_KEY_SECRET_ID="+secretName,
		"AWS_LAMBDA_FUNCTION_NAME=keygate",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128",
		"AWS_LAMBDA_FUNCTION_TIMEOUT=30",
	)
	payload := evs[frontdoor.REST].Payload
	bin := map[string]string{"keygate": bins.keygate, "hello": bins.hello, "direct": bins.direct,
		"floor": bins.floorPlain, "floorsdk": bins.floorSDK}
	order := []string{"keygate", "hello", "direct", "floor", "floorsdk"}
	res := map[string]*coldResult{}
	for _, name := range order {
		res[name] = &coldResult{}
	}
	for i := 0; i < o.runs; i++ {
		for j := range order {
			name := order[(i+j)%len(order)]
			before := sm.Reads()
			logs, err := coldStart(ctx, bins.rie, bin[name], env, dir, payload, o.warm, res[name])
			if o.logs {
				fmt.Fprintf(os.Stderr, "--- %s, cold start %d:\n%s\n", name, i+1, logs)
			}
			if err != nil {
				return nil, fmt.Errorf("%s, cold start %d: %w", name, i+1, err)
			}
			if name != "hello" && sm.Reads() == before {
				return nil, fmt.Errorf("%s started without reading its secret: the measurement would not include the key fetch", name)
			}
		}
	}
	return res, nil
}

// coldStart runs one emulator process: one cold invocation, then warm ones.
func coldStart(ctx context.Context, rie, bootstrap string, env []string, dir string, payload []byte, warm int, res *coldResult) (string, error) {
	out := &proc.Output{}
	err := coldStartLogged(ctx, rie, bootstrap, env, dir, payload, warm, res, out)
	return out.String(), err
}

func coldStartLogged(ctx context.Context, rie, bootstrap string, env []string, dir string, payload []byte, warm int, res *coldResult, out *proc.Output) error {
	ports, err := proc.FreePorts(2)
	if err != nil {
		return err
	}
	addr := "127.0.0.1:" + strconv.Itoa(ports[0])
	cmd := exec.CommandContext(ctx, rie,
		"--log-level", "info",
		"--runtime-interface-emulator-address", addr,
		"--runtime-api-address", "127.0.0.1:"+strconv.Itoa(ports[1]),
		bootstrap)
	cmd.Env, cmd.Dir = env, dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the emulator: %w", err)
	}
	defer stopTree(cmd)
	if err := waitListening(ctx, addr, 10*time.Second); err != nil {
		return fmt.Errorf("%w\n%s", err, out.String())
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{}}
	defer client.CloseIdleConnections()

	for i := 0; i <= warm; i++ {
		t0 := time.Now()
		answer, err := invoke(ctx, client, "http://"+addr+invokePath, payload)
		took := ms(time.Since(t0))
		if err != nil {
			return fmt.Errorf("%w\n%s", err, out.String())
		}
		if status, err := bench.Status(answer); err != nil || status != 200 {
			return fmt.Errorf("the function answered %q, want statusCode 200\n%s", answer, out.String())
		}
		if i == 0 {
			res.first = append(res.first, took)
		} else {
			res.warmClient = append(res.warmClient, took)
		}
	}
	kb, err := peakRSS(cmd.Process.Pid)
	if err != nil {
		return err
	}
	res.hwm = append(res.hwm, float64(kb)/1024)
	// The emulator prints an invocation's REPORT after it has sent the
	// answer: wait for the last one.
	logs := out.String()
	for deadline := time.Now().Add(2 * time.Second); len(invokeReport.FindAllString(logs, -1)) < warm+1 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
		logs = out.String()
	}
	m := initReport.FindStringSubmatch(logs)
	if m == nil {
		return fmt.Errorf("no INIT REPORT in the emulator's output:\n%s", logs)
	}
	d, _ := strconv.ParseFloat(m[1], 64)
	res.init = append(res.init, d)
	reports := invokeReport.FindAllStringSubmatch(logs, -1)
	if len(reports) != warm+1 {
		return fmt.Errorf("%d REPORT lines for %d invocations:\n%s", len(reports), warm+1, logs)
	}
	for _, r := range reports[1:] {
		d, _ := strconv.ParseFloat(r[1], 64)
		res.warm = append(res.warm, d)
	}
	return nil
}

func invoke(ctx context.Context, client *http.Client, url string, payload []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("invoke: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("invoke: emulator answered %s (%v): %s", resp.Status, err, body)
	}
	return body, nil
}

// peakRSS is the high-water mark of resident memory (VmHWM) of the
// emulator's child, the bootstrap: the number Lambda's "Max Memory Used"
// approximates.
func peakRSS(rie int) (int64, error) {
	kids := children(rie)
	if len(kids) != 1 {
		return 0, fmt.Errorf("the emulator (pid %d) has %d children, want the one bootstrap", rie, len(kids))
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", kids[0]))
	if err != nil {
		return 0, err
	}
	for _, line := range splitLines(string(b)) {
		if k, v, ok := cut(line, ":"); ok && k == "VmHWM" {
			return strconv.ParseInt(strings.TrimSuffix(v, " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", kids[0])
}

// children lists the processes whose parent is pid.
func children(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	var kids []int
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so split after
		// its closing parenthesis.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			kids = append(kids, p)
		}
	}
	return kids
}

// stopTree kills the emulator's children, then the emulator's process
// group, and reaps it.
func stopTree(cmd *exec.Cmd) {
	for _, k := range children(cmd.Process.Pid) {
		_ = syscall.Kill(k, syscall.SIGKILL)
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	_ = cmd.Wait()
}

func waitListening(ctx context.Context, addr string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return fmt.Errorf("nothing listened on %s within %s", addr, limit)
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }
