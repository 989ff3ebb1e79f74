package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/keygate/keygate/test/internal/proc"
)

// Logf reports what the package does, one line at a time.
type Logf func(format string, args ...any)

// Engine is a Docker engine that answers: one that was already running
// (Started false), or dockerd started by Ensure.
type Engine struct {
	*Client
	// Started: Ensure started this dockerd, and Stop stops it.
	Started bool
	// Log is the started dockerd's output file.
	Log  string
	proc *proc.Process
	lock *engineLock
}

// Ensure returns the Docker engine on Socket(). An engine that answers is
// used as it is and never stopped. Otherwise, as root, Ensure installs
// Debian's docker.io with apt-get when dockerd is missing, and starts
// `dockerd --userland-proxy=false` with its output in stateDir/dockerd.log
// (without the userland proxy a published port refuses connections until
// the container listens, instead of accepting them first: under qemu the
// emulator takes a while to listen, and SAM gives up after three quick
// tries with "No response from invoke container"). Without root it says
// what to start.
func Ensure(ctx context.Context, logf Logf, stateDir string) (*Engine, error) {
	socket, err := Socket()
	if err != nil {
		return nil, err
	}
	c := NewClient(socket)
	lock, err := lockEngine(ctx, logf)
	if err != nil {
		return nil, err
	}
	e, err := ensure(ctx, logf, c, socket, stateDir)
	if err == nil {
		err = lock.share()
	}
	if err != nil {
		if e != nil {
			e.Stop(logf)
		}
		lock.release()
		return nil, err
	}
	e.lock = lock
	return e, nil
}

func ensure(ctx context.Context, logf Logf, c *Client, socket, stateDir string) (*Engine, error) {
	if err := c.Ping(ctx); err == nil {
		v, _ := c.Version(ctx)
		logf("a Docker engine answers at %s (%s): using it, and leaving it running", socket, v)
		warnUserlandProxy(logf)
		return &Engine{Client: c}, nil
	}
	if socket != DefaultSocket {
		return nil, fmt.Errorf("no Docker engine answers at DOCKER_HOST=unix://%s; start it, or unset DOCKER_HOST to let the harness start dockerd", socket)
	}
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("no Docker engine answers at %s, and starting one needs root: start Docker (Docker Desktop, `sudo systemctl start docker`, or `sudo dockerd --userland-proxy=false`) and run again, or run as root so that the harness installs docker.io and starts dockerd itself", socket)
	}
	if _, err := exec.LookPath("dockerd"); err != nil {
		if err := AptInstall(ctx, logf, "docker.io"); err != nil {
			return nil, err
		}
		// A machine with an init system may have started it already.
		if err := c.Ping(ctx); err == nil {
			logf("docker.io's package scripts started an engine: using it, and leaving it running")
			return &Engine{Client: c}, nil
		}
	}
	return startDockerd(ctx, logf, c, stateDir)
}

func startDockerd(ctx context.Context, logf Logf, c *Client, stateDir string) (*Engine, error) {
	// A pid file left by a dockerd that died keeps a new one from starting.
	const pidFile = "/var/run/docker.pid"
	if b, err := os.ReadFile(pidFile); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && syscall.Kill(pid, 0) != nil {
			_ = os.Remove(pidFile)
		}
	}
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		return nil, err
	}
	logPath := filepath.Join(stateDir, "dockerd.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd := exec.Command("dockerd", "--userland-proxy=false")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	logf("no Docker engine answers at %s: starting dockerd --userland-proxy=false (log %s)", c.Socket, logPath)
	p, err := proc.Start(cmd)
	if err != nil {
		return nil, err
	}
	e := &Engine{Client: c, Started: true, Log: logPath, proc: p}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if err := c.Ping(ctx); err == nil {
			v, _ := c.Version(ctx)
			logf("dockerd %s answers (pid %d); it is stopped at the end", v, p.Cmd.Process.Pid)
			return e, nil
		}
		if p.Exited() || time.Now().After(deadline) {
			p.Stop()
			return nil, fmt.Errorf("dockerd did not come up within 60 s; its log (%s) ends:\n%s", logPath, tail(logPath, 20))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Stop ends this run's use of the engine, and stops dockerd if Ensure
// started it, once no other run uses it (see lockPath): SIGTERM to
// dockerd, which stops its containerd, then the whole process group after
// 30 s. An engine that was running before is left alone.
func (e *Engine) Stop(logf Logf) {
	if e == nil {
		return
	}
	defer e.lock.release()
	if !e.Started || e.proc == nil {
		return
	}
	// Another run may still use this dockerd: wait for it to end.
	if e.lock != nil {
		if err := e.lock.take(context.Background(), logf, unix.LOCK_EX, "to end before this run stops the dockerd it started"); err != nil {
			logf("%v: leaving dockerd (pid %d) running", err, e.proc.Cmd.Process.Pid)
			return
		}
	}
	_ = syscall.Kill(e.proc.Cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-e.proc.Done():
		logf("stopped the dockerd started for this run")
	case <-time.After(30 * time.Second):
		e.proc.Stop()
		logf("dockerd did not stop within 30 s of SIGTERM: killed its process group")
	}
	e.proc.Stop() // containerd, if it outlived dockerd
}

// warnUserlandProxy says so when the running dockerd uses the userland
// proxy, which makes arm64 invocations under qemu flaky (see Ensure).
func warnUserlandProxy(logf Logf) {
	entries, _ := os.ReadDir("/proc")
	for _, ent := range entries {
		if _, err := strconv.Atoi(ent.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", ent.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if filepath.Base(args[0]) != "dockerd" {
			continue
		}
		if strings.Contains(string(b), "userland-proxy=false") {
			return
		}
		if cfg, err := os.ReadFile("/etc/docker/daemon.json"); err == nil && bytes.Contains(bytes.ReplaceAll(cfg, []byte(" "), nil), []byte(`"userland-proxy":false`)) {
			return
		}
		logf("note: this dockerd runs with the userland proxy; under qemu, sam local may then report \"No response from invoke container\" (restart it with --userland-proxy=false)")
		return
	}
}

func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Installed reports whether dpkg has pkg installed.
func Installed(pkg string) bool {
	out, err := exec.Command("dpkg-query", "-W", "-f=${Status}", pkg).Output()
	return err == nil && strings.Contains(string(out), "install ok installed")
}

// AptInstall installs the packages that are missing with apt-get (as
// root, without recommends, non-interactively), running apt-get update
// first when the package lists are missing or the install cannot find a
// package.
func AptInstall(ctx context.Context, logf Logf, pkgs ...string) error {
	var missing []string
	for _, p := range pkgs {
		if !Installed(p) {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		return fmt.Errorf("%s missing, and there is no apt-get to install it with: install %s yourself", strings.Join(missing, ", "), strings.Join(missing, " "))
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("%s missing: installing needs root (sudo apt-get install %s)", strings.Join(missing, ", "), strings.Join(missing, " "))
	}
	lists, _ := filepath.Glob("/var/lib/apt/lists/*Packages*")
	if len(lists) == 0 {
		if err := aptGet(ctx, logf, "update"); err != nil {
			return err
		}
	}
	args := append([]string{"install", "-y", "-q", "--no-install-recommends"}, missing...)
	if err := aptGet(ctx, logf, args...); err != nil {
		if len(lists) == 0 {
			return err
		}
		logf("apt-get install failed; updating the package lists and trying again")
		if err := aptGet(ctx, logf, "update"); err != nil {
			return err
		}
		return aptGet(ctx, logf, args...)
	}
	return nil
}

func aptGet(ctx context.Context, logf Logf, args ...string) error {
	logf("apt-get %s", strings.Join(args, " "))
	start := time.Now()
	cmd := exec.CommandContext(ctx, "apt-get", args...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("apt-get %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	logf("apt-get %s: done in %s", args[0], time.Since(start).Round(100*time.Millisecond))
	return nil
}

// binfmtDir is where the kernel lists its binary formats.
const binfmtDir = "/proc/sys/fs/binfmt_misc"

// The ELF header of an aarch64 executable, and the mask of the bits that
// identify it (qemu's own values, as Debian and systemd register them).
const (
	aarch64Magic = `\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00`
	aarch64Mask  = `\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff`
	// As binfmt_misc prints them.
	aarch64MagicHex = "7f454c460201010000000000000000000200b700"
)

// EnsureArm64 makes linux/arm64 containers run on this machine: nothing to
// do on arm64; elsewhere an enabled binfmt_misc entry for aarch64 with the
// F flag (the kernel opens the interpreter when it is registered, so it
// works in a container whose file system has no qemu). Without one, as
// root, it installs qemu-user-static with apt-get if needed and registers
// /usr/bin/qemu-aarch64-static by hand (binfmt-support is not needed). The
// registration stays: it is the machine's, like an installed package.
func EnsureArm64(ctx context.Context, logf Logf) error {
	if runtime.GOARCH == "arm64" {
		return nil
	}
	name, flags, ok := aarch64Entry()
	if ok && strings.Contains(flags, "F") {
		logf("arm64 emulation: binfmt_misc entry %s (flags %s)", name, flags)
		return nil
	}
	if ok {
		return fmt.Errorf("binfmt_misc entry %s runs aarch64 binaries without the F flag (flags %q), so it cannot work inside containers: re-register it with F (for example `update-binfmts --disable %[1]s` then register qemu-aarch64-static with flags F)", name, flags)
	}
	if os.Geteuid() != 0 {
		return errors.New("arm64 containers need emulation, and registering qemu for aarch64 in binfmt_misc needs root: run as root, or install qemu-user-static and binfmt-support (Docker Desktop has it built in)")
	}
	if _, err := os.Stat("/usr/bin/qemu-aarch64-static"); err != nil {
		if err := AptInstall(ctx, logf, "qemu-user-static"); err != nil {
			return err
		}
	}
	// The package may have registered it (binfmt-support, systemd-binfmt).
	if name, flags, ok := aarch64Entry(); ok {
		if !strings.Contains(flags, "F") {
			return fmt.Errorf("binfmt_misc entry %s has no F flag (flags %q): it cannot work inside containers", name, flags)
		}
		logf("arm64 emulation: binfmt_misc entry %s (flags %s)", name, flags)
		return nil
	}
	if _, err := os.Stat(filepath.Join(binfmtDir, "register")); err != nil {
		logf("mounting binfmt_misc on %s", binfmtDir)
		if out, err := exec.CommandContext(ctx, "mount", "-t", "binfmt_misc", "binfmt_misc", binfmtDir).CombinedOutput(); err != nil {
			return fmt.Errorf("mounting binfmt_misc: %v: %s", err, out)
		}
	}
	// The kernel decodes the \x escapes itself (a raw NUL or colon would
	// end a field).
	reg := ":qemu-aarch64:M::" + aarch64Magic + ":" + aarch64Mask + ":/usr/bin/qemu-aarch64-static:F"
	if err := os.WriteFile(filepath.Join(binfmtDir, "register"), []byte(reg), 0o200); err != nil {
		return fmt.Errorf("registering qemu-aarch64-static in binfmt_misc: %w", err)
	}
	name, flags, ok = aarch64Entry()
	if !ok || !strings.Contains(flags, "F") {
		return fmt.Errorf("registered qemu-aarch64-static, but binfmt_misc shows no enabled aarch64 entry with F (%q %q)", name, flags)
	}
	logf("arm64 emulation: registered /usr/bin/qemu-aarch64-static in binfmt_misc as %s (flags %s)", name, flags)
	return nil
}

// aarch64Entry finds an enabled binfmt_misc entry for aarch64 ELF files.
func aarch64Entry() (name, flags string, ok bool) {
	entries, err := os.ReadDir(binfmtDir)
	if err != nil {
		return "", "", false
	}
	for _, ent := range entries {
		if ent.Name() == "register" || ent.Name() == "status" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(binfmtDir, ent.Name()))
		if err != nil {
			continue
		}
		s := string(b)
		if !strings.HasPrefix(s, "enabled") || !strings.Contains(s, "magic "+aarch64MagicHex) {
			continue
		}
		for _, line := range strings.Split(s, "\n") {
			if f, ok := strings.CutPrefix(line, "flags: "); ok {
				flags = f
			}
		}
		return ent.Name(), flags, true
	}
	return "", "", false
}

// CheckArm64 reports, without changing anything, whether linux/arm64
// containers can run here (see EnsureArm64), and says how to get there
// when they cannot.
func CheckArm64() error {
	if runtime.GOARCH == "arm64" {
		return nil
	}
	name, flags, ok := aarch64Entry()
	switch {
	case !ok:
		return errors.New("arm64 containers need emulation on this machine, and binfmt_misc has no aarch64 entry: on Debian/Ubuntu, sudo apt-get install qemu-user-static binfmt-support (Docker Desktop has it built in)")
	case !strings.Contains(flags, "F"):
		return fmt.Errorf("binfmt_misc entry %s runs aarch64 binaries without the F flag (flags %q), so not inside containers: re-register qemu-aarch64 with F", name, flags)
	}
	return nil
}
