// Command api is keygate's Lambda function (the bootstrap of the
// provided.al2023 runtime). It only wires: configuration, logger (with the
// metrics in its lines), key cache, key decision, front-door adapter (over
// the HTTP handler and the authorizer).
package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/keygate/keygate/internal/config"
	"github.com/keygate/keygate/internal/decision"
	"github.com/keygate/keygate/internal/frontdoor"
	"github.com/keygate/keygate/internal/keycache"
	"github.com/keygate/keygate/internal/metrics"
	"github.com/keygate/keygate/internal/smclient/envclient"
)

func main() {
	// LookupEnv: METRICS_NAMESPACE set empty turns the metrics off.
	cfg, err := config.FromLookupEnv(os.LookupEnv)

	// The logger comes first (the cache logs through it), and its metrics
	// read the age of the cache's key set: through keys, set below.
	var keys *keycache.Cache
	age := func() (time.Duration, bool) {
		if keys == nil {
			return 0, false
		}
		return keys.Age()
	}
	log := slog.New(metrics.New(config.NewLogger(os.Stdout, cfg.LogLevel).Handler(), cfg.MetricsNamespace, age))
	config.RouteStdLog(log)

	ctx := context.Background()
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
