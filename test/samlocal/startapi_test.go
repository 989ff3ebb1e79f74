//go:build samlocal

package samlocal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	samples "github.com/keygate/keygate/events"
	"github.com/keygate/keygate/internal/testsupport/doortest"
	"github.com/keygate/keygate/test/internal/proc"
	"github.com/keygate/keygate/test/internal/repo"
	"github.com/keygate/keygate/test/internal/wait"
)

// api is one `sam local start-api`.
type api struct {
	URL string
	p   *proc.Process
}

// startAPI runs `sam local start-api` with args on a free loopback port in
// dir and waits until it serves. The test's cleanup stops it with SIGTERM
// to its process group (SAM then removes its containers) and fails if it
// does not exit on its own.
func startAPI(t *testing.T, dir string, args ...string) *api {
	t.Helper()
	bin, err := repo.Tool("sam")
	if err != nil {
		t.Fatal(err)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		ports, err := proc.FreePorts(1)
		if err != nil {
			t.Fatal(err)
		}
		port := strconv.Itoa(ports[0])
		cmd := exec.Command(bin, append([]string{"local", "start-api", "--host", "127.0.0.1", "--port", port, "--skip-pull-image"}, args...)...)
		cmd.Dir = dir
		cmd.Env = samEnv()
		p, err := proc.Start(cmd)
		if err != nil {
			t.Fatal(err)
		}
		a := &api{URL: "http://127.0.0.1:" + port, p: p}
		if err := a.waitReady(port); err != nil {
			p.Stop()
			lastErr = fmt.Errorf("%w\n%s", err, p.Out.String())
			if strings.Contains(p.Out.String(), "Address already in use") {
				continue
			}
			break
		}
		t.Cleanup(func() {
			if !a.terminate(t) {
				t.Errorf("sam local start-api did not exit within 30 s of SIGTERM")
			}
			if t.Failed() {
				t.Logf("sam local start-api output:\n%s", p.Out.String())
			}
		})
		return a
	}
	t.Fatalf("sam local start-api: %v", lastErr)
	return nil
}

// terminate stops the start-api with SIGTERM to its process group and
// reports whether it exited within 30 s; it kills it otherwise. SAM CLI's
// SIGTERM handler (aws/aws-sam-cli#6697) raises an exception in whatever
// its main thread runs: when that is socketserver handing a connection to
// a new thread, socketserver prints the exception ("Exception occurred during
// processing of request", ProcessSigTermException) and serves on, as if
// no signal had come. So a SIGTERM it swallowed is sent again, as a user
// presses Ctrl-C a second time, and the test says so; a start-api that
// outlives three of them fails the test.
func (a *api) terminate(t *testing.T) bool {
	t.Helper()
	// What socketserver's handle_error prints after such a traceback: never
	// part of a normal stop, where the exception ends serve_forever.
	const swallowed = "samcli.local.docker.exceptions.ProcessSigTermException\n----------------------------------------"
	sent := 0
	deadline := time.After(30 * time.Second)
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		if n := strings.Count(a.p.Out.String(), swallowed); n >= sent && sent < 3 {
			if sent > 0 {
				t.Logf("sam local start-api swallowed SIGTERM %d (socketserver printed SAM CLI's ProcessSigTermException and served on): sending another", sent)
			}
			a.p.Signal(syscall.SIGTERM)
			sent++
		}
		select {
		case <-a.p.Done():
			a.p.Stop()
			return true
		case <-deadline:
			a.p.Stop()
			return false
		case <-tick.C:
		}
	}
}

func (a *api) waitReady(port string) error {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if a.p.Exited() {
			return errors.New("sam local start-api exited before it served")
		}
		if strings.Contains(a.p.Out.String(), "Running on http") {
			if c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, time.Second); err == nil {
				c.Close()
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("sam local start-api did not serve within 2 minutes")
}

// call is one request to a local API.
type call struct {
	name    string
	method  string
	path    string
	headers [][2]string // in order; a name may repeat
	body    string
}

// exchange is a call and what came back.
type exchange struct {
	status int
	header http.Header
	body   string
}

func (a *api) do(t *testing.T, c call) exchange {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	req, err := http.NewRequestWithContext(ctx, c.method, a.URL+c.path, body)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range c.headers {
		req.Header.Add(h[0], h[1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", c.method, c.path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return exchange{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// record logs an exchange as the closing note quotes it: the request, the
// status line, the headers that matter, the body.
func record(t *testing.T, c call, x exchange) {
	t.Helper()
	redact := strings.NewReplacer(samples.RightKey, "<the key>", samples.WrongKey, "<a wrong key>")
	var hs []string
	for _, h := range c.headers {
		hs = append(hs, h[0]+": "+redact.Replace(h[1]))
	}
	var got []string
	for k := range x.header {
		switch k {
		case "Date", "Server", "Connection", "Content-Length":
			continue
		}
		got = append(got, k+": "+strings.Join(x.header.Values(k), ", "))
	}
	sort.Strings(got)
	t.Logf("%s %s [%s] → %d %s [%s] %s", c.method, redact.Replace(c.path), strings.Join(hs, "; "), x.status, http.StatusText(x.status), strings.Join(got, "; "), x.body)
}

// keygate's own API under `sam local start-api`, on arm64, with
// samconfig.toml as users have it (events/env.json's key, warm
// containers), over the README's behaviour table: the status, the fixed
// body and the headers of every answer.
func TestStartAPIBehaviourTable(t *testing.T) {
	a := startAPI(t, root, "--template", filepath.Join(builds["arm64"], "template.yaml"), "--config-file", filepath.Join(root, "samconfig.toml"))
	key := samples.RightKey
	cases := []struct {
		call
		want int
	}{
		{call{"valid key", "GET", "/", [][2]string{{"x-api-key", key}}, ""}, 200},
		{call{"valid key, HEAD", "HEAD", "/", [][2]string{{"x-api-key", key}}, ""}, 200},
		{call{"header name in capitals", "GET", "/", [][2]string{{"X-API-KEY", key}}, ""}, 200},
		{call{"no key", "GET", "/", nil, ""}, 401},
		{call{"no key, HEAD", "HEAD", "/", nil, ""}, 401},
		{call{"empty key", "GET", "/", [][2]string{{"x-api-key", ""}}, ""}, 401},
		{call{"wrong key", "GET", "/", [][2]string{{"x-api-key", samples.WrongKey}}, ""}, 401},
		{call{"two keys", "GET", "/", [][2]string{{"x-api-key", key}, {"x-api-key", key}}, ""}, 401},
		{call{"comma-joined keys", "GET", "/", [][2]string{{"x-api-key", key + "," + key}}, ""}, 401},
		{call{"key in the query string", "GET", "/?x-api-key=" + key, nil, ""}, 401},
		{call{"key in Authorization", "GET", "/", [][2]string{{"Authorization", "ApiKey " + key}}, ""}, 401},
		{call{"key in the body", "POST", "/", [][2]string{{"Content-Type", "application/json"}}, `{"x-api-key":"` + key + `"}`}, 401},
		{call{"unknown path, no key", "GET", "/nope", nil, ""}, 401},
		{call{"other method, no key", "DELETE", "/", nil, ""}, 401},
		{call{"unknown path", "GET", "/nope", [][2]string{{"x-api-key", key}}, ""}, 404},
		{call{"POST /", "POST", "/", [][2]string{{"x-api-key", key}}, ""}, 405},
		{call{"PUT /", "PUT", "/", [][2]string{{"x-api-key", key}}, ""}, 405},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			x := a.do(t, tc.call)
			record(t, tc.call, x)
			if x.status != tc.want {
				t.Errorf("status %d, want %d", x.status, tc.want)
			}
			doortest.CheckHygiene(t, tc.want, x.header, x.body, tc.method == http.MethodHead)
		})
	}
	// Every request reached the function: one log line each (the output
	// comes through SAM a little after the answers).
	wait.Until(t, 15*time.Second, "the function's request log lines", func() (bool, string) {
		n := strings.Count(a.p.Out.String(), `"msg":"request"`)
		return n == len(cases), fmt.Sprintf("%d lines for %d requests", n, len(cases))
	})
	// samconfig.toml's warm containers: one container served them all, and
	// none was started for the rotation function, which is not deployed.
	if n := strings.Count(a.p.Out.String(), "Init Duration"); n != 1 {
		t.Errorf("%d cold starts for %d requests", n, len(cases))
	}
	if strings.Contains(a.p.Out.String(), "/KeygateRotationFunction as /var/task") {
		t.Errorf("sam local start-api started the rotation function, which has no route:\n%s", a.p.Out.String())
	}
	stopAndCheck(t, a, builds["arm64"])
}

// stopAndCheck stops a start-api and checks that SAM removed the
// containers that mount dir.
func stopAndCheck(t *testing.T, a *api, dir string) {
	t.Helper()
	start := time.Now()
	if !a.terminate(t) {
		t.Errorf("sam local start-api did not exit within 30 s of SIGTERM")
	}
	t.Logf("sam local start-api stopped %s after SIGTERM to its process group", time.Since(start).Round(1e7))
	if err := leftContainers(context.Background(), dir); err != nil {
		t.Error(err)
	}
}
