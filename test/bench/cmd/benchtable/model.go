package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/keygate/keygate/test/internal/netns"
	"github.com/keygate/keygate/test/internal/proc"
)

// The cold-start model: what a function pays at cold start in Lambda, on
// one machine. Secrets Manager (the fake, over TLS, with the certificate
// of its real name) runs in a network namespace of its own; the emulator
// and the function run in another, a round trip of about -rtt away. The
// function sees an /etc laid out as provided.al2023's (the Amazon Linux
// trust store with the test root in it, and a hosts entry that sends the
// SDKs' default endpoint name to the fake), overlaid read-only on the
// host's in a private mount namespace: nothing on the host changes.
//
// The addresses are from RFC 2544's benchmarking range and exist only on
// the link between the two namespaces.
const (
	fnAddr  = "198.18.0.1"
	smAddr  = "198.18.0.2"
	linkDev = "kgbench0"
)

type model struct {
	fn, sm *netns.NS
	link   *netns.Link
	ep     *endpoint
	trust  *trustLayout
	rtt    []float64 // ms, TCP connects across the link
}

// needRoot is the message when the model cannot be built: it is never
// skipped, because a table without it would not be the table.
const needRoot = "the cold-start model needs root (network namespaces, TUN devices, an overlay mount in a private mount namespace), as make test and CI run; run make bench as root"

// modelPrerequisites says what is missing to build the model.
func modelPrerequisites() error {
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		missing = append(missing, "/dev/net/tun (the TUN driver)")
	}
	if fs, err := os.ReadFile("/proc/filesystems"); err != nil || !strings.Contains(string(fs), "\toverlay\n") {
		missing = append(missing, "the overlay file system (modprobe overlay)")
	}
	for _, tool := range []string{"mount", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			if _, err := os.Stat("/usr/sbin/" + tool); err != nil {
				missing = append(missing, tool+" (util-linux, iproute2)")
			}
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s; missing: %s", needRoot, strings.Join(missing, ", "))
	}
	return nil
}

// newModel builds the model under dir; Close takes it down. On error
// everything built so far is taken down already.
func newModel(dir string, rtt time.Duration) (m *model, err error) {
	if err := modelPrerequisites(); err != nil {
		return nil, err
	}
	m = &model{}
	defer func() {
		if err != nil {
			m.Close()
			m = nil
		}
	}()
	p, err := newPKI()
	if err != nil {
		return nil, err
	}
	hosts, err := functionHosts(smAddr)
	if err != nil {
		return nil, err
	}
	if m.trust, err = writeTrust(dir, p, hosts); err != nil {
		return nil, err
	}
	if m.fn, err = netns.New("function"); err != nil {
		return nil, fmt.Errorf("%w (%s)", err, needRoot)
	}
	if m.sm, err = netns.New("secrets-manager"); err != nil {
		return nil, err
	}
	if m.link, err = netns.NewLink(linkDev, netns.Endpoint{NS: m.fn, Addr: fnAddr}, netns.Endpoint{NS: m.sm, Addr: smAddr}, 0); err != nil {
		return nil, err
	}
	if m.ep, err = newEndpoint(m.sm, smAddr+":443", p.endpoint); err != nil {
		return nil, err
	}
	// The copying costs a little of its own: measure it without delay,
	// and add what the round trip lacks. The fastest connect is that cost;
	// the median also holds the scheduling delays of a busy machine, and
	// subtracting those made the link short once the load was gone (a
	// 1.1 ms round trip for 2 ms, beside a second make test).
	if err := m.measureLink(10); err != nil {
		return nil, err
	}
	m.link.SetDelay(linkDelay(rtt, m.rtt))
	m.rtt = nil
	if err := m.measureLink(10); err != nil {
		return nil, err
	}
	return m, nil
}

// linkDelay is the one-way delay that makes a connect across the link take
// rtt: half of what the fastest of the undelayed connects (ms) lacks, and
// none when even that one took rtt or longer.
func linkDelay(rtt time.Duration, undelayed []float64) time.Duration {
	return max(rtt-time.Duration(slices.Min(undelayed)*float64(time.Millisecond)), 0) / 2
}

// measureLink times n TCP connects from the function to the endpoint:
// one round trip each.
func (m *model) measureLink(n int) error {
	return m.fn.Do(func() error {
		for range n {
			t0 := time.Now()
			c, err := net.DialTimeout("tcp", smAddr+":443", 5*time.Second)
			if err != nil {
				return fmt.Errorf("the model's link does not carry TCP: %w", err)
			}
			m.rtt = append(m.rtt, ms(time.Since(t0)))
			c.Close()
		}
		return nil
	})
}

// Close takes the model down: the endpoint, the link and its devices, the
// namespaces. Every process started in it must have been stopped. It is
// safe to call on a model that was only partly built.
func (m *model) Close() {
	if m.ep != nil {
		m.ep.Close()
	}
	if m.link != nil {
		m.link.Close()
	}
	for _, ns := range []*netns.NS{m.fn, m.sm} {
		if ns != nil {
			ns.Close()
		}
	}
}

// dial connects from inside the function's namespace: the emulator
// listens on its loopback.
func (m *model) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := m.fn.Do(func() (err error) {
		c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// client is an HTTP client whose connections start in the function's
// namespace.
func (m *model) client() *http.Client {
	return &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{DialContext: m.dial}}
}

// ports returns two loopback ports free in the function's namespace.
func (m *model) ports() (ports []int, err error) {
	err = m.fn.Do(func() (err error) {
		ports, err = proc.FreePorts(2)
		return err
	})
	return ports, err
}

// etcScript runs as the emulator's parent in a new mount namespace (whose
// mounts Go has made private): it lays the model's /etc over the host's,
// read-only as Lambda's is, and becomes the emulator.
const etcScript = `set -e
mount -t overlay -o ro,lowerdir="$1":/etc keygate-bench-etc /etc
shift
exec "$@"`

// start runs command (the emulator and its arguments) inside the model: in
// the function's network namespace, in a mount namespace of its own with
// the model's /etc, in dir with exactly env.
func (m *model) start(command []string, dir string, env []string) (*proc.Process, error) {
	cmd := exec.Command("/bin/sh", append([]string{"-c", etcScript, "sh", m.trust.etc}, command...)...)
	cmd.Dir, cmd.Env = dir, env
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	var p *proc.Process
	err := m.fn.Do(func() (err error) {
		p, err = proc.Start(cmd)
		return err
	})
	return p, err
}

// waitListening waits until addr, in the function's namespace, accepts a
// connection, or p exits.
func (m *model) waitListening(ctx context.Context, p *proc.Process, addr string, limit time.Duration) error {
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); {
		if c, err := m.dial(ctx, "tcp", addr); err == nil {
			c.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.Done():
			return errors.New("the emulator exited before it listened")
		case <-time.After(2 * time.Millisecond):
		}
	}
	return fmt.Errorf("nothing listened on %s within %s", addr, limit)
}

// modelEnv is the environment every function gets: what Lambda sets for a
// function (dummy credentials, no endpoint: the SDKs' default name, which
// the model's /etc/hosts resolves), and a home of its own, empty.
func modelEnv(dir string) ([]string, error) {
	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(home, 0o755); err != nil {
		return nil, err
	}
	return []string{
		"PATH=/usr/local/bin:/usr/bin:/bin",
		"LANG=en_US.UTF-8",
		"TZ=:UTC",
		"HOME=" + home,
		"AWS_REGION=us-east-1",
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=ASIAKEYGATEBENCHMODEL",
		"AWS_SECRET_ACCESS_KEY=keygate-bench-model-not-a-real-secret",
		"AWS_SESSION_TOKEN=keygate-bench-model-session-token",
		"AWS_LAMBDA_FUNCTION_NAME=keygate",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128",
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_TIMEOUT=30",
		"AWS_LAMBDA_INITIALIZATION_TYPE=on-demand",
		"API_KEY_SECRET_ID=" + secretName,
	}, nil
}
