package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/keygate/keygate/test/internal/repo"
)

// binaries are the programs measured, built in this run.
type binaries struct {
	rie, keygate, hello, direct, naive, local, bombardier string
	// size of each Lambda bootstrap, stripped, per GOARCH
	sizes map[string][2]int64 // arch → {keygate, hello}
}

// lambdaFlags are the Makefile's LAMBDA_BUILD flags: both bootstraps get
// exactly these, so the difference between them is keygate's own.
var lambdaFlags = []string{"-trimpath", "-tags", "lambda.norpc", "-ldflags=-s -w -buildid="}

// deployArch is what template.yaml deploys (the Makefile's LAMBDA_GOARCH).
const deployArch = "arm64"

type buildStep struct {
	out, pkg, arch string
	lambda         bool // built with lambdaFlags, size recorded
}

func buildAll(ctx context.Context, root, dir string) (binaries, error) {
	b := binaries{
		rie:        filepath.Join(dir, "aws-lambda-rie"),
		keygate:    filepath.Join(dir, "keygate", "bootstrap"),
		hello:      filepath.Join(dir, "hello", "bootstrap"),
		direct:     filepath.Join(dir, "direct", "bootstrap"),
		naive:      filepath.Join(dir, "naive", "bootstrap"),
		local:      filepath.Join(dir, "keygate-local"),
		bombardier: filepath.Join(dir, "bombardier"),
		sizes:      map[string][2]int64{},
	}
	host := runtime.GOARCH
	steps := []buildStep{
		{b.rie, "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie", host, false},
		{b.local, "./cmd/local", host, false},
		{b.bombardier, "github.com/codesenberg/bombardier", host, false},
		{b.keygate, "./cmd/api", host, true},
		{b.hello, "./test/bench/hello", host, true},
		{b.direct, "./test/bench/directfn", host, true},
		{b.naive, "./test/bench/floor/naive", host, true},
	}
	if host != deployArch {
		steps = append(steps,
			buildStep{filepath.Join(dir, deployArch, "keygate"), "./cmd/api", deployArch, true},
			buildStep{filepath.Join(dir, deployArch, "hello"), "./test/bench/hello", deployArch, true})
	}
	// In parallel, two at a time per core: with a warm build cache most of
	// a build is its link, which uses one core.
	sizes := map[string]map[string]int64{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make([]error, len(steps))
	slots := make(chan struct{}, 2*runtime.NumCPU())
	for i, s := range steps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			slots <- struct{}{}
			defer func() { <-slots }()
			size, err := build(ctx, s)
			if err != nil || !s.lambda {
				errs[i] = err
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if sizes[s.arch] == nil {
				sizes[s.arch] = map[string]int64{}
			}
			sizes[s.arch][s.pkg] = size
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return b, err
	}
	for arch, m := range sizes {
		b.sizes[arch] = [2]int64{m["./cmd/api"], m["./test/bench/hello"]}
	}
	return b, nil
}

// build runs one step and returns the size of what it built.
func build(ctx context.Context, s buildStep) (int64, error) {
	args := []string{"build", "-o", s.out}
	env := append(os.Environ(), "GOOS=linux", "GOARCH="+s.arch)
	if s.lambda {
		args = append(args, lambdaFlags...)
		env = append(env, "CGO_ENABLED=0")
	}
	dir, rel, err := repo.GoPackage(s.pkg)
	if err != nil {
		return 0, err
	}
	args = append(args, rel)
	cmd := exec.CommandContext(ctx, goTool(), args...)
	cmd.Dir, cmd.Env = dir, env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("go %v: %w\n%s", args, err, out.Bytes())
	}
	fi, err := os.Stat(s.out)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// goTool is the go command that runs this program (make passes $(GO) on
// PATH), or the one of the toolchain that built it.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}
