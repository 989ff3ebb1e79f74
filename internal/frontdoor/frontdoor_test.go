package frontdoor_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	samples "github.com/keygate/keygate/events"
	"github.com/keygate/keygate/handler"
	"github.com/keygate/keygate/internal/apikey"
	"github.com/keygate/keygate/internal/decision"
	"github.com/keygate/keygate/internal/frontdoor"
)

const (
	// The keys the sample events in events/ carry.
	rightKey = samples.RightKey
	wrongKey = samples.WrongKey

	restDomain = "abc123.execute-api.us-east-1.amazonaws.com"
	urlDomain  = "xyz789.lambda-url.us-east-1.on.aws"
	albHost    = "keygate-123.us-east-1.elb.amazonaws.com"
)

// req is what a test sends; each front door's event is built from it with
// the aws-lambda-go event structs, never by string concatenation.
type req struct {
	method, path, rawQuery, host string
	headers                      map[string]string
	query                        map[string]string // REST and ALB carry the query as parameters
	body                         string
	base64                       bool
	albMulti                     bool // ALB target group with multi-value headers
}

func withKey(k string) map[string]string { return map[string]string{"x-api-key": k} }

func get(headers map[string]string) req {
	return req{method: "GET", path: "/", headers: headers}
}

func multi(h map[string]string) map[string][]string {
	out := make(map[string][]string, len(h))
	for k, v := range h {
		out[k] = []string{v}
	}
	return out
}

func payload(t *testing.T, kind frontdoor.Kind, r req) []byte {
	t.Helper()
	var ev any
	switch kind {
	case frontdoor.REST:
		host := r.host
		if host == "" {
			host = restDomain
		}
		ev = events.APIGatewayProxyRequest{
			Resource: "/", Path: r.path, HTTPMethod: r.method,
			// API Gateway sends both maps; the proxy reads the multi-value one.
			Headers: r.headers, MultiValueHeaders: multi(r.headers),
			QueryStringParameters: r.query, MultiValueQueryStringParameters: multi(r.query),
			RequestContext: events.APIGatewayProxyRequestContext{
				AccountID: "123456789012", Stage: "Prod", RequestID: "gw-req", DomainName: host,
				HTTPMethod: r.method, Path: "/Prod" + r.path, APIID: "abc123",
			},
			Body: r.body, IsBase64Encoded: r.base64,
		}
	case frontdoor.HTTPAPI:
		host := r.host
		if host == "" {
			host = restDomain
		}
		ev = events.APIGatewayV2HTTPRequest{
			Version: "2.0", RouteKey: "$default", RawPath: r.path, RawQueryString: r.rawQuery, Headers: r.headers,
			RequestContext: events.APIGatewayV2HTTPRequestContext{
				AccountID: "123456789012", APIID: "abc123", DomainName: host, Stage: "$default", RequestID: "gw-req",
				HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: r.method, Path: r.path, Protocol: "HTTP/1.1", SourceIP: "192.0.2.1"},
			},
			Body: r.body, IsBase64Encoded: r.base64,
		}
	case frontdoor.FunctionURL:
		host := r.host
		if host == "" {
			host = urlDomain
		}
		ev = events.LambdaFunctionURLRequest{
			Version: "2.0", RawPath: r.path, RawQueryString: r.rawQuery, Headers: r.headers,
			RequestContext: events.LambdaFunctionURLRequestContext{
				AccountID: "123456789012", RequestID: "url-req", APIID: "xyz789", DomainName: host, DomainPrefix: "xyz789",
				HTTP: events.LambdaFunctionURLRequestContextHTTPDescription{Method: r.method, Path: r.path, Protocol: "HTTP/1.1", SourceIP: "192.0.2.1"},
			},
			Body: r.body, IsBase64Encoded: r.base64,
		}
	case frontdoor.ALB:
		host := r.host
		if host == "" {
			host = albHost
		}
		h := map[string]string{"host": host}
		for k, v := range r.headers {
			h[k] = v
		}
		alb := events.ALBTargetGroupRequest{
			HTTPMethod: r.method, Path: r.path, QueryStringParameters: r.query,
			RequestContext: events.ALBTargetGroupRequestContext{ELB: events.ELBContext{TargetGroupArn: "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/keygate/0123456789abcdef"}},
			Body:           r.body, IsBase64Encoded: r.base64,
		}
		if r.albMulti {
			alb.MultiValueHeaders = multi(h)
			alb.MultiValueQueryStringParameters = multi(r.query)
			alb.QueryStringParameters = nil
		} else {
			alb.Headers = h
		}
		ev = alb
	default:
		t.Fatalf("no builder for %s", kind)
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatalf("marshal event: %v", err)
	}
	return b
}

var kinds = []frontdoor.Kind{frontdoor.REST, frontdoor.HTTPAPI, frontdoor.FunctionURL, frontdoor.ALB}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDetect(t *testing.T) {
	type tc struct {
		name    string
		payload []byte
		want    frontdoor.Kind
	}
	var tests []tc
	for _, k := range kinds {
		tests = append(tests, tc{string(k), payload(t, k, get(withKey(rightKey))), k})
	}
	tests = append(tests,
		tc{"alb multi-value", payload(t, frontdoor.ALB, req{method: "GET", path: "/", albMulti: true}), frontdoor.ALB},
		tc{"http api on a custom domain", payload(t, frontdoor.HTTPAPI, req{method: "GET", path: "/", host: "api.example.com"}), frontdoor.HTTPAPI},
		tc{"rest payload 1.0 from an HTTP API", mustJSON(t, map[string]any{"version": "1.0", "httpMethod": "GET", "path": "/", "requestContext": map[string]any{"domainName": restDomain}}), frontdoor.REST},
		tc{"not JSON", []byte("GET / HTTP/1.1"), frontdoor.Unknown},
		tc{"truncated JSON", payload(t, frontdoor.REST, get(nil))[:40], frontdoor.Unknown},
		tc{"empty", []byte{}, frontdoor.Unknown},
		tc{"null", []byte("null"), frontdoor.Unknown},
		tc{"array", []byte("[]"), frontdoor.Unknown},
		tc{"string", []byte(`"GET /"`), frontdoor.Unknown},
		tc{"empty object", []byte("{}"), frontdoor.Unknown},
		tc{"empty requestContext", mustJSON(t, map[string]any{"requestContext": map[string]any{}}), frontdoor.Unknown},
		tc{"requestContext not an object", mustJSON(t, map[string]any{"httpMethod": "GET", "requestContext": "x"}), frontdoor.Unknown},
		tc{"httpMethod without requestContext", mustJSON(t, map[string]any{"httpMethod": "GET", "path": "/"}), frontdoor.Unknown},
		tc{"version 2.0 without http", mustJSON(t, map[string]any{"version": "2.0", "requestContext": map[string]any{"domainName": urlDomain}}), frontdoor.Unknown},
		tc{"SQS event", mustJSON(t, events.SQSEvent{Records: []events.SQSMessage{{MessageId: "m1", Body: "{}"}}}), frontdoor.Unknown},
		tc{"S3 event", mustJSON(t, events.S3Event{Records: []events.S3EventRecord{{EventName: "ObjectCreated:Put"}}}), frontdoor.Unknown},
		tc{"scheduled event", mustJSON(t, events.EventBridgeEvent{DetailType: "Scheduled Event", Source: "aws.events"}), frontdoor.Unknown},
		tc{"websocket event", mustJSON(t, events.APIGatewayWebsocketProxyRequest{RequestContext: events.APIGatewayWebsocketProxyRequestContext{RouteKey: "$connect"}}), frontdoor.Unknown},
	)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := frontdoor.Detect(tt.payload); got != tt.want {
				t.Errorf("Detect = %s, want %s", got, tt.want)
			}
		})
	}
}

// answer is a front door's response, read back from the JSON the function
// returns, with the shape checked for the kind.
type answer struct {
	status  int
	headers http.Header
	body    string
}

func decode(t *testing.T, kind frontdoor.Kind, albMulti bool, out []byte) answer {
	t.Helper()
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(out, &raw); err != nil {
		t.Fatalf("response is not a JSON object: %v: %s", err, out)
	}
	present := func(f string) bool { v, ok := raw[f]; return ok && string(v) != "null" }
	if _, ok := raw["statusCode"]; !ok {
		t.Fatalf("%s response has no statusCode: %s", kind, out)
	}
	var a answer
	a.headers = http.Header{}
	var single map[string]string
	var multiple map[string][]string
	var desc string
	json.Unmarshal(raw["statusCode"], &a.status)
	json.Unmarshal(raw["body"], &a.body)
	json.Unmarshal(raw["headers"], &single)
	json.Unmarshal(raw["multiValueHeaders"], &multiple)
	json.Unmarshal(raw["statusDescription"], &desc)
	switch kind {
	case frontdoor.ALB:
		if want := fmt.Sprintf("%d %s", a.status, http.StatusText(a.status)); desc != want {
			t.Errorf("ALB statusDescription = %q, want %q", desc, want)
		}
		// The ALB reads the header map matching its target group's setting,
		// which the request shows: answer in the same one, only.
		if albMulti != present("multiValueHeaders") || albMulti == present("headers") {
			t.Errorf("ALB (multi-value %v) answered with headers %v, multiValueHeaders %v: %s", albMulti, present("headers"), present("multiValueHeaders"), out)
		}
		if _, ok := raw["isBase64Encoded"]; !ok {
			t.Errorf("ALB response has no isBase64Encoded: %s", out)
		}
	case frontdoor.HTTPAPI, frontdoor.FunctionURL:
		if present("statusDescription") || present("multiValueHeaders") {
			t.Errorf("payload 2.0 response has fields of another shape: %s", out)
		}
		if !present("headers") {
			t.Errorf("payload 2.0 response has no headers: %s", out)
		}
	default:
		if present("statusDescription") || present("cookies") {
			t.Errorf("REST response has fields of another shape: %s", out)
		}
		if !present("headers") && !present("multiValueHeaders") {
			t.Errorf("REST response has no headers: %s", out)
		}
	}
	for k, v := range single {
		a.headers.Add(k, v)
	}
	for k, vs := range multiple {
		for _, v := range vs {
			a.headers.Add(k, v)
		}
	}
	var isB64 bool
	json.Unmarshal(raw["isBase64Encoded"], &isB64)
	if isB64 {
		t.Errorf("%s response body base64-encoded: %s", kind, out)
	}
	return a
}

type fixture struct {
	ad   *frontdoor.Adapter
	logs *bytes.Buffer
}

// keys is a fake handler.Keys over a fixed set.
type keys struct{ set *apikey.Set }

func (k keys) Match(_ context.Context, key string) (apikey.Entry, apikey.Result, error) {
	e, res := k.set.Match(key, time.Now())
	return e, res, nil
}

// newFixture is the adapter over the key set events/env.json configures
// (the sample events' keys: the "default" client's, a scoped and a
// source-limited one).
func newFixture() *fixture {
	var buf bytes.Buffer
	lg := slog.New(slog.NewJSONHandler(&buf, nil))
	env, err := samples.Env()
	if err != nil {
		panic(err)
	}
	doc, err := apikey.Parse(env["KeygateFunction"]["API_KEY"])
	if err != nil {
		panic("events/env.json's API_KEY: " + err.Error())
	}
	set := apikey.NewSet(doc.Entries(""))
	return &fixture{ad: frontdoor.New(decision.New(keys{set}), lg), logs: &buf}
}

// invoke calls Invoke as the runtime does, with a Lambda context, and
// captures whatever reaches stdout or the standard logger meanwhile.
func (f *fixture) invoke(t *testing.T, p []byte) (out []byte, printed string) {
	t.Helper()
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "lambda-req-42"})
	printed = capture(t, func() {
		var err error
		out, err = f.ad.Invoke(ctx, p)
		if err != nil {
			t.Errorf("Invoke returned an error: %v", err)
		}
	})
	return out, printed
}

// invoked is what Invoke returned.
type invoked struct {
	body []byte
	err  error
}

// invokeErr is invoke for events whose answer may be an error (REST
// authorizers refuse that way).
func (f *fixture) invokeErr(t *testing.T, p []byte) (out invoked, printed string) {
	t.Helper()
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "lambda-req-42"})
	printed = capture(t, func() { out.body, out.err = f.ad.Invoke(ctx, p) })
	return out, printed
}

func capture(t *testing.T, fn func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatalf("pipe: %v", err)
	}
	oldOut, oldErr, oldLog := os.Stdout, os.Stderr, log.Writer()
	os.Stdout, os.Stderr = w, w
	log.SetOutput(w)
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	defer func() {
		os.Stdout, os.Stderr = oldOut, oldErr
		log.SetOutput(oldLog)
	}()
	fn()
	os.Stdout, os.Stderr = oldOut, oldErr
	log.SetOutput(oldLog)
	w.Close()
	return <-done
}

func TestInvoke(t *testing.T) {
	tests := []struct {
		name   string
		r      req
		status int
		body   string
		allow  string
	}{
		{"right key", get(withKey(rightKey)), 200, `{"message":"OK: Authorized"}`, ""},
		{"right key, upper-case header name", get(map[string]string{"X-API-KEY": rightKey}), 200, `{"message":"OK: Authorized"}`, ""},
		{"right key with spaces", get(withKey(" " + rightKey + " ")), 200, `{"message":"OK: Authorized"}`, ""},
		{"wrong key", get(withKey(wrongKey)), 401, `{"message":"ERROR: Unauthorized"}`, ""},
		{"no key", get(nil), 401, `{"message":"ERROR: Unauthorized"}`, ""},
		// HTTP APIs join repeated headers with commas; never a key.
		{"comma-joined keys", get(withKey(rightKey + "," + rightKey)), 401, `{"message":"ERROR: Unauthorized"}`, ""},
		{"key in query", req{method: "GET", path: "/", rawQuery: "x-api-key=" + rightKey, query: withKey(rightKey)}, 401, `{"message":"ERROR: Unauthorized"}`, ""},
		{"key in body", req{method: "POST", path: "/", body: rightKey}, 401, `{"message":"ERROR: Unauthorized"}`, ""},
		{"unknown path with key", req{method: "GET", path: "/nope", headers: withKey(rightKey)}, 404, `{"message":"ERROR: Not Found"}`, ""},
		{"POST with key", req{method: "POST", path: "/", headers: withKey(rightKey)}, 405, `{"message":"ERROR: Method Not Allowed"}`, "GET, HEAD"},
		{"lower-case method", req{method: "get", path: "/", headers: withKey(rightKey)}, 200, `{"message":"OK: Authorized"}`, ""},
		{"base64 body", req{method: "GET", path: "/", headers: withKey(rightKey), body: base64.StdEncoding.EncodeToString([]byte("hello")), base64: true}, 200, `{"message":"OK: Authorized"}`, ""},
		{"HEAD", req{method: "HEAD", path: "/", headers: withKey(rightKey)}, 200, "", ""},
	}
	for _, kind := range kinds {
		for _, albMulti := range []bool{false, true} {
			if albMulti && kind != frontdoor.ALB {
				continue
			}
			for _, tt := range tests {
				name := fmt.Sprintf("%s/%s", kind, tt.name)
				if albMulti {
					name = fmt.Sprintf("alb multi-value/%s", tt.name)
				}
				t.Run(name, func(t *testing.T) {
					f := newFixture()
					r := tt.r
					r.albMulti = albMulti
					out, printed := f.invoke(t, payload(t, kind, r))
					a := decode(t, kind, albMulti, out)
					if a.status != tt.status || a.body != tt.body {
						t.Fatalf("got %d %q, want %d %q", a.status, a.body, tt.status, tt.body)
					}
					for k, v := range handler.SecurityHeaders {
						if got := a.headers.Get(k); got != v {
							t.Errorf("%s = %q, want %q", k, got, v)
						}
					}
					if got := a.headers.Get("Allow"); got != tt.allow {
						t.Errorf("Allow = %q, want %q", got, tt.allow)
					}
					if (tt.status == 401) != (a.headers.Get("WWW-Authenticate") != "") {
						t.Errorf("WWW-Authenticate = %q on %d", a.headers.Get("WWW-Authenticate"), tt.status)
					}
					if printed != "" {
						t.Errorf("printed outside the logger: %q", printed)
					}
					assertNoKey(t, string(out)+f.logs.String())
				})
			}
		}
	}
}

// The request ID from the Lambda context reaches the handler's log line.
func TestRequestIDInLog(t *testing.T) {
	for _, kind := range kinds {
		t.Run(string(kind), func(t *testing.T) {
			f := newFixture()
			f.invoke(t, payload(t, kind, get(withKey(rightKey))))
			line := lastLine(t, f.logs.String())
			if line["msg"] != "request" || line["request_id"] != "lambda-req-42" || line["outcome"] != "authorized" {
				t.Errorf("log line %v, want the request with request_id lambda-req-42", line)
			}
		})
	}
	// Without a Lambda context (a test harness, a direct call) it still works.
	f := newFixture()
	out, err := f.ad.Invoke(context.Background(), payload(t, frontdoor.REST, get(withKey(rightKey))))
	if err != nil || decode(t, frontdoor.REST, false, out).status != 200 {
		t.Errorf("Invoke without a Lambda context: %s, %v", out, err)
	}
}

func lastLine(t *testing.T, logs string) map[string]any {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(logs), "\n")
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &m); err != nil {
		t.Fatalf("log line is not JSON: %q", logs)
	}
	return m
}

func assertNoKey(t *testing.T, s string) {
	t.Helper()
	for _, k := range []string{rightKey, wrongKey} {
		if strings.Contains(s, k) {
			t.Fatalf("a key reached the output:\n%s", s)
		}
	}
}

// TestBadEvents: anything the adapter cannot serve becomes a JSON 400 in
// the door's shape; Invoke never fails, nothing is printed outside the
// logger, no key or path reaches a log, and the next event is served.
func TestBadEvents(t *testing.T) {
	keyPath := "/" + rightKey
	type tc struct {
		name     string
		kind     frontdoor.Kind // the shape of the answer
		albMulti bool
		payload  []byte
	}
	var tests []tc
	for _, kind := range kinds {
		for _, albMulti := range []bool{false, true} {
			if albMulti && kind != frontdoor.ALB {
				continue
			}
			prefix := string(kind)
			if albMulti {
				prefix = "alb multi-value"
			}
			bad := []struct {
				name string
				r    req
			}{
				{"invalid base64 body", req{method: "GET", path: keyPath, headers: withKey(rightKey), body: "!!" + rightKey, base64: true}},
				{"empty method", req{method: "", path: keyPath, headers: withKey(rightKey)}},
				{"method with space", req{method: "G ET", path: keyPath, headers: withKey(rightKey)}},
				{"method with newline", req{method: "GET\n", path: keyPath, headers: withKey(rightKey)}},
				{"method with slash", req{method: "GET/", path: keyPath}},
				{"non-ASCII method", req{method: "GÉT", path: keyPath}},
				{"path with bad escape", req{method: "GET", path: keyPath + "/%zz", headers: withKey(rightKey)}},
				{"path with control char", req{method: "GET", path: keyPath + "\x00", headers: withKey(rightKey)}},
				{"path with newline", req{method: "GET", path: keyPath + "\nx", headers: withKey(rightKey)}},
			}
			if !albMulti {
				// A multi-value ALB event's host is not used (see the
				// single-value host case below).
				suffix := ""
				if kind == frontdoor.FunctionURL {
					suffix = ".lambda-url.us-east-1.on.aws" // still detected as a Function URL
				}
				bad = append(bad, []struct {
					name string
					r    req
				}{
					{"host with space", req{method: "GET", path: keyPath, host: "bad host" + suffix, headers: withKey(rightKey)}},
					{"host with at and bad escape", req{method: "GET", path: keyPath, host: "a@b/c%zz" + suffix, headers: withKey(rightKey)}},
				}...)
			}
			if kind == frontdoor.HTTPAPI || kind == frontdoor.FunctionURL {
				bad = append(bad, struct {
					name string
					r    req
				}{"query with control char", req{method: "GET", path: keyPath, rawQuery: "k=" + rightKey + "\x7f", headers: withKey(rightKey)}})
			}
			for _, b := range bad {
				r := b.r
				r.albMulti = albMulti
				want := kind
				if kind == frontdoor.REST && r.method == "" {
					want = frontdoor.Unknown // httpMethod is what marks a REST event
				}
				tests = append(tests, tc{prefix + "/" + b.name, want, albMulti, payload(t, kind, r)})
			}
		}
	}
	undecodable := func(kind frontdoor.Kind, albMulti bool, mutate func(m map[string]any)) []byte {
		var m map[string]any
		json.Unmarshal(payload(t, kind, req{method: "GET", path: keyPath, headers: withKey(rightKey), albMulti: albMulti}), &m)
		mutate(m)
		return mustJSON(t, m)
	}
	tests = append(tests,
		tc{"rest/headers not a map", frontdoor.REST, false, undecodable(frontdoor.REST, false, func(m map[string]any) { m["headers"] = rightKey })},
		tc{"httpapi/body not a string", frontdoor.HTTPAPI, false, undecodable(frontdoor.HTTPAPI, false, func(m map[string]any) { m["body"] = []string{rightKey} })},
		tc{"functionurl/isBase64Encoded not a bool", frontdoor.FunctionURL, false, undecodable(frontdoor.FunctionURL, false, func(m map[string]any) { m["isBase64Encoded"] = "yes" })},
		tc{"alb/path not a string", frontdoor.ALB, false, undecodable(frontdoor.ALB, false, func(m map[string]any) { m["path"] = 42 })},
		// An event that does not decode does not tell its target group's
		// header mode: the 400 comes in headers.
		tc{"alb/multi-value header values not lists", frontdoor.ALB, false, undecodable(frontdoor.ALB, true, func(m map[string]any) { m["multiValueHeaders"] = map[string]string{"x-api-key": rightKey} })},
		// The proxy builds an ALB request's URL from the single-value host
		// header even in multi-value mode: that is the one to check.
		tc{"alb multi-value/bad single-value host", frontdoor.ALB, true, undecodable(frontdoor.ALB, true, func(m map[string]any) {
			m["headers"] = map[string]string{"host": "bad host"}
		})},
		tc{"unknown/not JSON", frontdoor.Unknown, false, []byte("GET " + keyPath + " HTTP/1.1")},
		tc{"unknown/truncated", frontdoor.Unknown, false, payload(t, frontdoor.REST, get(withKey(rightKey)))[:60]},
		tc{"unknown/empty", frontdoor.Unknown, false, nil},
		tc{"unknown/null", frontdoor.Unknown, false, []byte("null")},
		tc{"unknown/empty object", frontdoor.Unknown, false, []byte("{}")},
		tc{"unknown/SQS", frontdoor.Unknown, false, mustJSON(t, events.SQSEvent{Records: []events.SQSMessage{{Body: rightKey}}})},
	)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture()
			if got := frontdoor.Detect(tt.payload); got != tt.kind {
				t.Fatalf("bad test: Detect = %s, want %s", got, tt.kind)
			}
			out, printed := f.invoke(t, tt.payload)
			a := decode(t, tt.kind, tt.albMulti, out)
			if a.status != 400 || a.body != string(handler.MsgBadRequest) {
				t.Fatalf("got %d %q, want 400 %s", a.status, a.body, handler.MsgBadRequest)
			}
			for k, v := range handler.SecurityHeaders {
				if got := a.headers.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			line := lastLine(t, f.logs.String())
			if line["msg"] != "bad event" || line["request_id"] != "lambda-req-42" || line["kind"] != string(tt.kind) || line["status"] != 400.0 {
				t.Errorf("log line %v, want bad event with request_id, kind %s, status 400", line, tt.kind)
			}
			// The proxy prints the method and path of a request it cannot
			// build, and its errors, outside keygate's JSON log: the adapter
			// must reject such events before the proxy sees them.
			if printed != "" {
				t.Errorf("printed outside the logger: %q", printed)
			}
			assertNoKey(t, string(out)+f.logs.String()+printed)

			// The same environment serves the next event normally.
			out, _ = f.invoke(t, payload(t, frontdoor.HTTPAPI, get(withKey(rightKey))))
			if a := decode(t, frontdoor.HTTPAPI, false, out); a.status != 200 {
				t.Errorf("next event: %d %q, want 200", a.status, a.body)
			}
		})
	}
}

// REST events carry headers twice (headers and multiValueHeaders): that
// is one key, not two.
func TestRESTHeadersInBothMaps(t *testing.T) {
	f := newFixture()
	out, _ := f.invoke(t, payload(t, frontdoor.REST, get(withKey(rightKey))))
	if a := decode(t, frontdoor.REST, false, out); a.status != 200 {
		t.Fatalf("got %d %q, want 200", a.status, a.body)
	}
	// A REST event with two values in multiValueHeaders is two headers.
	var ev events.APIGatewayProxyRequest
	json.Unmarshal(payload(t, frontdoor.REST, get(withKey(rightKey))), &ev)
	ev.MultiValueHeaders["x-api-key"] = []string{rightKey, rightKey}
	out, _ = f.invoke(t, mustJSON(t, ev))
	if a := decode(t, frontdoor.REST, false, out); a.status != 401 {
		t.Fatalf("two values: got %d %q, want 401", a.status, a.body)
	}
}

// TestEventFiles runs every sample event in events/ through the adapter:
// each is detected as the door its name says, answered in that door's
// shape, with the status and logged outcome events/expected.json gives it.
func TestEventFiles(t *testing.T) {
	evs, err := samples.All()
	if err != nil {
		t.Fatal(err)
	}
	doors := map[string]frontdoor.Kind{"rest": frontdoor.REST, "httpapi": frontdoor.HTTPAPI, "functionurl": frontdoor.FunctionURL, "alb": frontdoor.ALB}
	seen := map[frontdoor.Kind]bool{}
	for _, ev := range evs {
		if frontdoor.Kind(ev.Door).Authorizer() {
			continue // TestAuthorizerEventFiles
		}
		t.Run(ev.Name, func(t *testing.T) {
			p, want := ev.Payload, ev.Want
			kind, ok := doors[ev.Door]
			if !ok {
				t.Fatalf("%s does not start with a door name", ev.Name)
			}
			if got := frontdoor.Detect(p); got != kind {
				t.Fatalf("Detect = %s, want %s", got, kind)
			}
			seen[kind] = true
			var mv struct{ MultiValueHeaders map[string][]string }
			json.Unmarshal(p, &mv)
			albMulti := kind == frontdoor.ALB && mv.MultiValueHeaders != nil
			if albMulti != strings.HasPrefix(ev.Name, "alb-multivalue-") {
				t.Errorf("multi-value headers %v, but the name says otherwise", albMulti)
			}
			f := newFixture()
			out, printed := f.invoke(t, p)
			a := decode(t, kind, albMulti, out)
			if a.status != want.Status {
				t.Fatalf("status %d %q, want %d", a.status, a.body, want.Status)
			}
			for k, v := range handler.SecurityHeaders {
				if got := a.headers.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if printed != "" {
				t.Errorf("printed outside the logger: %q", printed)
			}
			line := lastLine(t, f.logs.String())
			if line["request_id"] != "lambda-req-42" || line["status"] != float64(want.Status) || line["outcome"] != want.Outcome || line["reason"] != nilIfEmpty(want.Reason) {
				t.Errorf("log line %v, want request_id lambda-req-42, status %d, outcome %s, reason %q", line, want.Status, want.Outcome, want.Reason)
			}
			if matched := want.Outcome == "authorized" || want.Outcome == "forbidden"; matched && line["client"] != want.ClientName() {
				t.Errorf("log line %v, want client %s", line, want.ClientName())
			}
			assertNoKey(t, string(out)+f.logs.String())
		})
	}
	for _, k := range kinds {
		if !seen[k] {
			t.Errorf("no sample event for %s", k)
		}
	}
}

// nilIfEmpty is how a decoded JSON log line holds an optional string.
func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}
