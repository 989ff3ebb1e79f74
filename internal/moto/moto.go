// Package moto runs moto (https://github.com/getmoto/moto) in server mode,
// the AWS service emulator most AWS projects test against, for keygate's
// end-to-end tests against a Secrets Manager that is not keygate's own fake.
//
// moto comes from the project's virtual environment (`make venv`, pinned in
// the Makefile). A test that needs it fails, never skips, when it is
// missing: the check must run on every `make test`.
//
//	endpoint := moto.Start(t) // http://127.0.0.1:<port>, stopped at cleanup
package moto

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Start runs `.venv/bin/moto_server` on a free 127.0.0.1 port, waits until
// it answers, and returns its endpoint URL. The test's cleanup kills it
// (with its whole process group); it also dies if the test binary does.
// Every call is a new, empty server.
func Start(t testing.TB) string {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatalf("moto: %v", err)
	}
	server := filepath.Join(root, ".venv", "bin", "moto_server")
	if _, err := os.Stat(server); err != nil {
		t.Fatalf("moto: %s not found (%v): run make venv", server, err)
	}
	// A port probed free can be taken before moto binds it: retry then.
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		endpoint, err := start(t, server)
		if err == nil {
			return endpoint
		}
		lastErr = err
	}
	t.Fatalf("moto: %v", lastErr)
	return ""
}

func start(t testing.TB, server string) (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("finding a free port: %w", err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	endpoint := "http://127.0.0.1:" + port

	home := t.TempDir()
	out := &output{}
	cmd := exec.Command(server, "-H", "127.0.0.1", "-p", port)
	cmd.Dir = home
	// moto needs no AWS settings; keep the developer's out of it.
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + home, "PYTHONUNBUFFERED=1"}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("starting %s: %w", server, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		})
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("moto output:\n%s", out.String())
		}
	})
	if err := waitReady(endpoint, done); err != nil {
		stop()
		return "", fmt.Errorf("%w; output:\n%s", err, out.String())
	}
	return endpoint, nil
}

// waitReady polls moto's own API until it answers. The bound only keeps a
// broken setup from hanging the suite.
func waitReady(endpoint string, done <-chan struct{}) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return errors.New("moto_server exited before it was ready")
		default:
		}
		resp, err := client.Get(endpoint + "/moto-api/data.json")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("moto_server did not answer within 30s")
}

// repoRoot returns the directory holding go.mod, above the working
// directory (a package directory under `go test`).
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding the repository root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("finding the repository root: no go.mod above the working directory")
		}
		dir = parent
	}
}

type output struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}
