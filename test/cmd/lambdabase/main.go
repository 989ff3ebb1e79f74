// Command lambdabase prepares the Docker engine for `make local-api` and
// `make invoke`: it checks that an engine answers (explaining what to do
// when none does), that arm64 containers can run when the template's
// architecture is arm64 on another machine, and that the Lambda base image
// is there: pulled when the registry answers, the local one otherwise, or
// a stand-in built here (package engine) when there is none. The caller
// then runs sam local with --skip-pull-image.
//
//	go run ./cmd/lambdabase -arch arm64 -prefix local-api
//	go run ./cmd/lambdabase -probe   # exit 0 if an engine answers, 1 if not
//
// It installs and starts nothing: that is `make test-sam`'s business.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/keygate/keygate/test/internal/engine"
)

func main() {
	archFlag := flag.String("arch", "", "the template's architecture: arm64 or x86_64")
	probe := flag.Bool("probe", false, "only report (exit status 0 or 1) whether a Docker engine answers")
	prefix := flag.String("prefix", "lambdabase", "what the messages start with")
	flag.Parse()
	logf := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, *prefix+": "+format+"\n", args...)
	}
	ctx := context.Background()

	socket, err := engine.Socket()
	if err != nil {
		logf("%v", err)
		os.Exit(1)
	}
	c := engine.NewClient(socket)
	if err := c.Ping(ctx); err != nil {
		if *probe {
			os.Exit(1)
		}
		logf("sam local runs the function in a Docker container, and no Docker engine answers at %s (%v).", socket, err)
		logf("Start one (Docker Desktop; on Linux `sudo systemctl start docker`, or install it: `sudo apt-get install docker.io`), or use `make run` (the same handler on 127.0.0.1:3000, no Docker, no AWS) or `make invoke EVENT=events/<file>.json` (one event under the Runtime Interface Emulator, no Docker).")
		os.Exit(1)
	}
	if *probe {
		return
	}
	a, err := engine.ParseArch(*archFlag)
	if err != nil {
		logf("-arch: %v", err)
		os.Exit(2)
	}
	v, _ := c.Version(ctx)
	logf("Docker engine %s at %s", v, socket)
	if a == engine.ARM64 {
		if err := engine.CheckArm64(); err != nil {
			logf("the template's architecture is arm64: %v", err)
			os.Exit(1)
		}
	}
	if err := c.EnsureBaseImage(ctx, logf, a, engine.PullFirst); err != nil {
		logf("%v", err)
		os.Exit(1)
	}
}
