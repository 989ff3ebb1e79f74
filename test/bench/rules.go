package bench

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/keygate/keygate/internal/decision"
	"github.com/keygate/keygate/internal/frontdoor"
	"github.com/keygate/keygate/internal/keycache"
	"github.com/keygate/keygate/internal/keysource"
)

// The rules of a governed key, all three kinds: routes, sources, meta. They
// allow the sample REST event (GET / from 192.0.2.10), so that a governed
// key and a plain one do the same work but for the rules.
const governedRules = `"allow":["GET /","HEAD /reports/*","* /status","GET /reports/*/summary"],` +
	`"sources":["198.51.100.0/24","192.0.2.0/24","2001:db8::/32"],"meta":{"tenant":"t-42","plan":"gold"}`

// PlainSecret holds ExampleKey with no rules; GovernedSecret holds it with
// governedRules.
var (
	PlainSecret    = `{"api_keys":{"example":"` + ExampleKey + `"}}`
	GovernedSecret = `{"api_keys":{"example":{"key":"` + ExampleKey + `",` + governedRules + `}}}`
)

// ClientsSecret is a secret of n governed clients, ExampleKey the last.
func ClientsSecret(n int) string {
	var b strings.Builder
	b.WriteString(`{"api_keys":{`)
	for i := 1; i < n; i++ {
		fmt.Fprintf(&b, `"client-%d":{"sha256":"%064x",%s},`, i, i, governedRules)
	}
	b.WriteString(`"example":{"key":"` + ExampleKey + `",` + governedRules + `}}}`)
	return b.String()
}

// KeygateWith is Keygate over a static secret (one of the above).
func KeygateWith(secret string) lambda.Handler {
	return frontdoor.New(decider(secret), Logger())
}

func decider(secret string) *decision.Decider {
	keys := keycache.New(keysource.NewStatic("env", secret), keycache.Options{Log: Logger()})
	if err := keys.Load(context.Background()); err != nil {
		panic("bench: a fixed secret failed to load: " + err.Error())
	}
	return decision.New(keys)
}

// Decide returns a function that makes the decision of the sample REST
// request (ExampleKey, GET /, from 192.0.2.10) with the set secret holds,
// and reports whether it allowed it.
func Decide(secret string) func() bool {
	d := decider(secret)
	req := decision.Request{Keys: []string{ExampleKey}, Method: "GET", Path: "/", Source: netip.MustParseAddr("192.0.2.10")}
	ctx := context.Background()
	return func() bool { return d.Decide(ctx, req).Allowed() }
}
