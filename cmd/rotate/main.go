// Command rotate is keygate's Secrets Manager rotation function (the
// bootstrap of a provided.al2023 Lambda that Secrets Manager invokes with
// the steps createSecret, setSecret, testSecret, finishSecret). It only
// wires: logger, Secrets Manager client, rotation steps (internal/rotation).
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/keygate/keygate/internal/config"
	"github.com/keygate/keygate/internal/rotation"
	"github.com/keygate/keygate/internal/smclient/envclient"
)

func main() {
	level, levelErr := config.LogLevel(os.Getenv)
	log := config.NewLogger(os.Stdout, level)
	config.RouteStdLog(log)
	if levelErr != nil {
		log.Warn(levelErr.Error() + ": logging at info")
	}

	// The same lean client as the api function: the Lambda runtime hands
	// over region and credentials in the environment.
	opts, err := envclient.Options(os.Getenv)
	if err != nil {
		// Fail every step with the reason rather than crash at init, so
		// the rotation's failure is logged where its operator looks.
		log.Error("cannot build the Secrets Manager client", "error", err.Error())
		lambda.Start(func(context.Context, events.SecretsManagerSecretRotationEvent) error { return err })
		return
	}
	lambda.Start(rotation.New(secretsmanager.New(opts), log).Handle)
}
