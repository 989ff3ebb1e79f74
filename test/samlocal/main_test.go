//go:build samlocal

package samlocal

import (
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate/test/internal/engine"
	"github.com/keygate/keygate/test/internal/proc"
	"github.com/keygate/keygate/test/internal/repo"
)

// Set up once by TestMain.
var (
	root   string         // the repository
	work   string         // this run's scratch directory
	docker *engine.Engine // the engine the tests use
	// builds: sam build's output directory per architecture (arm64, the
	// template's; and this machine's, from an x86_64 copy on amd64).
	builds = map[engine.Arch]string{}
	native = engine.Native()
)

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "samlocal: "+format+"\n", args...)
}

// TestMain gets the engine, arm64 emulation and the base images, builds
// the template for both architectures, runs the tests, and stops what it
// started (a dockerd it started; never one that was running).
func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	start := time.Now()
	var err error
	if root, err = repo.Root(); err != nil {
		logf("%v", err)
		return 1
	}
	if _, err := repo.Tool("sam"); err != nil {
		logf("%v", err)
		return 1
	}
	if work, err = os.MkdirTemp("", "keygate-samlocal-"); err != nil {
		logf("%v", err)
		return 1
	}
	defer os.RemoveAll(work)
	ctx := context.Background()
	docker, err = engine.Ensure(ctx, logf, filepath.Join(work, "engine"))
	if err != nil {
		logf("%v", err)
		return 1
	}
	defer docker.Stop(logf)
	if err := engine.EnsureArm64(ctx, logf); err != nil {
		logf("%v", err)
		return 1
	}
	for _, a := range archs() {
		if err := docker.EnsureBaseImage(ctx, logf, a, engine.LocalFirst); err != nil {
			logf("%v", err)
			return 1
		}
	}
	if err := buildAll(ctx); err != nil {
		logf("%v", err)
		return 1
	}
	if err := warmUp(ctx); err != nil {
		logf("%v", err)
		return 1
	}
	logf("ready in %s: engine, emulation, base images, sam build, SAM's emulation images", time.Since(start).Round(100*time.Millisecond))
	code := m.Run()
	// A SAM command killed half-way (a timeout, a failed test) can leave
	// its containers: that fails the run, and they go.
	if err := leftContainers(ctx, work); err != nil {
		logf("%v", err)
		code = 1
		removeContainers(ctx, work)
	}
	return code
}

// archs is arm64 and, when it is another one, this machine's architecture.
func archs() []engine.Arch {
	if native == engine.ARM64 {
		return []engine.Arch{engine.ARM64}
	}
	return []engine.Arch{engine.ARM64, native}
}

// buildAll runs `sam build` as a user does (samconfig.toml applies), into
// this run's directory: template.yaml for arm64 and, on another machine,
// a copy of it that says x86_64 and names the repository as CodeUri (the
// Makefile reads the architecture from the template SAM builds:
// MAKEFLAGS=TEMPLATE=<the copy>). Both at once.
func buildAll(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for _, a := range archs() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dir, err := build(ctx, a, nil)
			if err != nil {
				errs <- err
				return
			}
			builds[a] = dir
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// build builds template.yaml for a, with edit applied to the template's
// text when not nil, and returns the build directory.
func build(ctx context.Context, a engine.Arch, edit func(string) (string, error)) (string, error) {
	start := time.Now()
	name := "build-" + string(a)
	if edit != nil {
		name += "-edited"
	}
	dir, err := os.MkdirTemp(work, name+"-")
	if err != nil {
		return "", err
	}
	tpl := filepath.Join(root, "template.yaml")
	makeflags := ""
	if a != engine.ARM64 || edit != nil {
		tpl, err = templateCopy(a, edit)
		if err != nil {
			return "", err
		}
		makeflags = "TEMPLATE=" + tpl
	}
	args := []string{"build", "--template", tpl, "--build-dir", dir, "--config-file", filepath.Join(root, "samconfig.toml")}
	// MAKEFLAGS set either way: the one `make test-sam` exports holds its
	// own command line, which must not reach the Makefile sam build runs.
	res := sam(ctx, 10*time.Minute, []string{"MAKEFLAGS=" + makeflags}, args...)
	if res.err != nil || !strings.Contains(res.stdout+res.stderr, "Build Succeeded") {
		return "", fmt.Errorf("sam %s: %v\n%s%s", strings.Join(args, " "), res.err, res.stdout, res.stderr)
	}
	for _, fn := range []string{"KeygateFunction", "KeygateRotationFunction"} {
		if err := checkELF(filepath.Join(dir, fn, "bootstrap"), a); err != nil {
			return "", err
		}
	}
	logf("sam build (%s): %s in %s", a, dir, time.Since(start).Round(100*time.Millisecond))
	return dir, nil
}

// templateCopy writes template.yaml for a (Globals' architecture), with its
// CodeUri made absolute so that the copy builds the repository, and edit
// applied.
func templateCopy(a engine.Arch, edit func(string) (string, error)) (string, error) {
	b, err := os.ReadFile(filepath.Join(root, "template.yaml"))
	if err != nil {
		return "", err
	}
	s := string(b)
	for _, r := range []struct{ old, new string }{
		{"    Architectures: [arm64]\n", "    Architectures: [" + string(a) + "]\n"},
		{"      CodeUri: .\n", "      CodeUri: " + root + "\n"},
	} {
		if !strings.Contains(s, r.old) {
			return "", fmt.Errorf("template.yaml has no line %q to change for the %s copy", strings.TrimSpace(r.old), a)
		}
		s = strings.ReplaceAll(s, r.old, r.new)
	}
	if edit != nil {
		if s, err = edit(s); err != nil {
			return "", err
		}
	}
	f, err := os.CreateTemp(work, "template-"+string(a)+"-*.yaml")
	if err != nil {
		return "", err
	}
	defer f.Close()
	_, err = f.WriteString(s)
	return f.Name(), err
}

// checkELF checks that path is a static Linux executable for a.
func checkELF(path string, a engine.Arch) error {
	f, err := elf.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	want := elf.EM_AARCH64
	if a == engine.X8664 {
		want = elf.EM_X86_64
	}
	if f.Machine != want {
		return fmt.Errorf("%s is for %v, want %v (%s)", path, f.Machine, want, a)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked", path)
		}
	}
	return nil
}

// warmUp runs one invocation per architecture, both at once, so that SAM
// builds its emulation image (…:al2023-rapid-<arch>) once, before the
// tests invoke in parallel.
func warmUp(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for _, a := range archs() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			res := invoke(ctx, builds[a], filepath.Join(root, "events", "rest-valid-key.json"))
			if res.err != nil || !strings.Contains(res.stdout, `"statusCode": 200`) {
				errs <- fmt.Errorf("the first sam local invoke (%s, events/rest-valid-key.json) did not answer 200 (error: %v)\nstdout:\n%s\nstderr:\n%s", a, res.err, res.stdout, res.stderr)
				return
			}
			logf("sam local invoke (%s) works: first invocation in %s", a, time.Since(start).Round(100*time.Millisecond))
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// result is one run of the SAM CLI.
type result struct {
	stdout, stderr string
	err            error
	took           time.Duration
}

// sam runs the project's SAM CLI in the repository root (where
// samconfig.toml's relative paths, events/env.json, resolve) in a process
// group of its own, killed with the test binary, and waits for it.
func sam(ctx context.Context, timeout time.Duration, env []string, args ...string) result {
	bin, err := repo.Tool("sam")
	if err != nil {
		return result{err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.Command(bin, args...)
	cmd.Dir = root
	cmd.Env = append(samEnv(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	p, err := proc.Start(cmd)
	if err != nil {
		return result{err: err}
	}
	select {
	case <-p.Done():
	case <-ctx.Done():
		p.Stop()
		return result{stdout: stdout.String(), stderr: stderr.String(), err: fmt.Errorf("sam %s: %w", args[0], ctx.Err()), took: time.Since(start)}
	}
	res := result{stdout: stdout.String(), stderr: stderr.String(), took: time.Since(start)}
	if !cmd.ProcessState.Success() {
		res.err = fmt.Errorf("sam %s: %s", strings.Join(args, " "), cmd.ProcessState)
	}
	return res
}

// samEnv is the SAM CLI's environment: telemetry off, a region, no colour,
// and no AWS credentials, profile or metadata service (sam local needs
// none, and the function gets SAM's dummies). With credentials, SAM asks
// STS for the account ID at every command, and offline that costs
// seconds per invocation.
func samEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "AWS_") || strings.HasPrefix(kv, "SAM_") || strings.HasPrefix(kv, "MAKEFLAGS=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "SAM_CLI_TELEMETRY=0", "AWS_DEFAULT_REGION=us-east-1", "AWS_REGION=us-east-1", "NO_COLOR=1",
		"AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
}

// invoke runs `sam local invoke KeygateFunction -e event` against the
// build in dir, as a user does after `sam build` (samconfig.toml supplies
// --env-vars events/env.json), with --skip-pull-image.
func invoke(ctx context.Context, dir, event string) result {
	return sam(ctx, 3*time.Minute, nil, "local", "invoke", "KeygateFunction",
		"--template", filepath.Join(dir, "template.yaml"),
		"--config-file", filepath.Join(root, "samconfig.toml"),
		"--event", event, "--skip-pull-image")
}

// removeContainers removes the SAM containers that mount a directory
// under dir.
func removeContainers(ctx context.Context, under string) {
	cs, err := docker.Containers(ctx, "sam.cli.container.type=lambda")
	if err != nil {
		logf("listing SAM containers: %v", err)
		return
	}
	for _, c := range cs {
		for _, m := range c.Mounts {
			if strings.HasPrefix(m.Source, under+string(filepath.Separator)) {
				if err := docker.RemoveContainer(ctx, c.ID); err != nil {
					logf("removing container %.12s: %v", c.ID, err)
				} else {
					logf("removed container %.12s (it mounted %s)", c.ID, m.Source)
				}
				break
			}
		}
	}
}

// leftContainers fails when a SAM container of this run (one that mounts
// a directory under work) outlived its command.
func leftContainers(ctx context.Context, under string) error {
	var left []string
	for i := 0; i < 50; i++ {
		cs, err := docker.Containers(ctx, "sam.cli.container.type=lambda")
		if err != nil {
			return err
		}
		left = left[:0]
		for _, c := range cs {
			for _, m := range c.Mounts {
				if strings.HasPrefix(m.Source, under+string(filepath.Separator)) {
					left = append(left, fmt.Sprintf("%.12s (%s, mounts %s)", c.ID, c.State, m.Source))
				}
			}
		}
		if len(left) == 0 {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("SAM containers left behind: %s", strings.Join(left, "; "))
}
