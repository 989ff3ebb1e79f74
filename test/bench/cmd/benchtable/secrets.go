package main

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keygate/keygate/internal/testsupport/smfake"
	"github.com/keygate/keygate/test/internal/netns"

	"github.com/keygate/keygate/test/bench"
)

// The secrets the functions read at cold start.
const (
	// secretName's only version (AWSCURRENT) was created 30 days ago: past
	// the rotation grace period, the usual case.
	secretName = "keygate/bench"
	// graceSecret was rotated an hour ago: AWSCURRENT holds the key and
	// AWSPREVIOUS the old one, whose keys keygate still accepts (KEY_GRACE
	// is 24 h by default).
	graceSecret = "keygate/grace"
	previousKey = "kgPreviousBenchKey00aaaabbbbccccdddd"
)

// endpoint is Secrets Manager as the model's functions reach it: the
// wire-level fake (internal/testsupport/smfake) behind a TLS listener on port 443 of
// the model's Secrets Manager namespace, with the certificate of
// endpointHost. The fake itself listens on this process's loopback; each
// connection is decrypted and its bytes copied to it.
type endpoint struct {
	fake *smfake.Server
	ln   net.Listener
	tls  *tls.Config

	handshakes atomic.Int64

	mu     sync.Mutex
	active map[net.Conn]struct{}
	wg     sync.WaitGroup
	once   sync.Once
}

// endpointCounts is what the endpoint has seen, for one cold start's
// difference.
type endpointCounts struct {
	reads, handshakes int
}

func newEndpoint(ns *netns.NS, addr string, cert tls.Certificate) (*endpoint, error) {
	fake := smfake.New()
	now := time.Now()
	fake.SetCreated(secretName, fake.Put(secretName, bench.ExampleKey), now.Add(-30*24*time.Hour))
	fake.SetCreated(graceSecret, fake.Put(graceSecret, previousKey), now.Add(-40*24*time.Hour))
	fake.SetCreated(graceSecret, fake.Put(graceSecret, bench.ExampleKey), now.Add(-time.Hour))
	e := &endpoint{
		fake: fake,
		// HTTP/1.1 only: the fake speaks nothing else.
		tls:    &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}, MinVersion: tls.VersionTLS12},
		active: map[net.Conn]struct{}{},
	}
	err := ns.Do(func() (err error) {
		e.ln, err = net.Listen("tcp", addr)
		return err
	})
	if err != nil {
		fake.Close()
		return nil, err
	}
	e.wg.Add(1)
	go e.serve()
	return e, nil
}

func (e *endpoint) serve() {
	defer e.wg.Done()
	for {
		c, err := e.ln.Accept()
		if err != nil {
			return
		}
		if !e.track(c, true) {
			c.Close()
			return
		}
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			defer e.track(c, false)
			e.relay(c)
		}()
	}
}

// track adds or removes c from the open connections; it refuses to add
// once Close has begun.
func (e *endpoint) track(c net.Conn, add bool) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !add {
		delete(e.active, c)
		return true
	}
	if e.active == nil {
		return false
	}
	e.active[c] = struct{}{}
	return true
}

// relay completes the TLS handshake on c and copies the plain bytes to and
// from a connection of its own to the fake.
func (e *endpoint) relay(c net.Conn) {
	defer c.Close()
	tc := tls.Server(c, e.tls)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		return // a probe of the link, or a client that does not trust the chain
	}
	e.handshakes.Add(1)
	back, err := net.Dial("tcp", e.fake.URL[len("http://"):])
	if err != nil {
		return
	}
	defer back.Close()
	done := make(chan struct{}, 2)
	copyHalf := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go copyHalf(back, tc)
	go copyHalf(tc, back)
	<-done // either side closing ends both
}

func (e *endpoint) counts() endpointCounts {
	return endpointCounts{
		reads:      e.fake.Calls("GetSecretValue"),
		handshakes: int(e.handshakes.Load()),
	}
}

func (c endpointCounts) since(before endpointCounts) endpointCounts {
	return endpointCounts{c.reads - before.reads, c.handshakes - before.handshakes}
}

// Close stops the listener, closes every connection and the fake. It is
// safe to call more than once.
func (e *endpoint) Close() {
	e.once.Do(func() {
		e.ln.Close()
		e.mu.Lock()
		for c := range e.active {
			c.Close()
		}
		e.active = nil
		e.mu.Unlock()
		e.wg.Wait()
		e.fake.Close()
	})
}
