package samcheck

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/test/internal/repo"
)

// tool returns the path of a program of the project's virtual
// environment. A missing tool fails the test: the check must run on every
// `make test`.
func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := repo.Tool(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// run runs a venv tool in the repository root and returns its combined
// output; it fails the test if the tool does not exit 0. The environment
// keeps SAM CLI telemetry off and points Docker nowhere, so that a step
// that needed Docker would fail rather than quietly use one.
func run(t *testing.T, timeout time.Duration, env []string, name string, args ...string) string {
	t.Helper()
	out, err := runErr(t, timeout, env, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

func runErr(t *testing.T, timeout time.Duration, env []string, name string, args ...string) (string, error) {
	t.Helper()
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, tool(t, name), args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(),
		"SAM_CLI_TELEMETRY=0",
		"DOCKER_HOST=unix:///nonexistent/docker.sock",
		"AWS_DEFAULT_REGION=us-east-1",
		"NO_COLOR=1",
	)
	cmd.Env = append(cmd.Env, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 5 * time.Second
	err = cmd.Run()
	if ctx.Err() != nil {
		err = ctx.Err()
	}
	return out.String(), err
}
