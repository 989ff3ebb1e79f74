// Command api is keygate's Lambda function (the bootstrap of the
// provided.al2023 runtime). It only wires: configuration, key cache, key
// decision, front-door adapter (over the HTTP handler and the authorizer).
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/keygate/keygate/internal/config"
	"github.com/keygate/keygate/internal/decision"
	"github.com/keygate/keygate/internal/frontdoor"
	"github.com/keygate/keygate/internal/keycache"
	"github.com/keygate/keygate/internal/smclient/envclient"
)

func main() {
	cfg, err := config.FromEnv(os.Getenv)
	log := config.NewLogger(os.Stdout, cfg.LogLevel)
	config.RouteStdLog(log)

	ctx := context.Background()
	var keys *keycache.Cache
	if err == nil {
		keys = cfg.Keys(ctx, envclient.New, log)
	} else {
		// A typo in a setting must not quietly run with defaults: fail
		// closed and say which variable to fix.
		keys = config.Failing(err, log)
	}

	// Cold start: load once, bounded by KEY_LOAD_TIMEOUT. On failure the
	// function still starts and answers 503 while it retries.
	_ = keys.Load(ctx)

	lambda.Start(frontdoor.New(decision.New(keys), log))
}
