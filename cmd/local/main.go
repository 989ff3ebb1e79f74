// Command local serves keygate's handler as an ordinary HTTP server on
// 127.0.0.1:3000 (the port `sam local start-api` uses), with no AWS account
// and no Docker. With no configuration it makes a random key for the
// session and prints it with a ready curl command.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/keygate/keygate/handler"
	"github.com/keygate/keygate/internal/apikey"
	"github.com/keygate/keygate/internal/config"
	"github.com/keygate/keygate/internal/decision"
	"github.com/keygate/keygate/internal/keycache"
	"github.com/keygate/keygate/internal/keysource"
	"github.com/keygate/keygate/internal/localserver"
	"github.com/keygate/keygate/internal/smclient"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:3000", "address to listen on")
	flag.Parse()
	if err := run(*addr); err != nil {
		fmt.Fprintln(os.Stderr, "keygate:", err)
		os.Exit(1)
	}
}

func run(addr string) error {
	cfg, err := config.FromEnv(os.Getenv)
	if err != nil {
		return err
	}
	log := config.NewLogger(os.Stdout, cfg.LogLevel)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var keys *keycache.Cache
	var sessionKey string
	if cfg.SecretID == "" && cfg.APIKey == "" {
		sessionKey = apikey.Generate()
		keys = keycache.New(keysource.NewStatic("generated", sessionKey), keycache.Options{Log: log})
	} else {
		keys = cfg.Keys(ctx, func(ctx context.Context) (keysource.GetSecretValueAPI, string, error) {
			return smclient.New(ctx, "", log)
		}, log)
	}
	if err := keys.Load(ctx); err != nil && cfg.SecretID == "" {
		// A key given in the environment that does not parse never
		// will: stop, as for any other setting that does not parse.
		return err
	}

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w (is another server, or sam local, using the port? try -addr 127.0.0.1:3001)", addr, err)
	}
	if sessionKey != "" {
		// The key is printed on purpose, once, to the person who started
		// the server: it exists only for this session.
		fmt.Fprintf(os.Stderr, "keygate: no API_KEY or API_KEY_SECRET_ID set, so this session's key is:\n\n  %s\n\ntry:\n\n  curl -i -H 'x-api-key: %s' http://%s/\n\n", sessionKey, sessionKey, ln.Addr())
	}
	fmt.Fprintf(os.Stderr, "keygate: listening on http://%s/ (Ctrl-C to stop)\n", ln.Addr())
	switch {
	case cfg.SecretID != "":
		fmt.Fprintf(os.Stderr, "keygate: a key revoked from the secret stops working here at the next refresh (KEY_REFRESH=%s) or a restart; `keygate keys revoke --now` reaches Lambda functions only\n", cfg.Refresh)
	case cfg.APIKey != "":
		fmt.Fprintln(os.Stderr, "keygate: the key comes from API_KEY: to revoke it, change API_KEY and restart; no `keygate keys` command reaches it")
	}

	srv := localserver.New(handler.New(decision.New(keys), log))
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutting down: %w", err)
	}
	fmt.Fprintln(os.Stderr, "keygate: stopped")
	return nil
}
