package frontdoor

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/keygate/keygate/handler"
	"github.com/keygate/keygate/internal/keycache"
	"github.com/keygate/keygate/internal/keysource"
)

// detectReference is Detect as first written, with encoding/json decoding
// the event twice (the whole event into a probe, then its requestContext).
// Detect now scans instead, which is several times faster; these tests
// hold it to exactly the reference's answers.
func detectReference(payload []byte) Kind {
	type probe struct {
		Version        string          `json:"version"`
		HTTPMethod     string          `json:"httpMethod"`
		RawPath        *string         `json:"rawPath"`
		RequestContext json.RawMessage `json:"requestContext"`
	}
	type probeContext struct {
		ELB        json.RawMessage `json:"elb"`
		HTTP       json.RawMessage `json:"http"`
		DomainName string          `json:"domainName"`
	}
	var p probe
	if err := json.Unmarshal(payload, &p); err != nil || len(p.RequestContext) == 0 {
		return Unknown
	}
	var rc probeContext
	if err := json.Unmarshal(p.RequestContext, &rc); err != nil {
		return Unknown
	}
	switch {
	case len(rc.ELB) > 0 && string(rc.ELB) != "null":
		return ALB
	case p.Version == "2.0" && len(rc.HTTP) > 0:
		if strings.Contains(rc.DomainName, ".lambda-url.") {
			return FunctionURL
		}
		return HTTPAPI
	case p.HTTPMethod != "":
		return REST
	}
	return Unknown
}

// detectCases are the corners of encoding/json's behaviour that Detect
// must reproduce: key case folding (Unicode simple folding included),
// escaped keys and values, the last duplicate winning, null leaving a
// string alone, type errors anywhere in the fields read, and non-objects.
var detectCases = []string{
	`{"httpMethod":"GET","requestContext":{}}`,
	`{"httpMethod":"GET","requestContext":null}`,
	`{"httpMethod":"GET"}`,
	`{"HTTPMETHOD":"GET","REQUESTCONTEXT":{}}`,
	`{"httpMethod":"GET","requestContext":{},"requestContext":5}`,
	`{"httpMethod":"GET","requestContext":5,"requestContext":{}}`,
	`{"httpMethod":"GET","requestContext":[]}`,
	`{"httpMethod":"GET","requestContext":"x"}`,
	`{"httpMethod":"GET","requestContext":true}`,
	`{"httpMethod":5,"requestContext":{}}`,
	`{"httpMethod":null,"requestContext":{}}`,
	`{"httpMethod":"GET","httpMethod":null,"requestContext":{}}`,
	`{"httpMethod":"GET","httpMethod":"","requestContext":{}}`,
	`{"httpMethod":"GET","rawPath":5,"requestContext":{}}`,
	`{"httpMethod":"GET","rawPath":null,"requestContext":{}}`,
	`{"httpMethod":"GET","rawPath":{},"requestContext":{}}`,
	`{"requestContext":{"elb":{}}}`,
	`{"requestContext":{"elb":null}}`,
	`{"requestContext":{"elb":0}}`,
	`{"requestContext":{"ELB":"x"}}`,
	`{"requestContext":{"elb":null,"elb":{}}}`,
	`{"requestContext":{"elb":{},"elb":null},"httpMethod":"GET"}`,
	`{"version":"2.0","requestContext":{"http":{}}}`,
	`{"version":"2.0","requestContext":{"http":null}}`,
	`{"version":"2.0","requestContext":{"http":{},"domainName":"abc.lambda-url.us-east-1.on.aws"}}`,
	`{"version":"2.0","requestContext":{"http":{},"domainName":5}}`,
	`{"version":"2.0","requestContext":{"http":{},"domainName":null}}`,
	`{"version":"2.0","requestContext":{"http":{},"domainName":"a.lambda-url.x","domainName":null}}`,
	`{"version":"2\u002e0","requestContext":{"\u0068ttp":{},"domainName":"a\u002elambda-url.x"}}`,
	`{"\u0076ersion":"2.0","requestContext":{"http":{}}}`,
	`{"verſion":"2.0","requestContext":{"http":{}}}`,
	`{"verSion":"2.0","requestContext":{"http":{}}}`,
	`{"version":"2.0","requeſtContext":{"http":{}}}`,
	"{\"version\":\"2.0\",\"requestContext\":{\"http\":{},\"domainName\":\"a.lambda-url.\xff\"}}",
	"{\"httpMethod\":\"\xff\",\"requestContext\":{}}",
	"{\"version\xff\":\"2.0\",\"requestContext\":{\"http\":{}}}",
	`{"version":"2.0","version":5,"requestContext":{"http":{}}}`,
	`{"version":"2.0","requestContext":{"http":{}},"httpMethod":"GET"}`,
	`{"version":"1.0","requestContext":{"http":{}},"httpMethod":"GET"}`,
	` { "httpMethod" : "GET" , "requestContext" : { "elb" : [ 1 , { "a" : "}" } ] } } `,
	`{"httpMethod":"GET","requestContext":{"x":"\"}","elb":"\\"}}`,
	`{"httpMethod":"GET","requestContext":{}}x`,
	`{"httpMethod":"GET","requestContext":{}`,
	`null`, `[]`, `"x"`, `5`, `true`, ``, `{}`, ` `,
}

func TestDetectMatchesReference(t *testing.T) {
	payloads := detectCases
	files, err := filepath.Glob(filepath.Join("..", "..", "events", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no event files in events/")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		payloads = append(payloads, string(b))
	}
	for _, p := range payloads {
		if got, want := Detect([]byte(p)), detectReference([]byte(p)); got != want {
			t.Errorf("Detect(%.200q) = %s, reference %s", p, got, want)
		}
	}
}

func FuzzDetectMatchesReference(f *testing.F) {
	for _, p := range detectCases {
		f.Add([]byte(p))
	}
	files, _ := filepath.Glob(filepath.Join("..", "..", "events", "*.json"))
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		if got, want := Detect(p), detectReference(p); got != want {
			t.Errorf("Detect(%q) = %s, reference %s", p, got, want)
		}
	})
}

// FuzzInvokeWithoutValidation: Invoke, which lets the event decode
// validate the JSON instead of Detect, answers and logs exactly as with
// Detect's validated answer, for any input.
func FuzzInvokeWithoutValidation(f *testing.F) {
	for _, p := range detectCases {
		f.Add([]byte(p))
	}
	files, _ := filepath.Glob(filepath.Join("..", "..", "events", "*.json"))
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b)
			f.Add(b[:len(b)/2])
			f.Add(append(b[:len(b):len(b)], '}'))
		}
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}))
	keys := keycache.New(keysource.NewStatic("env", "kgExampleLocalKey4f9d2c81b7e6a035"), keycache.Options{Log: log})
	if err := keys.Load(context.Background()); err != nil {
		f.Fatal(err)
	}
	now := func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }
	a := New(handler.New(keys, log, now), log)
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "fuzz"})
	f.Fuzz(func(t *testing.T, p []byte) {
		logs.Reset()
		got, gotErr := a.Invoke(ctx, p)
		gotLog := logs.String()
		logs.Reset()
		want, wantErr := a.invoke(handler.WithRequestID(ctx, "fuzz"), p, Detect(p))
		if !bytes.Equal(got, want) || (gotErr == nil) != (wantErr == nil) || gotLog != logs.String() {
			t.Errorf("Invoke(%q) = %s, %v, log %s; validated path: %s, %v, log %s", p, got, gotErr, gotLog, want, wantErr, logs.String())
		}
	})
}
