package soak

import (
	"fmt"
	"maps"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/test/internal/proc"
	"github.com/keygate/keygate/test/rie"
)

// startLocal runs the local server (cmd/local, as make run builds it) on a
// free loopback port with vars and the store's credentials, its JSON log
// lines to out; it returns the server and its base URL once it listens.
func startLocal(t *testing.T, vars map[string]string, out func(*env) *lines) (*env, *proc.Process, string) {
	t.Helper()
	bin := rie.Build(t, "./cmd/local", false)
	home := t.TempDir()
	environ := []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + home,
		// Nothing of the developer's AWS set-up; the store's dummy
		// credentials are in vars.
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true"}
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		environ = append(environ, k+"="+vars[k])
	}
	e := &env{function: localName, name: localName}
	for attempt := 0; attempt < 3; attempt++ {
		ports, err := proc.FreePorts(1)
		if err != nil {
			t.Fatal(err)
		}
		addr := "127.0.0.1:" + strconv.Itoa(ports[0])
		cmd := exec.Command(bin, "-addr", addr)
		cmd.Env, cmd.Dir, cmd.Stdout = environ, home, out(e)
		e.started = time.Now()
		p, err := proc.Start(cmd)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Stop)
		e.pid = func() (int, error) { return p.Cmd.Process.Pid, nil }
		deadline := time.Now().Add(time.Minute)
		for time.Now().Before(deadline) && !p.Exited() && !strings.Contains(p.Out.String(), "listening on") {
			time.Sleep(20 * time.Millisecond)
		}
		switch said := p.Out.String(); {
		case strings.Contains(said, "listening on"):
			return e, p, "http://" + addr
		case !strings.Contains(said, "address already in use"):
			t.Fatalf("the local server did not start: %s", said)
		}
	}
	t.Fatal("the local server found no free port in three tries")
	return nil, nil, ""
}

// stopLocal stops the server as Ctrl-C does and says whether it stopped
// cleanly (exit 0, "keygate: stopped") after the run.
func stopLocal(p *proc.Process) error {
	if !p.Terminate(10 * time.Second) {
		return fmt.Errorf("the local server did not stop within 10 s of SIGTERM")
	}
	if code := p.Cmd.ProcessState.ExitCode(); code != 0 || !strings.Contains(p.Out.String(), "keygate: stopped") {
		return fmt.Errorf("the local server exited with %d: %s", code, p.Out.String())
	}
	return nil
}
