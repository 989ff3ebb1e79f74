// Command rieinvoke runs one sample event through keygate's bootstrap
// under the AWS Lambda Runtime Interface Emulator, without Docker: what
// `make invoke EVENT=…` does when no Docker engine answers. It starts the
// emulator on free loopback ports with the bootstrap, the variables
// events/env.json sets for KeygateFunction (as `sam local invoke
// --env-vars` would) and dummy AWS settings, POSTs the event, prints the
// function's answer on stdout and its log on stderr, and stops both.
//
//	rieinvoke -rie bin/invoke/aws-lambda-rie -bootstrap bin/invoke/bootstrap -event events/rest-valid-key.json
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/keygate/keygate/test/internal/proc"
)

const invokePath = "/2015-03-31/functions/function/invocations"

func main() {
	emulator := flag.String("rie", "", "the aws-lambda-rie binary")
	bootstrap := flag.String("bootstrap", "", "the function's bootstrap, built for this machine")
	event := flag.String("event", "", "the event file")
	envFile := flag.String("env", "events/env.json", "sam local's --env-vars file (its KeygateFunction entry)")
	flag.Parse()
	if *emulator == "" || *bootstrap == "" || *event == "" {
		flag.Usage()
		os.Exit(2)
	}
	// The emulator runs in a directory of its own: absolute paths.
	for _, p := range []*string{emulator, bootstrap} {
		if abs, err := filepath.Abs(*p); err == nil {
			*p = abs
		}
	}
	if err := run(*emulator, *bootstrap, *event, *envFile); err != nil {
		fmt.Fprintln(os.Stderr, "invoke:", err)
		os.Exit(1)
	}
}

func run(emulator, bootstrap, event, envFile string) error {
	payload, err := os.ReadFile(event)
	if err != nil {
		return err
	}
	fnEnv, err := functionEnv(envFile)
	if err != nil {
		return err
	}
	ports, err := proc.FreePorts(2)
	if err != nil {
		return err
	}
	home, err := os.MkdirTemp("", "keygate-invoke-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(home)
	empty := filepath.Join(home, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		return err
	}
	addr := "127.0.0.1:" + strconv.Itoa(ports[0])
	cmd := exec.Command(emulator,
		"--log-level", "error",
		"--runtime-interface-emulator-address", addr,
		"--runtime-api-address", "127.0.0.1:"+strconv.Itoa(ports[1]),
		bootstrap)
	cmd.Dir = home
	// What Lambda would set, dummies for AWS (the key comes from env.json's
	// API_KEY; nothing reaches AWS), and never the caller's AWS settings.
	cmd.Env = append([]string{
		"PATH=/usr/local/bin:/usr/bin:/bin",
		"HOME=" + home,
		"AWS_CONFIG_FILE=" + empty,
		"AWS_SHARED_CREDENTIALS_FILE=" + empty,
		"AWS_REGION=us-east-1",
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=AKIDKEYGATELOCALONLY",
		"AWS_SECRET_ACCESS_KEY=keygate-local-secret-not-a-real-one",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_LAMBDA_FUNCTION_NAME=keygate-keygate",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128",
		"AWS_LAMBDA_FUNCTION_TIMEOUT=10",
	}, fnEnv...)
	p, err := proc.Start(cmd)
	if err != nil {
		return err
	}
	defer p.Stop()
	fmt.Fprintf(os.Stderr, "invoke: the Runtime Interface Emulator listens on %s; POST %s\n", addr, event)
	if err := waitListening(addr, p); err != nil {
		return fmt.Errorf("%w; emulator output:\n%s", err, p.Out.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+invokePath, bytes.NewReader(payload))
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("invoking: %w; emulator output:\n%s", err, p.Out.String())
	}
	answer, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	// The log lines arrive through a pipe: give the last one a moment,
	// then stop the bootstrap and the emulator (the whole group).
	time.Sleep(100 * time.Millisecond)
	p.Signal(syscall.SIGTERM)
	select {
	case <-p.Done():
	case <-time.After(2 * time.Second):
		p.Stop()
	}
	if logs := strings.TrimSpace(p.Out.String()); logs != "" {
		fmt.Fprintln(os.Stderr, logs)
	}
	fmt.Printf("%s\n", bytes.TrimSpace(answer))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("the emulator answered %s", resp.Status)
	}
	return nil
}

// functionEnv reads KeygateFunction's variables from sam local's
// --env-vars file.
func functionEnv(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var byFunction map[string]map[string]string
	if err := json.Unmarshal(b, &byFunction); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	vars, ok := byFunction["KeygateFunction"]
	if !ok {
		return nil, fmt.Errorf("%s has no KeygateFunction entry", path)
	}
	var env []string
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		env = append(env, k+"="+vars[k])
	}
	return env, nil
}

func waitListening(addr string, p *proc.Process) error {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if p.Exited() {
			return errors.New("the emulator exited before it listened")
		}
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return errors.New("the emulator did not listen within 15 s")
}
