// Package localstack runs LocalStack (localstack-core, the community
// edition) in host mode, a plain Python process without Docker, offline,
// for `make test-deploy`'s real `sam deploy`.
//
// It comes from .venv-localstack (`make localstack-venv`: the pins of
// constraints.txt and keygate's plugin in plugin/, on Python 3.13). Start
// gives it a free loopback port and a directory of its own for every file
// it writes (never /var/lib/localstack, /etc/localstack or ~/.localstack),
// and an environment built from scratch, so nothing of the caller's AWS
// or LocalStack settings leaks in:
//
//   - OVERRIDE_IN_DOCKER=0: host mode.
//   - LAMBDA_RUNTIME_EXECUTOR=refuse: the plugin's executor, so functions
//     become Active offline (and are never run).
//   - CFN_IGNORE_UNSUPPORTED_RESOURCE_TYPES=0: a resource type LocalStack
//     has no provider for fails the deploy instead of being "deployed as a
//     fallback", which is to say not at all (the HTTP API's, for example:
//     apigatewayv2 is in LocalStack Pro only).
package localstack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/keygate/keygate/test/internal/proc"
	"github.com/keygate/keygate/test/internal/repo"
)

// VenvDir is the venv `make localstack-venv` installs, under the
// repository root.
const VenvDir = ".venv-localstack"

// Region is the region the server and its clients use.
const Region = "us-east-1"

// Server is one running LocalStack.
type Server struct {
	// URL is its endpoint, http://127.0.0.1:<port>.
	URL string
	// Dir holds every file it writes; Stop leaves it (the caller's).
	Dir string
	p   *proc.Process
}

// Python returns the venv's interpreter, or an error saying how to get it.
func Python() (string, error) {
	root, err := repo.Root()
	if err != nil {
		return "", err
	}
	py := filepath.Join(root, VenvDir, "bin", "python")
	if _, err := os.Stat(py); err != nil {
		return "", fmt.Errorf("%s not found (%v): run make localstack-venv", py, err)
	}
	return py, nil
}

// Start runs LocalStack with its files under dir and returns once it
// answers its health check. extra adds to (or overrides) its environment.
func Start(ctx context.Context, dir string, extra ...string) (*Server, error) {
	py, err := Python()
	if err != nil {
		return nil, err
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		s, err := start(ctx, py, dir, extra)
		if err == nil {
			return s, nil
		}
		lastErr = err
		if !strings.Contains(err.Error(), "ddress already in use") {
			break
		}
	}
	return nil, lastErr
}

func start(ctx context.Context, py, dir string, extra []string) (*Server, error) {
	ports, err := proc.FreePorts(1)
	if err != nil {
		return nil, err
	}
	port := strconv.Itoa(ports[0])
	for _, d := range []string{"fs", "config", "volume", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	cmd := exec.Command(py, "-m", "localstack.runtime.main")
	cmd.Dir = dir
	cmd.Env = append([]string{
		"PATH=" + filepath.Dir(py) + ":/usr/local/bin:/usr/bin:/bin",
		"HOME=" + dir,
		"LANG=C.UTF-8",
		"PYTHONUNBUFFERED=1",
		"OVERRIDE_IN_DOCKER=0",
		"FILESYSTEM_ROOT=" + filepath.Join(dir, "fs"),
		"CONFIG_DIR=" + filepath.Join(dir, "config"),
		"LOCALSTACK_VOLUME_DIR=" + filepath.Join(dir, "volume"),
		"TMPDIR=" + filepath.Join(dir, "tmp"),
		"GATEWAY_LISTEN=127.0.0.1:" + port,
		"LOCALSTACK_HOST=localhost.localstack.cloud:" + port,
		"DNS_ADDRESS=0",
		"GATEWAY_SERVER=hypercorn",
		"SKIP_SSL_CERT_DOWNLOAD=1",
		"DISABLE_EVENTS=1",
		"PERSISTENCE=0",
		"LAMBDA_RUNTIME_EXECUTOR=refuse",
		"CFN_IGNORE_UNSUPPORTED_RESOURCE_TYPES=0",
	}, extra...)
	p, err := proc.Start(cmd)
	if err != nil {
		return nil, err
	}
	s := &Server{URL: "http://127.0.0.1:" + port, Dir: dir, p: p}
	if err := s.waitReady(ctx); err != nil {
		p.Stop()
		return nil, fmt.Errorf("%w; LocalStack's output ends:\n%s", err, tail(p.Out.String(), 40))
	}
	return s, nil
}

func (s *Server) waitReady(ctx context.Context) error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if s.p.Exited() {
			return errors.New("LocalStack exited before it was ready")
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/_localstack/health", nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return errors.New("LocalStack did not answer within 2 minutes")
}

// Logs is everything LocalStack wrote so far.
func (s *Server) Logs() string { return s.p.Out.String() }

// Stop asks LocalStack to shut down (SIGTERM to its process group), kills
// the group after 30 s, and reports whether it exited on its own.
func (s *Server) Stop() bool { return s.p.Terminate(30 * time.Second) }

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
