// Package proc runs the harness's helper processes (the Lambda emulator,
// moto, the SAM CLI, bootstraps, load generators): each in its own process
// group that dies with the test binary, its output captured, on loopback
// ports that were free a moment ago.
package proc

import (
	"fmt"
	"net"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/keygate/keygate/internal/testsupport/logtest"
)

// Output is a child's stdout and stderr, safe for concurrent use.
type Output = logtest.Buffer

// FreePorts returns n distinct loopback ports that were free a moment ago.
// Another process may take one before the caller binds it: callers retry
// on "address already in use".
func FreePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// Process is a started child and its process group.
type Process struct {
	Cmd  *exec.Cmd
	Out  *Output
	done chan struct{}
	stop sync.Once
}

// Start starts cmd in a new process group that is killed if the test
// binary dies (Pdeathsig), with stdout and stderr captured in Out unless
// cmd sets them. It keeps cmd.SysProcAttr's other fields.
func Start(cmd *exec.Cmd) (*Process, error) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	p := &Process{Cmd: cmd, Out: &Output{}, done: make(chan struct{})}
	if cmd.Stdout == nil {
		cmd.Stdout = p.Out
	}
	if cmd.Stderr == nil {
		cmd.Stderr = p.Out
	}
	// Grandchildren inherit the output pipe; do not wait for them forever.
	if cmd.WaitDelay == 0 {
		cmd.WaitDelay = 2 * time.Second
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", cmd.Path, err)
	}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Signal sends sig to the whole process group.
func (p *Process) Signal(sig syscall.Signal) {
	_ = syscall.Kill(-p.Cmd.Process.Pid, sig)
}

// Stop kills the process group and waits for the process to exit. It is
// safe to call more than once.
func (p *Process) Stop() {
	p.stop.Do(func() {
		p.Signal(syscall.SIGKILL)
		<-p.done
	})
}

// Terminate asks the group to stop with SIGTERM, waits up to grace, then
// kills it. It reports whether the process exited on its own.
func (p *Process) Terminate(grace time.Duration) bool {
	p.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		p.stop.Do(func() {})
		return true
	case <-time.After(grace):
		p.Stop()
		return false
	}
}
