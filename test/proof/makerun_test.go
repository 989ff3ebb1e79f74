package proof

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/test/internal/proc"
	"github.com/keygate/keygate/test/internal/repo"
)

// ctrlC runs `make run` in a pseudo-terminal, as a user does, presses
// Ctrl-C once the server listens, and prints make's exit status and
// everything the terminal showed.
const ctrlC = `import os, pty, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execvp("make", ["make", "--no-print-directory", "run", "ARGS=-addr " + sys.argv[1]])
out = b""
deadline = time.time() + 120
while time.time() < deadline and b"listening on" not in out:
    try:
        out += os.read(fd, 4096)
    except OSError:
        break
os.write(fd, b"\x03")
_, status = os.waitpid(pid, 0)
try:
    while True:
        d = os.read(fd, 4096)
        if not d:
            break
        out += d
except OSError:
    pass
print("exit=%d" % os.waitstatus_to_exitcode(status))
sys.stdout.write(out.decode(errors="replace"))
`

// `make run` stops on Ctrl-C with exit status 0, as the README promises:
// the server, not make, gets the interrupt.
func TestMakeRunStopsCleanlyOnCtrlC(t *testing.T) {
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	ports, err := proc.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "python3", "-c", ctrlC, "127.0.0.1:"+strconv.Itoa(ports[0]))
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("driving make run: %v\n%s", err, out)
	}
	got := string(out)
	for _, want := range []string{"exit=0", "listening on http://127.0.0.1:", "keygate: stopped"} {
		if !strings.Contains(got, want) {
			t.Errorf("make run and Ctrl-C: no %q in:\n%s", want, got)
		}
	}
	if strings.Contains(got, "make: ***") {
		t.Errorf("make reported an error on Ctrl-C:\n%s", got)
	}
}
