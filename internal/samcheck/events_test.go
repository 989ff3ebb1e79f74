package samcheck

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// Front doors, as events/<door>-<case>.json names them.
const (
	doorREST        = "rest"
	doorHTTPAPI     = "httpapi"
	doorFunctionURL = "functionurl"
	doorALB         = "alb"
)

// albMultiValue marks the ALB events of a target group with multi-value
// headers enabled: events/alb-multivalue-<case>.json.
const albMultiValue = "multivalue-"

// generateEvent is, per door, the `sam local generate-event` command whose
// output has the shape of that door's events. A Function URL sends the
// payload 2.0 shape of an HTTP API (SAM has no generator of its own for it).
var generateEvent = map[string][]string{
	doorREST:        {"apigateway", "aws-proxy"},
	doorHTTPAPI:     {"apigateway", "http-api-proxy"},
	doorFunctionURL: {"apigateway", "http-api-proxy"},
	doorALB:         {"alb", "request"},
}

// Cases every door has, and the ones REST and HTTP API events add.
var (
	casesEveryDoor = []string{"valid-key", "wrong-key", "no-key"}
	casesAPIs      = []string{"key-in-query", "key-in-authorization", "two-keys", "uppercase-header", "unknown-path", "post-root", "unknown-path-no-key"}
)

// The top-level maps whose keys are request data (header names, query
// parameters), not part of the event's shape.
var dataMaps = []string{"headers", "multiValueHeaders", "queryStringParameters", "multiValueQueryStringParameters", "pathParameters", "stageVariables"}

// event is one file of events/.
type event struct {
	name, door string
	multiValue bool // ALB multi-value headers
	raw        []byte
	doc        map[string]any
}

func loadEvents(t *testing.T) []event {
	t.Helper()
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	files, err := EventFiles(root)
	if err != nil {
		t.Fatal(err)
	}
	var out []event
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatalf("reading %s: %v", f, err)
		}
		ev := event{name: filepath.Base(f), raw: raw}
		var rest string
		ev.door, rest, _ = strings.Cut(strings.TrimSuffix(ev.name, ".json"), "-")
		if _, ok := generateEvent[ev.door]; !ok {
			t.Fatalf("%s: the name does not start with a front door (rest-, httpapi-, functionurl-, alb-)", ev.name)
		}
		ev.multiValue = ev.door == doorALB && strings.HasPrefix(rest, albMultiValue)
		if err := json.Unmarshal(raw, &ev.doc); err != nil {
			t.Fatalf("%s is not a JSON object: %v", ev.name, err)
		}
		out = append(out, ev)
	}
	return out
}

var (
	generatedMu sync.Mutex
	generated   = map[string]map[string]any{}
)

// reference is what `sam local generate-event` produces for ev's kind.
func reference(t *testing.T, ev event) map[string]any {
	t.Helper()
	generatedMu.Lock()
	defer generatedMu.Unlock()
	args := generateEvent[ev.door]
	key := strings.Join(args, " ")
	ref, ok := generated[key]
	if !ok {
		out := run(t, 2*time.Minute, nil, "sam", append([]string{"local", "generate-event"}, args...)...)
		// The generator may print notes around the event.
		start, end := strings.Index(out, "{"), strings.LastIndex(out, "}")
		if start < 0 || end < start || json.Unmarshal([]byte(out[start:end+1]), &ref) != nil {
			t.Fatalf("sam local generate-event %s printed no JSON event:\n%s", key, out)
		}
		generated[key] = ref
	}
	if ev.multiValue {
		// A target group with multi-value headers sends the multiValue*
		// maps in place of the single-value ones.
		mv := map[string]any{}
		for k, v := range ref {
			switch k {
			case "headers":
				mv["multiValueHeaders"] = v
			case "queryStringParameters":
				mv["multiValueQueryStringParameters"] = v
			default:
				mv[k] = v
			}
		}
		return mv
	}
	return ref
}

// Every event has the fields `sam local generate-event` produces for its
// kind, recursively, and no others; a null stands for a part the request
// does not have (as API Gateway sends it in payload 1.0).
func TestEventShapes(t *testing.T) {
	for _, ev := range loadEvents(t) {
		t.Run(ev.name, func(t *testing.T) {
			for _, p := range sameKeys("", reference(t, ev), ev.doc) {
				t.Error(p)
			}
		})
	}
}

func sameKeys(path string, ref, got any) []string {
	if got == nil || ref == nil {
		return nil
	}
	switch r := ref.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: an object in generate-event's output, %T here", path, got)}
		}
		if contains(dataMaps, strings.TrimPrefix(path, ".")) {
			return nil
		}
		var problems []string
		for _, k := range keys(r) {
			if _, ok := g[k]; !ok {
				problems = append(problems, fmt.Sprintf("%s.%s is missing", path, k))
				continue
			}
			problems = append(problems, sameKeys(path+"."+k, r[k], g[k])...)
		}
		for _, k := range keys(g) {
			if _, ok := r[k]; !ok {
				problems = append(problems, fmt.Sprintf("%s.%s is not in generate-event's output", path, k))
			}
		}
		return problems
	case []any:
		g, ok := got.([]any)
		if !ok {
			return []string{fmt.Sprintf("%s: a list in generate-event's output, %T here", path, got)}
		}
		var problems []string
		if len(r) > 0 {
			for i, x := range g {
				problems = append(problems, sameKeys(fmt.Sprintf("%s[%d]", path, i), r[0], x)...)
			}
		}
		return problems
	default:
		switch got.(type) {
		case map[string]any, []any:
			return []string{fmt.Sprintf("%s: a %T in generate-event's output, %T here", path, ref, got)}
		}
		return nil
	}
}

// Every event decodes into its aws-lambda-go type with no unknown field,
// and re-encodes with every field that carries a value intact.
func TestEventsDecodeAndReencode(t *testing.T) {
	for _, ev := range loadEvents(t) {
		t.Run(ev.name, func(t *testing.T) {
			var v any
			switch ev.door {
			case doorREST:
				v = &events.APIGatewayProxyRequest{}
			case doorHTTPAPI, doorFunctionURL:
				v = &events.APIGatewayV2HTTPRequest{}
			case doorALB:
				v = &events.ALBTargetGroupRequest{}
			}
			dec := json.NewDecoder(bytes.NewReader(ev.raw))
			dec.DisallowUnknownFields()
			if err := dec.Decode(v); err != nil {
				t.Fatalf("does not decode as %T: %v", v, err)
			}
			out, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			var re map[string]any
			if err := json.Unmarshal(out, &re); err != nil {
				t.Fatal(err)
			}
			for _, p := range kept("", ev.doc, re) {
				t.Error(p)
			}
		})
	}
}

// kept lists the fields of orig that carry a value and are not in re with
// that value. A null, "", false, 0, {} or [] carries none: Go's omitempty
// may drop it.
func kept(path string, orig, re any) []string {
	if empty(orig) {
		return nil
	}
	switch o := orig.(type) {
	case map[string]any:
		r, ok := re.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s is lost in the round trip", path)}
		}
		var problems []string
		for _, k := range keys(o) {
			if empty(o[k]) {
				continue
			}
			if _, ok := r[k]; !ok {
				problems = append(problems, fmt.Sprintf("%s.%s is lost in the round trip", path, k))
				continue
			}
			problems = append(problems, kept(path+"."+k, o[k], r[k])...)
		}
		return problems
	case []any:
		r, ok := re.([]any)
		if !ok || len(r) != len(o) {
			return []string{fmt.Sprintf("%s changes in the round trip: %v → %v", path, orig, re)}
		}
		var problems []string
		for i := range o {
			problems = append(problems, kept(fmt.Sprintf("%s[%d]", path, i), o[i], r[i])...)
		}
		return problems
	}
	if !reflect.DeepEqual(orig, re) {
		return []string{fmt.Sprintf("%s changes in the round trip: %v → %v", path, orig, re)}
	}
	return nil
}

func empty(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case string:
		return v == ""
	case bool:
		return !v
	case float64:
		return v == 0
	case map[string]any:
		return len(v) == 0
	case []any:
		return len(v) == 0
	}
	return false
}

// request is what an event asks for.
type request struct {
	method, path string
	keys         []string // every x-api-key value, repeated headers apart
	host         string
}

func (ev event) request(t *testing.T) request {
	t.Helper()
	var r request
	var hdr map[string]string
	var mhdr map[string][]string
	switch ev.door {
	case doorREST:
		var e events.APIGatewayProxyRequest
		decode(t, ev, &e)
		r.method, r.path, hdr, mhdr = e.HTTPMethod, e.Path, e.Headers, e.MultiValueHeaders
	case doorHTTPAPI, doorFunctionURL:
		var e events.APIGatewayV2HTTPRequest
		decode(t, ev, &e)
		r.method, r.path, hdr = e.RequestContext.HTTP.Method, e.RawPath, e.Headers
	case doorALB:
		var e events.ALBTargetGroupRequest
		decode(t, ev, &e)
		r.method, r.path, hdr, mhdr = e.HTTPMethod, e.Path, e.Headers, e.MultiValueHeaders
	}
	h := http.Header{}
	for k, v := range hdr {
		h.Set(k, v)
	}
	if len(mhdr) > 0 { // the one API Gateway and ALB keep repeats in
		h = http.Header{}
		for k, vs := range mhdr {
			for _, v := range vs {
				h.Add(k, v)
			}
		}
	}
	r.keys = h.Values("X-Api-Key")
	r.host = h.Get("Host")
	return r
}

func decode(t *testing.T, ev event, v any) {
	t.Helper()
	if err := json.Unmarshal(ev.raw, v); err != nil {
		t.Fatalf("%s: %v", ev.name, err)
	}
}

// status is what keygate must answer to r, from the request alone.
func (r request) status() int {
	switch {
	case len(r.keys) != 1 || r.keys[0] != RightKey:
		return http.StatusUnauthorized
	case r.path != "/":
		return http.StatusNotFound
	case r.method != http.MethodGet && r.method != http.MethodHead:
		return http.StatusMethodNotAllowed
	}
	return http.StatusOK
}

// Expected has an entry for every event file and a file for every entry,
// every door has the cases users look for, and each entry agrees with what
// its event asks for.
func TestExpectedMatchesFiles(t *testing.T) {
	evs := loadEvents(t)
	files := map[string]event{}
	for _, ev := range evs {
		files[ev.name] = ev
		if _, ok := Expected[ev.name]; !ok {
			t.Errorf("events/%s has no entry in samcheck.Expected", ev.name)
		}
	}
	for name, status := range Expected {
		ev, ok := files[name]
		if !ok {
			t.Errorf("samcheck.Expected has %s, which is not in events/", name)
			continue
		}
		if implied := ev.request(t).status(); implied != status {
			t.Errorf("%s: Expected says %d, the event asks for %d", name, status, implied)
		}
	}
	for door := range generateEvent {
		cases := casesEveryDoor
		if door == doorREST || door == doorHTTPAPI {
			cases = append(append([]string{}, casesEveryDoor...), casesAPIs...)
		}
		for _, c := range cases {
			if _, ok := files[door+"-"+c+".json"]; !ok {
				t.Errorf("events/%s-%s.json is missing", door, c)
			}
		}
	}
}

// The events are consistent as the front doors send them: the same method
// and path in every place that repeats them, API Gateway's two header maps
// in step, the route SAM deploys, a host of the door's own domain, and no
// key but the two fixtures.
func TestEventsAreConsistent(t *testing.T) {
	fnURLHost := regexp.MustCompile(`^([a-z0-9]{32})\.lambda-url\.[a-z0-9-]+\.on\.aws$`)
	apiHost := regexp.MustCompile(`^([a-z0-9]{10})\.execute-api\.[a-z0-9-]+\.amazonaws\.com$`)
	for _, ev := range loadEvents(t) {
		t.Run(ev.name, func(t *testing.T) {
			r := ev.request(t)
			for _, v := range r.keys {
				for _, k := range strings.Split(v, ",") { // payload 2.0 joins repeats
					if k != RightKey && k != WrongKey {
						t.Errorf("x-api-key %q is neither fixture key", k)
					}
				}
			}
			if elsewhere := keysOutsideHeader(t, ev); elsewhere != strings.Contains(ev.name, "key-in-") {
				t.Errorf("a fixture key outside the x-api-key header: %v; only the key-in-* events have one", elsewhere)
			}
			switch ev.door {
			case doorREST:
				checkREST(t, ev, r, apiHost)
			case doorHTTPAPI, doorFunctionURL:
				checkV2(t, ev, r, apiHost, fnURLHost)
			case doorALB:
				var e events.ALBTargetGroupRequest
				decode(t, ev, &e)
				if e.RequestContext.ELB.TargetGroupArn == "" {
					t.Errorf("no requestContext.elb.targetGroupArn")
				}
				if (len(e.Headers) > 0) == ev.multiValue || (len(e.MultiValueHeaders) > 0) != ev.multiValue {
					t.Errorf("an ALB sends headers or multiValueHeaders (multi-value %v), not both", ev.multiValue)
				}
			}
		})
	}
}

// keysOutsideHeader reports whether a fixture key appears in ev anywhere
// but an x-api-key header.
func keysOutsideHeader(t *testing.T, ev event) bool {
	var doc map[string]any
	if err := json.Unmarshal(ev.raw, &doc); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"headers", "multiValueHeaders"} {
		hdr, _ := doc[m].(map[string]any)
		for k := range hdr {
			if strings.EqualFold(k, "x-api-key") {
				delete(hdr, k)
			}
		}
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Contains(b, []byte(RightKey)) || bytes.Contains(b, []byte(WrongKey))
}

func checkREST(t *testing.T, ev event, r request, apiHost *regexp.Regexp) {
	var e events.APIGatewayProxyRequest
	decode(t, ev, &e)
	if len(e.Headers) != len(e.MultiValueHeaders) {
		t.Errorf("headers has %d names, multiValueHeaders %d: API Gateway sends the same names in both", len(e.Headers), len(e.MultiValueHeaders))
	}
	for k, vs := range e.MultiValueHeaders {
		if len(vs) == 0 || e.Headers[k] != vs[len(vs)-1] {
			t.Errorf("header %s: headers has %q, multiValueHeaders %q; API Gateway puts the last value in headers", k, e.Headers[k], vs)
		}
	}
	for k, vs := range e.MultiValueQueryStringParameters {
		if len(vs) == 0 || e.QueryStringParameters[k] != vs[len(vs)-1] {
			t.Errorf("query %s: the single- and multi-value maps disagree", k)
		}
	}
	if len(e.QueryStringParameters) != len(e.MultiValueQueryStringParameters) {
		t.Errorf("the query string maps disagree")
	}
	rc := e.RequestContext
	if rc.HTTPMethod != e.HTTPMethod || rc.Path != "/"+rc.Stage+e.Path || rc.ResourcePath != e.Resource || rc.Stage != "Prod" {
		t.Errorf("requestContext (%s %s, resource %s, stage %s) disagrees with %s %s (resource %s) on SAM's Prod stage",
			rc.HTTPMethod, rc.Path, rc.ResourcePath, rc.Stage, e.HTTPMethod, e.Path, e.Resource)
	}
	// The routes template.yaml deploys: GET /, ANY /, ANY /{proxy+}.
	wantResource, wantProxy := "/", ""
	if e.Path != "/" {
		wantResource, wantProxy = "/{proxy+}", strings.TrimPrefix(e.Path, "/")
	}
	if e.Resource != wantResource || e.PathParameters["proxy"] != wantProxy {
		t.Errorf("resource %s, proxy %q: the template routes %s to %s", e.Resource, e.PathParameters["proxy"], e.Path, wantResource)
	}
	if m := apiHost.FindStringSubmatch(r.host); m == nil || m[1] != rc.APIID {
		t.Errorf("Host %q is not the REST API %s's execute-api domain", r.host, rc.APIID)
	}
}

func checkV2(t *testing.T, ev event, r request, apiHost, fnURLHost *regexp.Regexp) {
	var e events.APIGatewayV2HTTPRequest
	decode(t, ev, &e)
	rc := e.RequestContext
	if e.Version != "2.0" || e.RouteKey != "$default" || rc.RouteKey != "$default" || rc.Stage != "$default" {
		t.Errorf("version %s, route %s/%s, stage %s: want 2.0 on the $default route and stage", e.Version, e.RouteKey, rc.RouteKey, rc.Stage)
	}
	if rc.HTTP.Path != e.RawPath {
		t.Errorf("requestContext.http.path %s, rawPath %s", rc.HTTP.Path, e.RawPath)
	}
	q, err := url.ParseQuery(e.RawQueryString)
	if err != nil {
		t.Errorf("rawQueryString: %v", err)
	}
	for k := range q {
		if e.QueryStringParameters[k] != strings.Join(q[k], ",") {
			t.Errorf("query %s: rawQueryString and queryStringParameters disagree", k)
		}
	}
	if len(q) != len(e.QueryStringParameters) {
		t.Errorf("rawQueryString and queryStringParameters disagree")
	}
	host := apiHost
	if ev.door == doorFunctionURL {
		host = fnURLHost
	}
	if m := host.FindStringSubmatch(rc.DomainName); m == nil || m[1] != rc.APIID || rc.DomainPrefix != rc.APIID || r.host != rc.DomainName {
		t.Errorf("domain %s (prefix %s, api %s, Host %s) is not a %s domain", rc.DomainName, rc.DomainPrefix, rc.APIID, r.host, ev.door)
	}
}

// events/env.json sets the key the events carry, for the API function,
// and clears the secret ID so that sam local needs no AWS.
func TestEnvFile(t *testing.T) {
	var env map[string]map[string]string
	if err := json.Unmarshal([]byte(readRepoFile(t, "events/"+EnvFile)), &env); err != nil {
		t.Fatalf("events/%s: %v", EnvFile, err)
	}
	want := map[string]map[string]string{apiFunction: {"API_KEY": RightKey, "API_KEY_SECRET_ID": ""}}
	if !reflect.DeepEqual(env, want) {
		t.Errorf("events/%s = %v, want %v", EnvFile, env, want)
	}
	// And samconfig.toml points sam local at it.
	cfg := readRepoFile(t, "samconfig.toml")
	for _, section := range []string{"[default.local_start_api.parameters]", "[default.local_invoke.parameters]"} {
		i := strings.Index(cfg, section)
		body := ""
		if i >= 0 {
			body, _, _ = strings.Cut(cfg[i+len(section):], "\n[")
		}
		if !strings.Contains(body, `env_vars = "events/`+EnvFile+`"`) {
			t.Errorf("samconfig.toml %s does not set env_vars = \"events/%s\"", section, EnvFile)
		}
	}
}

// EventFiles lists the event files, sorted, without env.json.
func TestEventFiles(t *testing.T) {
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	files, err := EventFiles(root)
	if err != nil {
		t.Fatal(err)
	}
	if !sort.StringsAreSorted(files) {
		t.Errorf("EventFiles is not sorted: %v", files)
	}
	for _, f := range files {
		if filepath.Base(f) == EnvFile || filepath.Dir(f) != filepath.Join(root, "events") {
			t.Errorf("EventFiles lists %s", f)
		}
	}
	if _, err := EventFiles(t.TempDir()); err == nil {
		t.Errorf("EventFiles of a directory without events: no error")
	}
}
