package netns_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/test/internal/netns"
)

// inNamespace lists the processes of the machine whose network namespace
// is inode.
func inNamespace(inode uint64) []string {
	want := fmt.Sprintf("net:[%d]", inode)
	var pids []string
	links, _ := filepath.Glob("/proc/[0-9]*/task/[0-9]*/ns/net")
	for _, l := range links {
		if t, err := os.Readlink(l); err == nil && t == want {
			pids = append(pids, l)
		}
	}
	return pids
}

// Two namespaces joined by a delayed link: a TCP connection across it
// takes one round trip (twice the delay) to set up, and closing leaves
// nothing behind: no thread of this process stays in either namespace,
// and both devices are gone with them.
func TestLink(t *testing.T) {
	a, err := netns.New("test-a")
	if err != nil {
		t.Fatal(err) // needs root: make test runs as root, as CI does
	}
	defer a.Close()
	b, err := netns.New("test-b")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const delay = 2 * time.Millisecond
	link, err := netns.NewLink("kgtest0", netns.Endpoint{NS: a, Addr: "198.18.0.1"}, netns.Endpoint{NS: b, Addr: "198.18.0.2"}, delay)
	if err != nil {
		t.Fatal(err)
	}
	defer link.Close()
	var ln net.Listener
	if err := b.Do(func() (err error) { ln, err = net.Listen("tcp", "198.18.0.2:0"); return err }); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	var took time.Duration
	if err := a.Do(func() error {
		t0 := time.Now()
		c, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
		took = time.Since(t0)
		if err == nil {
			c.Close()
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if took < 2*delay {
		t.Errorf("connecting took %s, less than the round trip of %s", took, 2*delay)
	}
	// The host namespace does not see the link.
	if c, err := net.DialTimeout("tcp", ln.Addr().String(), 200*time.Millisecond); err == nil {
		c.Close()
		t.Errorf("the host reached %s", ln.Addr())
	}
	ia, _ := a.Inode()
	ib, _ := b.Inode()
	ln.Close()
	link.Close()
	a.Close()
	b.Close()
	for _, ino := range []uint64{ia, ib} {
		if p := inNamespace(ino); len(p) > 0 {
			t.Errorf("still in namespace %d after Close: %s", ino, strings.Join(p, " "))
		}
	}
	if held := heldFiles(); len(held) > 0 {
		t.Errorf("files still open after Close: %s", strings.Join(held, " "))
	}
}

// heldFiles are this process's descriptors of namespaces and TUN devices.
func heldFiles() []string {
	var held []string
	fds, _ := filepath.Glob("/proc/self/fd/*")
	for _, fd := range fds {
		if t, err := os.Readlink(fd); err == nil && (strings.HasPrefix(t, "net:") || t == "/dev/net/tun") {
			held = append(held, fd+" -> "+t)
		}
	}
	return held
}
