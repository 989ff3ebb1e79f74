// Package rie runs keygate's real Lambda bootstrap under the real AWS Lambda
// Runtime Interface Emulator (github.com/aws/aws-lambda-runtime-interface-emulator,
// a `tool` in go.mod), for end-to-end tests.
//
// Typical use in a test:
//
//	boot := rie.Build(t, "./cmd/api", false)
//	fn := rie.Start(t, boot, rie.Options{Env: []string{"API_KEY=…"}})
//	out, err := fn.Invoke(ctx, payload)
//
// Build and Emulator compile once per test process and per (package, race)
// and reuse the binary; Start runs one emulator process, which is one Lambda
// execution environment: it starts the bootstrap at its first invocation
// (the cold start) and keeps it for the next ones. A new cold start is a new
// Start. Every process is killed when the test ends, whatever its state.
//
// The emulator hands its own environment to the bootstrap, so Start builds
// that environment from scratch: a region, dummy credentials, empty AWS
// config files and the function's name, never the developer's real AWS
// configuration; Options.Env adds to it or overrides it.
//
// Function.Logs is the combined output (the function's JSON log lines and
// the emulator's START/END/REPORT and INIT REPORT lines); it arrives
// through a pipe, so wait for a line with WaitLog rather than reading Logs
// right after Invoke. Unstructured lists the function's lines that are not
// JSON log records. InitDurations counts cold starts. A race-detector
// build (Build(t, pkg, true)) that reports a data race fails the test.
//
// Options.MaxConcurrency runs the emulator's multi-concurrency mode
// (Lambda Managed Instances), which serves parallel invocations from one
// runtime and rejects (400 Runtime.Unavailable) those beyond it. It only
// runs a bootstrap from /var/task, so Start gives it a private mount
// namespace: that needs root or unprivileged user namespaces, and
// util-linux mount.
package rie

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/keygate/keygate/test/internal/repo"
)

// EmulatorPackage is the emulator's main package, declared as a tool in go.mod.
const EmulatorPackage = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"

// Build compiles the main package pkg (a path relative to the repository
// root, like "./cmd/api") as a native Linux Lambda "bootstrap", the way the
// Makefile builds it (-tags lambda.norpc, CGO_ENABLED=0), or with the race
// detector when race is true. It returns the binary's path. The result is
// cached for the rest of the test process.
func Build(t testing.TB, pkg string, race bool) string {
	t.Helper()
	args := []string{"-tags", "lambda.norpc"}
	env := []string{"CGO_ENABLED=0"}
	if race {
		args = append(args, "-race")
		env = []string{"CGO_ENABLED=1"}
	}
	return build(t, buildKey{pkg: pkg, race: race}, "bootstrap", args, env)
}

// Emulator compiles the Runtime Interface Emulator once per test process,
// at the version go.mod pins, and returns the binary's path.
func Emulator(t testing.TB) string {
	t.Helper()
	return build(t, buildKey{pkg: EmulatorPackage}, "aws-lambda-rie", nil, []string{"CGO_ENABLED=0"})
}

type buildKey struct {
	pkg  string
	race bool
}

type buildResult struct {
	once sync.Once
	path string
	err  error
}

var (
	buildsMu sync.Mutex
	builds   = map[buildKey]*buildResult{}
)

func build(t testing.TB, key buildKey, name string, args, env []string) string {
	t.Helper()
	buildsMu.Lock()
	r, ok := builds[key]
	if !ok {
		r = &buildResult{}
		builds[key] = r
	}
	buildsMu.Unlock()
	r.once.Do(func() { r.path, r.err = goBuild(key, name, args, env) })
	if r.err != nil {
		t.Fatalf("rie: %v", r.err)
	}
	return r.path
}

// goBuild writes the binary to a per-user cache directory (one slot per
// package and mode, replaced atomically by rename) rather than a fresh
// temporary directory: a test process cannot remove a directory when it
// exits, and 15 MB per run would pile up in /tmp.
func goBuild(key buildKey, name string, args, env []string) (string, error) {
	root, err := repo.Root()
	if err != nil {
		return "", err
	}
	slot := strings.NewReplacer("/", "_", ".", "_", "\\", "_").Replace(strings.TrimPrefix(key.pkg, "./"))
	if key.race {
		slot += "-race"
	}
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	// One tree per clone, so that two checkouts never swap binaries.
	dir := filepath.Join(base, "keygate-test", fmt.Sprintf("%x", sha256.Sum256([]byte(root)))[:12], slot)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("creating the build directory: %w", err)
	}
	final := filepath.Join(dir, name)
	// A private name first: another test process may be running the
	// previous binary, and rename replaces it without disturbing that.
	tmp, err := os.CreateTemp(dir, name+".*.tmp")
	if err != nil {
		return "", fmt.Errorf("creating the build output: %w", err)
	}
	tmp.Close()
	defer os.Remove(tmp.Name())

	cmdArgs := append([]string{"build", "-o", tmp.Name()}, args...)
	buildDir, rel, err := repo.GoPackage(key.pkg)
	if err != nil {
		return "", err
	}
	cmdArgs = append(cmdArgs, rel)
	cmd := exec.Command("go", cmdArgs...)
	cmd.Dir = buildDir
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+runtime.GOARCH)
	cmd.Env = append(cmd.Env, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go %s: %w\n%s", strings.Join(cmdArgs, " "), err, out.Bytes())
	}
	if err := os.Rename(tmp.Name(), final); err != nil {
		return "", fmt.Errorf("installing %s: %w", final, err)
	}
	return final, nil
}
