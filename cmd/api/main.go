// Command api is keygate's Lambda function (the bootstrap of the
// provided.al2023 runtime). It only wires: configuration, key source, key
// cache, HTTP handler, front-door adapter.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/keygate/keygate/handler"
	"github.com/keygate/keygate/internal/config"
	"github.com/keygate/keygate/internal/frontdoor"
	"github.com/keygate/keygate/internal/keycache"
	"github.com/keygate/keygate/internal/keysource"
	"github.com/keygate/keygate/internal/smclient/envclient"
)

func main() {
	cfg, cfgErr := config.FromEnv(os.Getenv)
	log := config.NewLogger(os.Stdout, cfg.LogLevel)
	config.RouteStdLog(log)

	ctx := context.Background()
	var src keycache.Source = keysource.Failing(cfgErr)
	if cfgErr == nil {
		src = cfg.Source(ctx, envclient.New, log)
	}
	// else a typo in a setting must not quietly run with defaults: fail
	// closed and say which variable to fix.
	keys := cfg.Cache(src, log)
	// Cold start: load once, bounded by KEY_LOAD_TIMEOUT. On failure the
	// function still starts and answers 503 while it retries.
	_ = keys.Load(ctx)

	lambda.Start(frontdoor.New(handler.New(keys, log), log))
}
