// Command probe is a Lambda function for the rie package's own tests: the
// payload "env" returns its environment as a JSON object, "hang" never
// returns (a stuck invocation the harness must still clean up), "race" has
// a data race (for a race-detector build), anything else is echoed.
package main

import (
	"context"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.StartHandlerFunc(func(ctx context.Context, cmd string) (any, error) {
		switch cmd {
		case "env":
			env := map[string]string{}
			for _, kv := range os.Environ() {
				k, v, _ := strings.Cut(kv, "=")
				env[k] = v
			}
			return env, nil
		case "race":
			n := 0
			done := make(chan bool)
			go func() { n++; done <- true }()
			n++
			<-done
			return n, nil
		case "hang":
			// Past the function timeout too: only a kill ends it.
			time.Sleep(time.Hour)
		}
		return cmd, nil
	})
}
