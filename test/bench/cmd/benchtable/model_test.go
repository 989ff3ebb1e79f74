package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/test/internal/netns"
	"github.com/keygate/keygate/test/rie"

	"github.com/keygate/keygate/test/bench"
)

// newTestModel builds the model or fails: it needs root, which make test
// and CI have, and it is never skipped.
func newTestModel(t *testing.T) *model {
	t.Helper()
	m, err := newModel(t.TempDir(), 2*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

// run runs a shell script inside the model, as a function would run, and
// returns its output.
func (m *model) run(t *testing.T, script string) string {
	t.Helper()
	p, err := m.start([]string{"/bin/sh", "-c", script}, t.TempDir(), []string{"PATH=/usr/bin:/bin:/usr/sbin"})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	case <-time.After(10 * time.Second):
		p.Stop()
		t.Fatalf("%q did not finish", script)
	}
	return p.Out.String()
}

// The function sees provided.al2023's trust store with the test root in
// it, and the endpoint's name resolves to the fake; its /etc is
// read-only, and the host's /etc is left as it was.
func TestModelLayout(t *testing.T) {
	m := newTestModel(t)
	out := m.run(t, `readlink /etc/ssl/certs; ls /etc/pki/tls/certs
grep -c 'BEGIN CERTIFICATE' /etc/pki/tls/certs/ca-bundle.crt
grep -c 'BEGIN TRUSTED CERTIFICATE' /etc/ssl/certs/ca-bundle.trust.crt
grep -c 'Keygate Bench Test Root CA' /etc/pki/tls/cert.pem
getent hosts `+endpointHost+`
touch /etc/keygate-bench-probe 2>/dev/null && echo writable || echo read-only`)
	n := m.trust.certs
	want := strings.Join([]string{"../pki/tls/certs", "ca-bundle.crt", "ca-bundle.trust.crt",
		strconv.Itoa(n), strconv.Itoa(n), "1", smAddr + "       " + endpointHost, "read-only"}, "\n") + "\n"
	if norm(out) != norm(want) {
		t.Errorf("inside the model:\n%s\nwant:\n%s", out, want)
	}
	if _, err := os.Stat("/etc/keygate-bench-probe"); err == nil {
		t.Error("the probe reached the host's /etc")
	}
	if hosts, _ := os.ReadFile("/etc/hosts"); strings.Contains(string(hosts), endpointHost) {
		t.Error("the host's /etc/hosts names the endpoint")
	}
	if b, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(b), "keygate-bench-etc") {
		t.Error("the model's /etc is mounted in the host's mount namespace")
	}
	if n < 100 || strings.Count(readString(t, m.trust.ats), "BEGIN CERTIFICATE") != 6 {
		t.Errorf("%d certificates in the bundle, %d in the ATS file", n, strings.Count(readString(t, m.trust.ats), "BEGIN CERTIFICATE"))
	}
}

// The link applies the delay it was calibrated to, checked without a
// bound that a busy machine could break (a median round trip within
// 1.5-20 ms once failed beside a second make test): the delay is at most
// half the round trip asked, since calibration only takes the copying's
// own cost away, and every connect measured across the link took at least
// two delays, because each packet waits its delay in a nanosleep, which
// the kernel never ends early. How close the round trip comes to the one
// asked depends on the load; the report prints it (modelNote).
func TestModelLink(t *testing.T) {
	const asked = 2 * time.Millisecond
	m := newTestModel(t)
	delay := m.link.Delay()
	if delay < 0 || delay > asked/2 {
		t.Errorf("one-way delay %s, want between 0 and half of the %s round trip asked", delay, asked)
	}
	if len(m.rtt) != 10 {
		t.Fatalf("%d connects measured across the delayed link, want 10", len(m.rtt))
	}
	for _, rtt := range m.rtt {
		if rtt < ms(2*delay) {
			t.Errorf("a connect took %.3f ms, less than two one-way delays of %s: the link does not delay its packets", rtt, delay)
		}
	}
	t.Logf("one-way delay %s; connects %.2f ms median, %.2f ms fastest (%s asked)", delay, median(m.rtt), slices.Min(m.rtt), asked)
}

// The calibration: half of what the fastest undelayed connect lacks of
// the round trip asked, never a negative delay.
func TestModelLinkDelay(t *testing.T) {
	for _, tc := range []struct {
		name      string
		undelayed []float64 // ms
		want      time.Duration
	}{
		{"quiet", []float64{0.25, 0.5, 0.75}, 875 * time.Microsecond},
		{"the fastest counts, not the median", []float64{3, 0.5, 2.5}, 750 * time.Microsecond},
		{"free copying", []float64{0}, time.Millisecond},
		{"copying as slow as the round trip", []float64{2}, 0},
		{"copying slower than the round trip", []float64{2.5, 4}, 0},
	} {
		if got := linkDelay(2*time.Millisecond, tc.undelayed); got != tc.want {
			t.Errorf("%s: linkDelay(2ms, %v) = %s, want %s", tc.name, tc.undelayed, got, tc.want)
		}
	}
}

// The endpoint answers GetSecretValue over TLS with the test chain, for
// the endpoint's name, across the delayed link, and counts what it saw.
func TestModelEndpoint(t *testing.T) {
	m := newTestModel(t)
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM([]byte(readString(t, m.trust.testRoot))) {
		t.Fatal("no test root")
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext:     func(ctx context.Context, _, _ string) (net.Conn, error) { return m.dial(ctx, "tcp", smAddr+":443") },
		TLSClientConfig: &tls.Config{RootCAs: roots},
	}}
	defer client.CloseIdleConnections()
	before := m.ep.counts()
	for range 2 {
		req, _ := http.NewRequest(http.MethodPost, "https://"+endpointHost+"/", strings.NewReader(`{"SecretId":"`+secretName+`"}`))
		req.Header.Set("X-Amz-Target", "secretsmanager.GetSecretValue")
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(t, resp)
		if resp.StatusCode != 200 || !strings.Contains(body, bench.ExampleKey) {
			t.Fatalf("GetSecretValue: %s %s", resp.Status, body)
		}
	}
	if got := m.ep.counts().since(before); got != (endpointCounts{reads: 2, handshakes: 1}) {
		t.Errorf("counts %+v, want two reads after one handshake", got)
	}
}

// Closing the model removes everything it made: no thread stays in its
// namespaces (which takes their devices with them), no descriptor of
// them is left, and the endpoint's port is closed.
func TestModelClose(t *testing.T) {
	m, err := newModel(t.TempDir(), 2*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	m.run(t, "true")
	m.Close()
	m.Close() // twice is harmless
	assertGone(t, m)
}

// An interrupt in the middle of a cold start (here: a bootstrap that
// never asks for work, so the invocation hangs) stops the emulator and
// the bootstrap, and the model then closes clean.
func TestInterruptedColdStart(t *testing.T) {
	emulator := rie.Emulator(t)
	m, err := newModel(t.TempDir(), 2*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	rest, err := event("rest-valid-key.json")
	if err != nil {
		t.Fatal(err)
	}
	f := function{key: "hang", label: "hang", command: []string{"/bin/sleep", "60"}, dir: t.TempDir(), first: rest}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		// Cancel once the bootstrap runs.
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if strings.Contains(psInNamespace(m.fn), "sleep") {
				break
			}
		}
		cancel()
	}()
	_, err = m.coldStart(ctx, emulator, f, []string{"PATH=/usr/bin:/bin"}, 1, nil, newColdResult())
	if !errors.Is(err, context.Canceled) {
		t.Errorf("coldStart returned %v, want the cancellation", err)
	}
	if h := m.fn.Holders(); len(h) != 1 { // this process's descriptor
		t.Errorf("after the interrupted cold start, the function's namespace holds %v", h)
	}
	m.Close()
	assertGone(t, m)
}

func assertGone(t *testing.T, m *model) {
	t.Helper()
	for _, ns := range []*netns.NS{m.fn, m.sm} {
		if h := ns.Holders(); len(h) > 0 {
			t.Errorf("namespace %s still held after Close: %v", ns.Name(), h)
		}
	}
	if fds, _ := os.ReadDir("/proc/self/fd"); len(fds) > 0 {
		for _, fd := range fds {
			if l, _ := os.Readlink("/proc/self/fd/" + fd.Name()); l == "/dev/net/tun" {
				t.Errorf("a TUN device is still open: fd %s", fd.Name())
			}
		}
	}
	if _, err := net.DialTimeout("tcp", m.ep.fake.URL[len("http://"):], time.Second); err == nil {
		t.Error("the fake still listens")
	}
}

// psInNamespace lists the commands of the processes inside ns.
func psInNamespace(ns *netns.NS) string {
	var cmds []string
	for _, h := range ns.Holders() {
		if strings.HasPrefix(h, "/proc/") && strings.Contains(h, "/task/") {
			b, _ := os.ReadFile(h + "/comm")
			cmds = append(cmds, strings.TrimSpace(string(b)))
		}
	}
	return strings.Join(cmds, " ")
}

func norm(s string) string {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		lines = append(lines, strings.Join(strings.Fields(sc.Text()), " "))
	}
	return strings.Join(lines, "\n")
}

func readString(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	var b strings.Builder
	if _, err := bufio.NewReader(resp.Body).WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
