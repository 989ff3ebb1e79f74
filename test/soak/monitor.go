package soak

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/keygate/keygate/test/proof"
)

// monitor watches the processes: resident memory and open file
// descriptors from /proc, every few seconds, and the goroutines that each
// key-load log line reports (docs/operating.md: "goroutines (the
// process's: one that grows from load to load is a leak)"); and that no
// line of their output holds a key.
type monitor struct {
	// holds returns the start of a key the line holds ("" if none).
	holds func(line string) string

	mu    sync.Mutex
	mem   []memSample
	gor   []gorSample
	loads map[string]*loadCount
	leaks []string
}

type memSample struct {
	env   string
	gen   int
	at    time.Time
	rssMB float64
	fds   float64
}

type gorSample struct {
	env string
	gen int
	at  time.Time
	n   float64
}

type loadCount struct{ loaded, failed int }

func newMonitor(holds func(string) string) *monitor {
	return &monitor{holds: holds, loads: map[string]*loadCount{}}
}

// lines returns the writer that e's output goes to.
func (m *monitor) lines(e *env) *lines { return &lines{line: func(s string) { m.line(e, s) }} }

func (m *monitor) line(e *env, line string) {
	// Keys are kg… (generated: kg_…): a line without "kg" holds none,
	// and the other checks need only the load lines.
	if strings.Contains(line, "kg") {
		if k := m.holds(line); k != "" {
			m.mu.Lock()
			m.leaks = append(m.leaks, fmt.Sprintf("%s: a line holds the key %s…", e.name, k))
			m.mu.Unlock()
		}
	}
	loaded := strings.Contains(line, `"msg":"key set loaded"`)
	if !loaded && !strings.Contains(line, `"msg":"key load failed"`) {
		return
	}
	var rec struct{ Goroutines *int }
	if json.Unmarshal([]byte(line), &rec) != nil || rec.Goroutines == nil {
		m.mu.Lock()
		m.leaks = append(m.leaks, fmt.Sprintf("%s: a key-load line without goroutines: %.200s", e.name, line))
		m.mu.Unlock()
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gor = append(m.gor, gorSample{e.name, e.gen, time.Now(), float64(*rec.Goroutines)})
	c := m.loads[e.name]
	if c == nil {
		c = &loadCount{}
		m.loads[e.name] = c
	}
	if loaded {
		c.loaded++
	} else {
		c.failed++
	}
}

// sample reads each environment's bootstrap (or the local server) from
// /proc; one that has not started yet (no invocation so far) is skipped.
func (m *monitor) sample(envs []*env) {
	for _, e := range envs {
		pid, err := e.pid()
		if err != nil {
			continue
		}
		mem, err := proof.ReadMem(pid)
		if err != nil {
			continue
		}
		fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		if err != nil {
			continue
		}
		m.mu.Lock()
		m.mem = append(m.mem, memSample{e.name, e.gen, time.Now(), float64(mem.RSS) / (1 << 20), float64(len(fds))})
		m.mu.Unlock()
	}
}

// lines splits output into lines; the writes come from one goroutine
// (os/exec copies a pipe), the lines may arrive in pieces.
type lines struct {
	buf  []byte
	line func(string)
}

func (l *lines) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	rest := l.buf
	for {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			break
		}
		l.line(string(rest[:i]))
		rest = rest[i+1:]
	}
	l.buf = l.buf[:copy(l.buf, rest)]
	return len(p), nil
}
