// Package netns gives the harness network namespaces of its own, and a
// link between two of them with a fixed delay, without leaving anything on
// the machine: a namespace here has no name (nothing under /run/netns), it
// is held by a file descriptor of this process, and the link's devices are
// non-persistent TUN devices that vanish with the descriptors. When the
// process exits, however it exits, the kernel removes all of it once the
// processes started inside have gone too (they get SIGKILL through
// Pdeathsig when started with package proc).
//
// A namespace is entered one OS thread at a time: Do runs a function on a
// locked thread that has joined the namespace, and anything that function
// creates there (a socket, a listener, a TUN device, a process it starts)
// belongs to the namespace, whichever thread uses it afterwards. Creating
// and entering namespaces needs root (CAP_SYS_ADMIN); New says so when it
// cannot.
package netns

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/keygate/keygate/test/internal/proc"
)

// NS is a network namespace held open by this process.
type NS struct {
	name  string
	fd    int
	inode uint64
	once  sync.Once
}

const threadNS = "/proc/thread-self/ns/net"

// New creates an empty network namespace (only a loopback device, down).
// name appears in messages only.
func New(name string) (*NS, error) {
	var fd int
	err := inside(func() error {
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("unshare(CLONE_NEWNET): %w (creating a network namespace needs root)", err)
		}
		return nil
	}, func() (err error) {
		fd, err = unix.Open(threadNS, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("netns %s: %w", name, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netns %s: %w", name, err)
	}
	return &NS{name: name, fd: fd, inode: st.Ino}, nil
}

// Name is the name given to New.
func (n *NS) Name() string { return n.name }

// Holders lists what keeps the namespace alive, also after Close: the
// threads inside it of this process and of the processes it started
// (/proc/PID/task/TID), and this process's descriptors of it. Empty, the
// kernel has removed it, and with it its devices and sockets. Only this
// process tree is searched: once the namespace is gone, the kernel may give
// its inode number to a namespace another process makes (a second test run
// beside this one did), and that one is not this.
func (n *NS) Holders() []string {
	want := fmt.Sprintf("net:[%d]", n.inode)
	var links []string
	for _, pid := range proc.Tree(os.Getpid()) {
		l, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/[0-9]*/ns/net", pid))
		links = append(links, l...)
	}
	fds, _ := filepath.Glob("/proc/self/fd/*")
	var held []string
	for _, l := range append(links, fds...) {
		if t, err := os.Readlink(l); err == nil && t == want {
			held = append(held, strings.TrimSuffix(l, "/ns/net"))
		}
	}
	return held
}

// Do runs f on an OS thread inside the namespace, then returns the thread
// to the namespace it came from. f must do its work in its own goroutine:
// goroutines it starts run elsewhere.
func (n *NS) Do(f func() error) error {
	return inside(func() error {
		if err := unix.Setns(n.fd, unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("entering network namespace %s: %w", n.name, err)
		}
		return nil
	}, f)
}

// Run runs a command (ip, ping) inside the namespace and returns its
// error with its output.
func (n *NS) Run(name string, args ...string) error {
	return n.Do(func() error {
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s %v in %s: %w: %s", name, args, n.name, err, out)
		}
		return nil
	})
}

// Close drops this process's hold on the namespace. The kernel removes it
// when nothing else (a process, a socket, a device) is left in it.
func (n *NS) Close() {
	n.once.Do(func() { unix.Close(n.fd) })
}

// inside runs enter, which moves the calling thread to another network
// namespace, then f there, on a goroutine locked to its OS thread, and
// then returns the thread to the namespace it came from. If that fails,
// the thread is not handed back to the scheduler and ends with the
// goroutine. A process that f starts lives only as long as the thread
// (Pdeathsig follows the parent thread), which is why the thread is
// returned rather than dropped.
func inside(enter, f func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open(threadNS, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			done <- err
			return
		}
		defer unix.Close(orig)
		if err := enter(); err != nil {
			runtime.UnlockOSThread()
			done <- err
			return
		}
		ferr := f()
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
			done <- errors.Join(ferr, fmt.Errorf("returning to the original network namespace: %w", err))
			return // locked: the thread ends here
		}
		runtime.UnlockOSThread()
		done <- ferr
	}()
	return <-done
}

// Link joins two namespaces with a point-to-point IPv4 link whose every
// packet takes a fixed time each way: the stand-in for
// `tc qdisc add … netem delay`, for kernels without the netem qdisc. It is
// a TUN device in each namespace and this process copying packets from one
// to the other after the delay, so a round trip costs twice the delay at
// packet level (TCP handshake, TLS flights, request and answer alike), plus
// the copying's own few tens of microseconds.
type Link struct {
	files [2]*os.File
	delay atomic.Int64 // one way, ns
	wg    sync.WaitGroup
	once  sync.Once
}

// Endpoint is one end of a Link.
type Endpoint struct {
	NS   *NS
	Addr string // an IPv4 address, e.g. 198.18.0.1
}

// NewLink creates a TUN device called dev in each namespace, with a's
// address and b's as its peer and the other way round, sets it and the
// namespace's loopback up, and starts copying with the given one-way
// delay. Close stops it and removes both devices.
func NewLink(dev string, a, b Endpoint, oneWay time.Duration) (*Link, error) {
	l := &Link{}
	for i, end := range []Endpoint{a, b} {
		peer := []Endpoint{b, a}[i]
		f, err := openTun(end.NS, dev)
		if err != nil {
			l.Close()
			return nil, err
		}
		l.files[i] = f
		for _, args := range [][]string{
			{"link", "set", "lo", "up"},
			{"addr", "add", end.Addr, "peer", peer.Addr, "dev", dev},
			{"link", "set", dev, "up"},
		} {
			if err := end.NS.Run(ipCommand(), args...); err != nil {
				l.Close()
				return nil, err
			}
		}
	}
	l.SetDelay(oneWay)
	l.pipe(l.files[0], l.files[1])
	l.pipe(l.files[1], l.files[0])
	return l, nil
}

// SetDelay changes the one-way delay of the packets read from now on.
func (l *Link) SetDelay(oneWay time.Duration) { l.delay.Store(int64(max(oneWay, 0))) }

// Delay is the one-way delay the link applies to the packets it reads.
func (l *Link) Delay() time.Duration { return time.Duration(l.delay.Load()) }

// ipCommand is iproute2's ip, which may not be on a non-root PATH.
func ipCommand() string {
	if p, err := exec.LookPath("ip"); err == nil {
		return p
	}
	return "/usr/sbin/ip"
}

// openTun creates a non-persistent TUN device inside ns: it exists while
// the returned file is open.
func openTun(ns *NS, dev string) (*os.File, error) {
	var f *os.File
	err := ns.Do(func() error {
		fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("opening /dev/net/tun: %w", err)
		}
		req, err := unix.NewIfreq(dev)
		if err != nil {
			unix.Close(fd)
			return err
		}
		req.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
		if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, req); err != nil {
			unix.Close(fd)
			return fmt.Errorf("creating TUN device %s in %s: %w", dev, ns.name, err)
		}
		// Non-blocking, so that reads go through the runtime's poller and
		// Close interrupts them.
		if err := unix.SetNonblock(fd, true); err != nil {
			unix.Close(fd)
			return err
		}
		f = os.NewFile(uintptr(fd), ns.name+":"+dev)
		return nil
	})
	return f, err
}

type packet struct {
	due time.Time
	b   []byte
}

// pipe copies packets from src to dst, each one delay after it was read.
// A packet that finds 4096 others queued is dropped, as a full link would.
func (l *Link) pipe(src, dst *os.File) {
	q := make(chan packet, 4096)
	l.wg.Add(2)
	go func() {
		defer l.wg.Done()
		defer close(q)
		buf := make([]byte, 65536)
		for {
			n, err := src.Read(buf)
			if err != nil {
				return // closed
			}
			select {
			case q <- packet{time.Now().Add(time.Duration(l.delay.Load())), append([]byte(nil), buf[:n]...)}:
			default:
			}
		}
	}()
	go func() {
		defer l.wg.Done()
		// Go's timers round waits under a millisecond up to the
		// netpoller's millisecond, so this goroutine sleeps in the kernel
		// on a thread of its own with a 1 µs timer slack. The thread is
		// never handed back (the slack stays with it): it ends with the
		// goroutine.
		runtime.LockOSThread()
		_ = unix.Prctl(unix.PR_SET_TIMERSLACK, 1000, 0, 0, 0)
		for p := range q {
			if d := time.Until(p.due); d > 0 {
				ts := unix.NsecToTimespec(int64(d))
				for unix.Nanosleep(&ts, &ts) == syscall.EINTR {
				}
			}
			_, _ = dst.Write(p.b) // a packet lost while closing does not matter
		}
	}()
}

// Close stops the copying and removes both devices. It is safe to call
// more than once.
func (l *Link) Close() {
	l.once.Do(func() {
		for _, f := range l.files {
			if f != nil {
				f.Close()
			}
		}
		l.wg.Wait()
	})
}
