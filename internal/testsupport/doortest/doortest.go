// Package doortest checks the answers keygate gives through its front
// doors, for the tests of both modules: the fixed bodies as the
// requirements spell them, the headers every answer carries, and each
// door's response shape. It is test support: no binary imports it.
package doortest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/keygate/keygate/events"
)

// Bodies are the only bodies keygate sends, as the requirements spell them.
var Bodies = map[int]string{
	http.StatusOK:                 `{"message":"OK: Authorized"}`,
	http.StatusBadRequest:         `{"message":"ERROR: Bad Request"}`,
	http.StatusUnauthorized:       `{"message":"ERROR: Unauthorized"}`,
	http.StatusForbidden:          `{"message":"ERROR: Forbidden"}`,
	http.StatusNotFound:           `{"message":"ERROR: Not Found"}`,
	http.StatusMethodNotAllowed:   `{"message":"ERROR: Method Not Allowed"}`,
	http.StatusServiceUnavailable: `{"message":"ERROR: Service Unavailable"}`,
}

// Challenge is the WWW-Authenticate value of every 401.
const Challenge = `ApiKey header="x-api-key"`

// Answer is the union of the front doors' response shapes.
type Answer struct {
	StatusCode        int                 `json:"statusCode"`
	StatusDescription string              `json:"statusDescription"`
	Headers           map[string]string   `json:"headers"`
	MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
	Body              string              `json:"body"`
	IsBase64Encoded   bool                `json:"isBase64Encoded"`
	// Fields are the JSON members present; Raw is the answer as sent.
	Fields map[string]json.RawMessage `json:"-"`
	Raw    string                     `json:"-"`
}

// Decode parses an invocation's answer; it fails t unless it is a JSON
// object.
func Decode(t testing.TB, out []byte) Answer {
	t.Helper()
	a := Answer{Raw: string(out)}
	if err := json.Unmarshal(out, &a); err != nil {
		t.Fatalf("the answer is not a JSON response: %v: %s", err, out)
	}
	if err := json.Unmarshal(out, &a.Fields); err != nil {
		t.Fatalf("the answer is not a JSON object: %v: %s", err, out)
	}
	return a
}

// Merged returns both header maps as one, a value the multi-value map
// repeats counted once: the headers an API Gateway caller gets (an ALB
// reads one map, and keygate fills only that one).
func (a Answer) Merged() http.Header {
	h := http.Header{}
	for k, vs := range a.MultiValueHeaders {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	for k, v := range a.Headers {
		if !slices.Contains(h.Values(k), v) {
			h.Add(k, v)
		}
	}
	return h
}

// The fields each door's response may carry (aws-lambda-go's
// APIGatewayProxyResponse, APIGatewayV2HTTPResponse, ALBTargetGroupResponse).
var allowedFields = map[string][]string{
	"rest":        {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"},
	"httpapi":     {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded", "cookies"},
	"functionurl": {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded", "cookies"},
	"alb":         {"statusCode", "statusDescription", "headers", "multiValueHeaders", "body", "isBase64Encoded"},
}

// Check checks a, the answer to a request of method through door (rest,
// httpapi, functionurl, alb; multiValue: the request carried
// multiValueHeaders, which an ALB answer must mirror): its status, its
// fixed body, its shape, and the headers the door's caller gets. It
// returns those headers.
func Check(t testing.TB, door string, multiValue bool, method string, a Answer, wantStatus int) http.Header {
	t.Helper()
	if a.StatusCode != wantStatus {
		t.Errorf("status %d, want %d (answer %s)", a.StatusCode, wantStatus, a.Raw)
	}
	if a.IsBase64Encoded {
		t.Errorf("body base64-encoded: %s", a.Raw)
	}
	// A 400 is built before the request, so even a HEAD event gets its body.
	head := strings.EqualFold(method, http.MethodHead) && a.StatusCode != http.StatusBadRequest
	required := []string{"statusCode", "body"}
	if head {
		required = required[:1] // aws-lambda-go omits an empty body
	}
	for _, f := range required {
		if _, ok := a.Fields[f]; !ok {
			t.Errorf("answer lacks %q: %s", f, a.Raw)
		}
	}
	allowed, ok := allowedFields[door]
	if !ok {
		t.Fatalf("unknown door %q", door)
	}
	for f := range a.Fields {
		if !slices.Contains(allowed, f) {
			t.Errorf("field %q is not part of the %s response shape: %s", f, door, a.Raw)
		}
	}
	// Which header map the front door reads.
	var h http.Header
	switch door {
	case "rest":
		// API Gateway merges both.
		h = a.Merged()
		if len(h) == 0 {
			t.Errorf("REST answer without headers: %s", a.Raw)
		}
	case "httpapi", "functionurl":
		// Payload 2.0 has no multiValueHeaders: anything there is lost.
		if len(a.MultiValueHeaders) > 0 {
			t.Errorf("payload 2.0 answer puts headers in multiValueHeaders, which %s ignores: %s", door, a.Raw)
		}
		h = Answer{Headers: a.Headers}.Merged()
	case "alb":
		if want := fmt.Sprintf("%d %s", a.StatusCode, http.StatusText(a.StatusCode)); a.StatusDescription != want {
			t.Errorf("statusDescription %q, want %q", a.StatusDescription, want)
		}
		// The ALB reads the map the target group's setting selects,
		// and the request shows which one that is.
		if multiValue {
			if len(a.Headers) > 0 {
				t.Errorf("multi-value ALB answer also sets headers: %s", a.Raw)
			}
			h = Answer{MultiValueHeaders: a.MultiValueHeaders}.Merged()
		} else {
			if len(a.MultiValueHeaders) > 0 {
				t.Errorf("single-value ALB answer sets multiValueHeaders: %s", a.Raw)
			}
			h = Answer{Headers: a.Headers}.Merged()
		}
	}
	CheckHygiene(t, wantStatus, h, a.Body, head)
	return h
}

// CheckHygiene checks what every answer carries: the fixed body for its
// status (none for HEAD), exactly one of each security header, and the
// challenge of a 401 and the Allow of a 405.
func CheckHygiene(t testing.TB, status int, h http.Header, body string, head bool) {
	t.Helper()
	want, ok := Bodies[status]
	if !ok {
		t.Errorf("status %d is not one keygate answers with", status)
	}
	if head {
		want = ""
	}
	if body != want {
		t.Errorf("status %d: body %q, want %q", status, body, want)
	}
	headers := map[string]string{
		"Content-Type":           "application/json",
		"Cache-Control":          "no-store",
		"X-Content-Type-Options": "nosniff",
	}
	switch status {
	case http.StatusUnauthorized:
		headers["WWW-Authenticate"] = Challenge
	case http.StatusMethodNotAllowed:
		headers["Allow"] = "GET, HEAD"
	}
	for k, v := range headers {
		if got := h.Values(k); len(got) != 1 || got[0] != v {
			t.Errorf("status %d: %s = %q, want exactly %q", status, k, got, v)
		}
	}
}

// Decision checks an authorizer's answer to the sample event ev (body, or
// the invocation's failure message) against what events/expected.json
// wants of it:
//   - an HTTP API's (httpauthorizer): isAuthorized, and when true the
//     client and its meta (a JSON object in a string) in the context;
//   - a REST one's allow: an IAM policy allowing execute-api:Invoke for the
//     client as principal, on the stage of ev's methodArn, every route of
//     it, or exactly Want.Routes ("GET /" is arn:…:API/STAGE/GET/), with
//     the client and meta in the context;
//   - a REST one's deny: for a forbidden key, a policy denying the whole
//     stage (API Gateway's 403); else the failure Unauthorized (its 401).
func Decision(t testing.TB, ev events.Event, body []byte, failure string) {
	t.Helper()
	want := ev.Want
	allow := want.Decision == "allow"
	var r struct {
		IsAuthorized       *bool  `json:"isAuthorized"`
		PrincipalID        string `json:"principalId"`
		UsageIdentifierKey string `json:"usageIdentifierKey"`
		PolicyDocument     struct {
			Version   string
			Statement []struct {
				Action   any
				Effect   string
				Resource any
			}
		} `json:"policyDocument"`
		Context map[string]any `json:"context"`
	}
	decoded := failure == "" && json.Unmarshal(body, &r) == nil
	contextOK := func() bool {
		meta, _ := r.Context["meta"].(string)
		var m map[string]string
		return r.Context["client"] == want.ClientName() && json.Unmarshal([]byte(meta), &m) == nil
	}
	if ev.Door == "httpauthorizer" {
		if !decoded || r.IsAuthorized == nil {
			t.Fatalf("answer %s (failure %q): want a simple authorizer response", body, failure)
		}
		if *r.IsAuthorized != allow || allow && !contextOK() {
			t.Errorf("answer %s, want isAuthorized %v for client %s with its meta", body, allow, want.ClientName())
		}
		return
	}
	if !allow && want.Outcome != "forbidden" {
		if failure != "Unauthorized" || len(body) > 0 && string(body) != "null" {
			t.Errorf("answer %s (failure %q): want the failure Unauthorized (API Gateway's 401)", body, failure)
		}
		return
	}
	var probe struct {
		MethodArn string `json:"methodArn"`
	}
	json.Unmarshal(ev.Payload, &probe)
	parts := strings.SplitN(probe.MethodArn, "/", 3)
	if len(parts) < 3 {
		t.Fatalf("%s: methodArn %q names no stage", ev.Name, probe.MethodArn)
	}
	stage := parts[0] + "/" + parts[1] + "/"
	effect, resources := "Deny", []string{stage + "*"}
	if allow {
		effect = "Allow"
		if want.Routes != nil {
			resources = nil
			for _, route := range want.Routes {
				method, path, _ := strings.Cut(route, " ")
				resources = append(resources, stage+method+path)
			}
		}
	}
	if !decoded {
		t.Fatalf("answer %s (failure %q): want a policy", body, failure)
	}
	st := r.PolicyDocument.Statement
	if r.PrincipalID != want.ClientName() || !contextOK() || r.PolicyDocument.Version != "2012-10-17" || len(st) != 1 ||
		st[0].Effect != effect || fmt.Sprint(st[0].Action) != "[execute-api:Invoke]" || fmt.Sprint(st[0].Resource) != fmt.Sprint(resources) {
		t.Errorf("policy %s: want %s execute-api:Invoke on %s for client %s with its meta", body, effect, resources, want.ClientName())
	}
	// The client in a usage plan: API Gateway counts an Allow by its key,
	// its old keys' (readonly.previous, … after a rotation) too.
	usage := ""
	if c := want.ClientName(); allow && (c == "readonly" || strings.HasPrefix(c, "readonly.previous")) {
		usage = events.UsageKey
	}
	if r.UsageIdentifierKey != usage {
		t.Errorf("policy %s: usageIdentifierKey %q, want %q", body, r.UsageIdentifierKey, usage)
	}
}
