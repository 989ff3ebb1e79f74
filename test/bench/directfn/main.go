// Command directfn is the second baseline of `make bench`: a hand-written
// REST API (payload 1.0) function on aws-lambda-go's events (package
// bench/direct), with no HTTP adapter, that loads its key at cold start
// exactly as keygate does (envclient, keysource.SecretsManager). Against
// it, keygate's extra cold-start and warm cost is that of its own design
// (every front door through one http.Handler, the key cache), not of
// fetching a key or decoding an event.
package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/keygate/keygate/internal/config"
	"github.com/keygate/keygate/internal/keysource"
	"github.com/keygate/keygate/internal/smclient/envclient"
	"github.com/keygate/keygate/test/bench/direct"
)

func main() {
	log := config.NewLogger(os.Stdout, slog.LevelInfo)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	client, region, err := envclient.New(ctx)
	if err != nil {
		log.Error("key load failed", slog.String("error", err.Error()))
		os.Exit(1)
	}
	src := &keysource.SecretsManager{Client: client, SecretID: os.Getenv("API_KEY_SECRET_ID"), Region: region, Grace: config.DefaultGrace}
	snap, err := src.Load(ctx, false)
	if err != nil {
		log.Error("key load failed", slog.String("error", err.Error()))
		os.Exit(1)
	}
	lambda.Start(direct.New(snap.Set, log).ServeREST)
}
