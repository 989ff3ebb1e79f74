package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	samples "github.com/keygate/keygate/events"
	"github.com/keygate/keygate/internal/frontdoor"

	"github.com/keygate/keygate/test/internal/proc"

	"github.com/keygate/keygate/test/bench"
)

// function is one program the model cold-starts.
type function struct {
	key   string // short name: results, flags, logs
	label string // the table's name for it
	what  string // one line: what it is and how it is configured
	// command is the bootstrap and its arguments, as the emulator runs it.
	command []string
	dir     string   // its working directory: the task root
	env     []string // added to the model's environment
	// first is the cold invocation's event; warm are replayed after it,
	// -warm times each, one event after the other (none: the function is
	// measured cold only).
	first samples.Event
	warm  []samples.Event
}

// sample is one cold start of one function.
type sample struct {
	init   float64 // ms, the emulator's INIT REPORT durationMs: bootstrap start to its first /next
	first  float64 // ms, client round trip of the first invocation (the bootstrap starts at it)
	cpu    float64 // ms of CPU of the bootstrap's threads until its first answer (schedstat)
	minflt float64 // minor page faults until the first answer
	majflt float64
	hwm    float64 // MiB, peak RSS (VmHWM) at the end of the run
	// At the endpoint, until the first answer: GetSecretValue calls and
	// completed TLS handshakes.
	endpoint endpointCounts
}

// coldResult collects one function's numbers over all its cold starts.
type coldResult struct {
	samples []sample
	// by event name: REPORT Duration and client round trip of the warm
	// invocations, ms
	warm, warmClient map[string][]float64
}

func newColdResult() *coldResult {
	return &coldResult{warm: map[string][]float64{}, warmClient: map[string][]float64{}}
}

// of returns one figure of every sample.
func (r *coldResult) of(figure func(sample) float64) []float64 {
	var v []float64
	for _, s := range r.samples {
		v = append(v, figure(s))
	}
	return v
}

const invokePath = "/2015-03-31/functions/function/invocations"

var (
	initReport   = regexp.MustCompile(`INIT REPORT\((?:[^)]*?)durationMs: ([0-9.]+)`)
	invokeReport = regexp.MustCompile(`REPORT RequestId: \S+\t(?:Init Duration: [0-9.]+ ms\t)?Duration: ([0-9.]+) ms`)
)

// coldStarts cold-starts each function o.runs times in the model, one
// emulator process per cold start, rotating which goes first every round
// so that none always runs on a warmer machine. The first round also
// checks that each refuses a wrong key.
func coldStarts(ctx context.Context, m *model, rie string, fns []function, wrong samples.Event, env []string, o options, progress func(string)) (map[string]*coldResult, error) {
	res := map[string]*coldResult{}
	for _, f := range fns {
		res[f.key] = newColdResult()
	}
	for i := 0; i < o.runs; i++ {
		for j := range fns {
			f := fns[(i+j)%len(fns)]
			var check *samples.Event
			if i == 0 {
				check = &wrong
			}
			logs, err := m.coldStart(ctx, rie, f, env, o.warm, check, res[f.key])
			if o.logs {
				fmt.Fprintf(os.Stderr, "--- %s, cold start %d:\n%s\n", f.key, i+1, logs)
			}
			if err != nil {
				return nil, fmt.Errorf("%s, cold start %d: %w\n%s", f.label, i+1, err, logs)
			}
		}
		if progress != nil && (i+1)%7 == 0 && i+1 < o.runs {
			progress(fmt.Sprintf("cold starts: round %d of %d done", i+1, o.runs))
		}
	}
	return res, nil
}

// coldStart runs one emulator process in the model: one cold invocation,
// then the warm ones (the first event's block first, so that every
// function's REST invocations follow its cold start alike), then (when
// wrong is set) one that must be refused.
// It returns the emulator's and the function's output.
func (m *model) coldStart(ctx context.Context, rie string, f function, env []string, warm int, wrong *samples.Event, res *coldResult) (string, error) {
	ports, err := m.ports()
	if err != nil {
		return "", err
	}
	addr := "127.0.0.1:" + strconv.Itoa(ports[0])
	command := append([]string{rie, "--log-level", "info",
		"--runtime-interface-emulator-address", addr,
		"--runtime-api-address", "127.0.0.1:" + strconv.Itoa(ports[1])}, f.command...)
	before := m.ep.counts()
	p, err := m.start(command, f.dir, append(slices.Clone(env), f.env...))
	if err != nil {
		return "", err
	}
	defer stopTree(p)
	if err := m.waitListening(ctx, p, addr, 10*time.Second); err != nil {
		return p.Out.String(), err
	}
	client := m.client()
	defer client.CloseIdleConnections()
	url := "http://" + addr + invokePath

	t0 := time.Now()
	answer, err := invoke(ctx, client, url, f.first.Payload)
	var s sample
	s.first = ms(time.Since(t0))
	if err != nil {
		return p.Out.String(), err
	}
	// The bootstrap now waits in /next: take its counters before anything
	// else runs in it.
	pid, err := bootstrapPid(p.Cmd.Process.Pid)
	if err != nil {
		return p.Out.String(), err
	}
	st, err := readTask(pid)
	if err != nil {
		return p.Out.String(), err
	}
	s.cpu, s.minflt, s.majflt = st.cpu, st.minflt, st.majflt
	s.endpoint = m.ep.counts().since(before)
	if err := checkAnswer(f.first, answer); err != nil {
		return p.Out.String(), err
	}
	if s.endpoint.reads == 0 {
		return p.Out.String(), fmt.Errorf("answered without reading its secret: the cold start would not include the key fetch")
	}

	calls := 1
	for _, ev := range f.warm {
		for range warm {
			t0 := time.Now()
			answer, err := invoke(ctx, client, url, ev.Payload)
			took := ms(time.Since(t0))
			if err != nil {
				return p.Out.String(), err
			}
			if err := checkAnswer(ev, answer); err != nil {
				return p.Out.String(), err
			}
			res.warmClient[ev.Name] = append(res.warmClient[ev.Name], took)
			calls++
		}
	}
	if wrong != nil {
		answer, err := invoke(ctx, client, url, wrong.Payload)
		if err != nil {
			return p.Out.String(), err
		}
		if err := checkAnswer(*wrong, answer); err != nil {
			return p.Out.String(), err
		}
		calls++
	}
	if s.hwm, err = peakRSS(pid); err != nil {
		return p.Out.String(), err
	}
	// The emulator prints an invocation's REPORT after it has sent the
	// answer: wait for the last one.
	logs := p.Out.String()
	for deadline := time.Now().Add(3 * time.Second); len(invokeReport.FindAllString(logs, -1)) < calls && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
		logs = p.Out.String()
	}
	init, warmDurations, err := parseReports(logs, calls)
	if err != nil {
		return logs, err
	}
	s.init = init
	i := 0
	for _, ev := range f.warm {
		for range warm {
			res.warm[ev.Name] = append(res.warm[ev.Name], warmDurations[i])
			i++
		}
	}
	res.samples = append(res.samples, s)
	return logs, nil
}

// parseReports reads the emulator's output of one run of calls
// invocations: the INIT REPORT's duration and the REPORT Duration of each
// invocation after the first.
func parseReports(logs string, calls int) (init float64, warm []float64, err error) {
	m := initReport.FindStringSubmatch(logs)
	if m == nil {
		return 0, nil, fmt.Errorf("no INIT REPORT in the emulator's output")
	}
	init, _ = strconv.ParseFloat(m[1], 64)
	reports := invokeReport.FindAllStringSubmatch(logs, -1)
	if len(reports) != calls {
		return 0, nil, fmt.Errorf("%d REPORT lines for %d invocations", len(reports), calls)
	}
	for _, r := range reports[1:] {
		d, _ := strconv.ParseFloat(r[1], 64)
		warm = append(warm, d)
	}
	return init, warm, nil
}

// checkAnswer says whether answer is what ev must get: its status, or an
// authorizer's Allow.
func checkAnswer(ev samples.Event, answer []byte) error {
	if frontdoor.Kind(ev.Door).Authorizer() {
		var r struct {
			PolicyDocument struct {
				Statement []struct{ Effect string }
			} `json:"policyDocument"`
		}
		if ev.Want.Decision != "allow" || ev.Door == "httpauthorizer" {
			return fmt.Errorf("%s: only the Allow of a REST authorizer is checked here", ev.Name)
		}
		if err := json.Unmarshal(answer, &r); err != nil || len(r.PolicyDocument.Statement) == 0 || r.PolicyDocument.Statement[0].Effect != "Allow" {
			return fmt.Errorf("%s: the function answered %q, want an Allow policy", ev.Name, answer)
		}
		return nil
	}
	if status, err := bench.Status(answer); err != nil || status != ev.Want.Status {
		return fmt.Errorf("%s: the function answered %q, want statusCode %d", ev.Name, answer, ev.Want.Status)
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

// bootstrapPid is the emulator's one child: the bootstrap.
func bootstrapPid(emulator int) (int, error) {
	kids := proc.Children(emulator)
	if len(kids) != 1 {
		return 0, fmt.Errorf("the emulator (pid %d) has %d children, want the one bootstrap", emulator, len(kids))
	}
	return kids[0], nil
}

// taskCounters are a process's CPU time and page faults so far.
type taskCounters struct {
	cpu            float64 // ms, the sum of its live threads' schedstat run time
	minflt, majflt float64
}

// readTask reads pid's counters from /proc. CPU time comes from each
// thread's schedstat (nanoseconds), not from stat's utime and stime,
// which count in clock ticks of 10 ms: as long as the whole cold start.
func readTask(pid int) (taskCounters, error) {
	var c taskCounters
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return c, err
	}
	f, err := statFields(string(b))
	if err != nil {
		return c, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	c.minflt, _ = strconv.ParseFloat(f[10], 64)
	c.majflt, _ = strconv.ParseFloat(f[12], 64)
	stats, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	for _, path := range stats {
		b, err := os.ReadFile(path)
		if err != nil {
			continue // a thread that just ended
		}
		ns, err := schedstatRun(string(b))
		if err != nil {
			return c, fmt.Errorf("%s: %w", path, err)
		}
		c.cpu += float64(ns) / 1e6
	}
	if len(stats) == 0 {
		return c, fmt.Errorf("no /proc/%d/task/*/schedstat (a kernel without schedstats)", pid)
	}
	return c, nil
}

// statFields splits a /proc/PID/stat line into its fields, numbered as in
// proc(5) from 1 (f[1] is the pid, f[3] the state): the command name, in
// parentheses, may hold spaces, so the split is after its last ')'.
func statFields(stat string) ([]string, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return nil, fmt.Errorf("no ')' in %q", stat)
	}
	pid, _, _ := strings.Cut(stat, " ")
	f := append([]string{"", pid, stat[strings.IndexByte(stat, '(') : i+1]}, strings.Fields(stat[i+1:])...)
	if len(f) < 16 {
		return nil, fmt.Errorf("%d fields in %q", len(f)-1, stat)
	}
	return f, nil
}

// schedstatRun is the first field of /proc/PID/task/TID/schedstat: time
// spent on the CPU, in nanoseconds.
func schedstatRun(s string) (int64, error) {
	f := strings.Fields(s)
	if len(f) == 0 {
		return 0, fmt.Errorf("empty schedstat")
	}
	return strconv.ParseInt(f[0], 10, 64)
}

// peakRSS is the high-water mark of pid's resident memory (VmHWM), in
// MiB: the "MB" of Lambda's memory setting and of its "Max Memory Used".
func peakRSS(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range splitLines(string(b)) {
		if k, v, ok := cut(line, ":"); ok && k == "VmHWM" {
			kb, err := strconv.ParseInt(strings.TrimSuffix(v, " kB"), 10, 64)
			return float64(kb) / 1024, err
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
}

// stopTree kills the emulator's children (the bootstrap runs in a process
// group of its own) and lets the emulator reap them, then kills the
// emulator's group and reaps it. Killed the other way round, a dead
// bootstrap is an orphan that stays a zombie until init reaps it.
func stopTree(p *proc.Process) {
	kids := proc.Children(p.Cmd.Process.Pid)
	for _, k := range kids {
		_ = syscall.Kill(k, syscall.SIGKILL)
	}
	for _, k := range kids {
		for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			if _, err := os.Stat(fmt.Sprintf("/proc/%d", k)); err != nil {
				break
			}
		}
	}
	p.Stop()
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }
