package proof

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keygate/keygate/test/internal/proc"
	"github.com/keygate/keygate/test/internal/repo"
	"github.com/keygate/keygate/test/internal/wait"
	"github.com/keygate/keygate/test/rie"
)

// localServer builds cmd/local once per test binary (the emulator harness's
// build cache) and returns its path.
func localServer(t *testing.T) string {
	t.Helper()
	return rie.Build(t, "./cmd/local", false)
}

// localEnv is an environment with nothing of the developer's AWS setup.
func localEnv(t *testing.T, extra ...string) []string {
	dir := t.TempDir()
	return append([]string{
		"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + dir,
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"AWS_EC2_METADATA_DISABLED=true",
	}, extra...)
}

// A setting that does not parse stops `make run`'s server before it
// listens, naming the variable, and never showing a value that could be a
// key; the Lambda bootstrap fails closed instead (e2e's no-key tests).
func TestLocalServerRefusesBadSettings(t *testing.T) {
	bin := localServer(t)
	const pasted = "kgPastedKey0123456789abcdefABCDEF"
	for _, tt := range []struct {
		name string
		env  []string
		says string
	}{
		{"API_KEY with a space", []string{"API_KEY=kg key with space"}, "API_KEY is set but"},
		{"API_KEY with a comma", []string{"API_KEY=kgKeyOne,kgKeyTwo"}, "API_KEY is set but"},
		{"API_KEY blank", []string{"API_KEY=   "}, "empty or only whitespace"},
		{"KEY_REFRESH not a duration", []string{"API_KEY=kgLocalKey0123456789", "KEY_REFRESH=banana"}, "KEY_REFRESH="},
		{"a key pasted into KEY_REFRESH", []string{"API_KEY=kgLocalKey0123456789", "KEY_REFRESH=" + pasted}, "KEY_REFRESH=(a value of 33 characters, not shown"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, "-addr", "127.0.0.1:0")
			cmd.Env = localEnv(t, tt.env...)
			out, err := cmd.CombinedOutput()
			if code := cmd.ProcessState.ExitCode(); err == nil || code != 1 {
				t.Fatalf("exit %d (%v), want 1:\n%s", code, err, out)
			}
			if !strings.Contains(string(out), tt.says) || strings.Contains(string(out), "listening") {
				t.Errorf("output does not say %q, or the server listened:\n%s", tt.says, out)
			}
			if strings.Contains(string(out), pasted) {
				t.Errorf("the pasted key reached the output:\n%s", out)
			}
		})
	}
}

// Without AWS credentials the local server says that credentials are
// missing, and the SDK's own warnings (here "falling back to IMDSv1", from
// a loopback stand-in for the instance metadata service that refuses
// tokens) come out as JSON log lines, not plain text.
func TestLocalServerWithoutCredentials(t *testing.T) {
	imds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/latest/api/token" {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		http.NotFound(w, r)
	}))
	defer imds.Close()
	ports, err := proc.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(ports[0])
	cmd := exec.Command(localServer(t), "-addr", addr)
	cmd.Env = localEnv(t, "API_KEY_SECRET_ID=keygate/api-key", "AWS_REGION=us-east-1",
		"AWS_EC2_METADATA_DISABLED=false", "AWS_EC2_METADATA_SERVICE_ENDPOINT="+imds.URL,
		"AWS_ENDPOINT_URL_SECRETS_MANAGER=http://127.0.0.1:1", "KEY_LOAD_TIMEOUT=2s")
	cmd.Dir, _ = repo.Root()
	p, err := proc.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	wait.Until(t, time.Minute, "the local server", func() (bool, string) {
		return strings.Contains(p.Out.String(), "listening on"), "not listening"
	})
	p.Signal(syscall.SIGTERM)
	<-p.Done()
	out := p.Out.String()
	var loadFailed, sdkWarning bool
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.HasPrefix(line, "keygate: ") {
			continue // the server's own words to the person who started it
		}
		var rec struct{ Level, Msg, Error string }
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("a line that is neither JSON nor keygate's: %q", line)
			continue
		}
		switch {
		case rec.Msg == "key load failed":
			loadFailed = true
			if !strings.Contains(rec.Error, "no AWS credentials were found") || strings.Contains(rec.Error, "reachable") {
				t.Errorf("key load failed: %q, want it to say that credentials are missing", rec.Error)
			}
		case strings.HasPrefix(rec.Msg, "aws sdk: ") && rec.Level == "WARN":
			sdkWarning = true
		}
	}
	if !loadFailed || !sdkWarning {
		t.Errorf("want a key load failure and an SDK warning as JSON lines:\n%s", out)
	}
}
