// Command keygate manages the API keys in keygate's Secrets Manager secret:
// keys list, add, revoke, rotate (see `keygate help`). It only wires the
// process to internal/keyadmin.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/keygate/keygate/internal/keyadmin"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := keyadmin.Run(ctx, os.Args[1:], keyadmin.Env{
		Stdout:    os.Stdout,
		Stderr:    os.Stderr,
		Getenv:    os.Getenv,
		NewClient: keyadmin.NewSDKClient,
	})
	stop()
	os.Exit(code)
}
