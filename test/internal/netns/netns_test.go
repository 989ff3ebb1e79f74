package netns_test

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/test/internal/netns"
)

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
	if len(a.Holders()) == 0 {
		t.Fatal("Holders finds nothing in a namespace that is open")
	}
	ln.Close()
	link.Close()
	a.Close()
	b.Close()
	for _, ns := range []*netns.NS{a, b} {
		if h := ns.Holders(); len(h) > 0 {
			t.Errorf("namespace %s still held after Close: %s", ns.Name(), strings.Join(h, " "))
		}
	}
	if tun := tunFiles(); len(tun) > 0 {
		t.Errorf("TUN devices still open after Close: %s", strings.Join(tun, " "))
	}
}

// tunFiles are this process's descriptors of TUN devices.
func tunFiles() []string {
	var held []string
	fds, _ := filepath.Glob("/proc/self/fd/*")
	for _, fd := range fds {
		if t, err := os.Readlink(fd); err == nil && t == "/dev/net/tun" {
			held = append(held, fd)
		}
	}
	return held
}
