package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	lambdaevents "github.com/aws/aws-lambda-go/events"
)

// Front doors, as the event files name them.
const (
	doorREST        = "rest"
	doorHTTPAPI     = "httpapi"
	doorFunctionURL = "functionurl"
	doorALB         = "alb"
	doorTokenAuth   = "tokenauthorizer"
	doorRequestAuth = "requestauthorizer"
	doorHTTPAuth    = "httpauthorizer"
)

// Cases every door has, and the ones REST and HTTP API events add.
var (
	casesEveryDoor = []string{"valid-key", "wrong-key", "no-key"}
	casesAPIs      = []string{"key-in-query", "key-in-authorization", "two-keys", "uppercase-header", "unknown-path", "post-root", "unknown-path-no-key"}
	casesAuth      = []string{"two-keys"}
)

func all(t *testing.T) []Event {
	t.Helper()
	evs, err := All()
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// multiValue: an ALB event of a target group with multi-value headers
// enabled (events/alb-multivalue-<case>.json).
func multiValue(ev Event) bool {
	return ev.Door == doorALB && strings.HasPrefix(ev.Name, "alb-multivalue-")
}

func doc(t *testing.T, ev Event) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(ev.Payload, &m); err != nil {
		t.Fatalf("%s is not a JSON object: %v", ev.Name, err)
	}
	return m
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatalf("reading %s: %v", name, err)
	}
	return string(b)
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Every event decodes into its aws-lambda-go type with no unknown field,
// and re-encodes with every field that carries a value intact.
func TestEventsDecodeAndReencode(t *testing.T) {
	for _, ev := range all(t) {
		t.Run(ev.Name, func(t *testing.T) {
			var v any
			switch ev.Door {
			case doorREST:
				v = &lambdaevents.APIGatewayProxyRequest{}
			case doorHTTPAPI, doorFunctionURL:
				v = &lambdaevents.APIGatewayV2HTTPRequest{}
			case doorALB:
				v = &lambdaevents.ALBTargetGroupRequest{}
			case doorTokenAuth:
				v = &lambdaevents.APIGatewayCustomAuthorizerRequest{}
			case doorRequestAuth:
				v = &lambdaevents.APIGatewayCustomAuthorizerRequestTypeRequest{}
			case doorHTTPAuth:
				v = &lambdaevents.APIGatewayV2CustomAuthorizerV2Request{}
			}
			dec := json.NewDecoder(bytes.NewReader(ev.Payload))
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
			for _, p := range kept("", doc(t, ev), re) {
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
	source       string // the caller's address, as the door gives it
}

func (ev Event) request(t *testing.T) request {
	t.Helper()
	var r request
	var hdr map[string]string
	var mhdr map[string][]string
	switch ev.Door {
	case doorREST:
		var e lambdaevents.APIGatewayProxyRequest
		decode(t, ev, &e)
		r.method, r.path, hdr, mhdr = e.HTTPMethod, e.Path, e.Headers, e.MultiValueHeaders
		r.source = e.RequestContext.Identity.SourceIP
	case doorHTTPAPI, doorFunctionURL:
		var e lambdaevents.APIGatewayV2HTTPRequest
		decode(t, ev, &e)
		r.method, r.path, hdr = e.RequestContext.HTTP.Method, e.RawPath, e.Headers
		r.source = e.RequestContext.HTTP.SourceIP
	case doorALB:
		var e lambdaevents.ALBTargetGroupRequest
		decode(t, ev, &e)
		r.method, r.path, hdr, mhdr = e.HTTPMethod, e.Path, e.Headers, e.MultiValueHeaders
	case doorTokenAuth:
		var e lambdaevents.APIGatewayCustomAuthorizerRequest
		decode(t, ev, &e)
		if e.AuthorizationToken != "" {
			r.keys = []string{e.AuthorizationToken}
		}
		return r
	case doorRequestAuth:
		var e lambdaevents.APIGatewayCustomAuthorizerRequestTypeRequest
		decode(t, ev, &e)
		r.method, r.path, hdr, mhdr = e.HTTPMethod, e.Path, e.Headers, e.MultiValueHeaders
		r.source = e.RequestContext.Identity.SourceIP
	case doorHTTPAuth:
		var e lambdaevents.APIGatewayV2CustomAuthorizerV2Request
		decode(t, ev, &e)
		r.method, r.path, hdr = e.RequestContext.HTTP.Method, e.RawPath, e.Headers
		r.source = e.RequestContext.HTTP.SourceIP
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
	if ev.Door == doorALB {
		// The address the ALB appended to X-Forwarded-For: the last one.
		if xff := h.Values("X-Forwarded-For"); len(xff) > 0 {
			parts := strings.Split(xff[len(xff)-1], ",")
			r.source = strings.TrimSpace(parts[len(parts)-1])
		}
	}
	return r
}

func decode(t *testing.T, ev Event, v any) {
	t.Helper()
	if err := json.Unmarshal(ev.Payload, v); err != nil {
		t.Fatalf("%s: %v", ev.Name, err)
	}
}

// fixtureRule is one of env.json's clients, read here without keygate's
// code.
type fixtureRule struct {
	client  string
	allow   []*regexp.Regexp // nil: every route
	sources []*net.IPNet     // nil: anywhere
	routes  []string
}

func fixtureRules(t *testing.T) map[string]fixtureRule {
	t.Helper()
	env, err := Env()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Keys map[string]json.RawMessage `json:"api_keys"`
	}
	if err := json.Unmarshal([]byte(env["KeygateFunction"]["API_KEY"]), &doc); err != nil {
		t.Fatalf("env.json: %v", err)
	}
	rules := map[string]fixtureRule{}
	for name, raw := range doc.Keys {
		var key string
		var e struct {
			Key     string   `json:"key"`
			Allow   []string `json:"allow"`
			Sources []string `json:"sources"`
		}
		if json.Unmarshal(raw, &key) != nil {
			if err := json.Unmarshal(raw, &e); err != nil {
				t.Fatalf("env.json's %s: %v", name, err)
			}
			key = e.Key
		}
		r := fixtureRule{client: name, routes: e.Allow}
		for _, a := range e.Allow {
			// METHOD /path, * in the path: any run of characters.
			r.allow = append(r.allow, regexp.MustCompile("^"+strings.ReplaceAll(regexp.QuoteMeta(a), `\*`, ".*")+"$"))
		}
		for _, c := range e.Sources {
			_, n, err := net.ParseCIDR(c)
			if err != nil {
				t.Fatalf("env.json's %s: %v", name, err)
			}
			r.sources = append(r.sources, n)
		}
		rules[key] = r
	}
	return rules
}

// implied is what keygate must answer to ev, from the event and env.json
// alone: authentication first, then the key's sources and routes (a REST
// authorizer hands the routes on in its policy), then routing.
func implied(t *testing.T, ev Event, rules map[string]fixtureRule) Want {
	r := ev.request(t)
	auth := strings.HasSuffix(ev.Door, "authorizer")
	refuse := func(outcome, reason, client string) Want {
		w := Want{Outcome: outcome, Reason: reason, Client: client}
		switch {
		case auth:
			w.Decision = "deny"
		case outcome == "forbidden":
			w.Status = http.StatusForbidden
		default:
			w.Status = http.StatusUnauthorized
		}
		return w
	}
	switch {
	case len(r.keys) == 0 || strings.TrimSpace(r.keys[0]) == "":
		return refuse("missing", "", "")
	case len(r.keys) > 1 || strings.Contains(r.keys[0], ","): // payload 2.0 and TOKEN join repeats
		return refuse("ambiguous", "", "")
	}
	rule, ok := rules[strings.TrimSpace(r.keys[0])]
	if !ok {
		return refuse("invalid", "", "")
	}
	client := rule.client
	if client == "default" {
		client = ""
	}
	if rule.sources != nil {
		ip := net.ParseIP(r.source)
		if !slices.ContainsFunc(rule.sources, func(n *net.IPNet) bool { return ip != nil && n.Contains(ip) }) {
			return refuse("forbidden", "source", client)
		}
	}
	restPolicy := ev.Door == doorTokenAuth || ev.Door == doorRequestAuth
	if rule.allow != nil && !restPolicy && !slices.ContainsFunc(rule.allow, func(re *regexp.Regexp) bool { return re.MatchString(r.method + " " + r.path) }) {
		return refuse("forbidden", "route", client)
	}
	w := Want{Outcome: "authorized", Client: client}
	switch {
	case auth:
		w.Decision = "allow"
		if restPolicy {
			w.Routes = rule.routes
		}
	case r.path != "/":
		w.Status = http.StatusNotFound
	case r.method != http.MethodGet && r.method != http.MethodHead:
		w.Status = http.StatusMethodNotAllowed
	default:
		w.Status = http.StatusOK
	}
	return w
}

// Every entry of expected.json agrees with what its event asks for (an
// oracle written from the requirements, independent of the function), and
// every door has the cases users look for.
func TestExpectedAgreesWithContent(t *testing.T) {
	files := map[string]bool{}
	rules := fixtureRules(t)
	for _, ev := range all(t) {
		files[ev.Name] = true
		if want := implied(t, ev, rules); !reflect.DeepEqual(want, ev.Want) {
			t.Errorf("%s: expected.json says %+v, the event asks for %+v", ev.Name, ev.Want, want)
		}
	}
	for _, door := range []string{doorREST, doorHTTPAPI, doorFunctionURL, doorALB, doorTokenAuth, doorRequestAuth, doorHTTPAuth} {
		cases := casesEveryDoor
		switch door {
		case doorREST, doorHTTPAPI:
			cases = append(append([]string{}, casesEveryDoor...), casesAPIs...)
		case doorTokenAuth, doorRequestAuth, doorHTTPAuth:
			cases = append(append([]string{}, casesEveryDoor...), casesAuth...)
		}
		for _, c := range cases {
			if !files[door+"-"+c+".json"] {
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
	for _, ev := range all(t) {
		t.Run(ev.Name, func(t *testing.T) {
			r := ev.request(t)
			for _, v := range r.keys {
				for _, k := range strings.Split(v, ",") { // payload 2.0 joins repeats
					if k != RightKey && k != WrongKey && k != ScopedKey && k != SourcedKey {
						t.Errorf("x-api-key %q is no fixture key", k)
					}
				}
			}
			if elsewhere := keysOutsideHeader(t, ev); elsewhere != strings.Contains(ev.Name, "key-in-") {
				t.Errorf("a fixture key outside the x-api-key header: %v; only the key-in-* events have one", elsewhere)
			}
			switch ev.Door {
			case doorREST:
				checkREST(t, ev, r, apiHost)
			case doorHTTPAPI, doorFunctionURL:
				checkV2(t, ev, r, apiHost, fnURLHost)
			case doorALB:
				var e lambdaevents.ALBTargetGroupRequest
				decode(t, ev, &e)
				if e.RequestContext.ELB.TargetGroupArn == "" {
					t.Errorf("no requestContext.elb.targetGroupArn")
				}
				if (len(e.Headers) > 0) == multiValue(ev) || (len(e.MultiValueHeaders) > 0) != multiValue(ev) {
					t.Errorf("an ALB sends headers or multiValueHeaders (multi-value %v), not both", multiValue(ev))
				}
			case doorTokenAuth, doorRequestAuth, doorHTTPAuth:
				checkAuthorizer(t, ev, r)
			}
		})
	}
}

// keysOutsideHeader reports whether a fixture key appears in ev anywhere
// but an x-api-key header.
func keysOutsideHeader(t *testing.T, ev Event) bool {
	var doc map[string]any
	if err := json.Unmarshal(ev.Payload, &doc); err != nil {
		t.Fatal(err)
	}
	// An authorizer's identity source is a copy of the x-api-key header.
	delete(doc, "authorizationToken")
	delete(doc, "identitySource")
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
	for _, k := range []string{RightKey, WrongKey, ScopedKey, SourcedKey} {
		if bytes.Contains(b, []byte(k)) {
			return true
		}
	}
	return false
}

func checkREST(t *testing.T, ev Event, r request, apiHost *regexp.Regexp) {
	var e lambdaevents.APIGatewayProxyRequest
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

func checkV2(t *testing.T, ev Event, r request, apiHost, fnURLHost *regexp.Regexp) {
	var e lambdaevents.APIGatewayV2HTTPRequest
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
	if ev.Door == doorFunctionURL {
		host = fnURLHost
	}
	if m := host.FindStringSubmatch(rc.DomainName); m == nil || m[1] != rc.APIID || rc.DomainPrefix != rc.APIID || r.host != rc.DomainName {
		t.Errorf("domain %s (prefix %s, api %s, Host %s) is not a %s domain", rc.DomainName, rc.DomainPrefix, rc.APIID, r.host, ev.Door)
	}
}

// events/env.json sets the key the events carry, for the API function,
// and clears the secret ID so that sam local needs no AWS.
func TestEnvFile(t *testing.T) {
	var env map[string]map[string]string
	if err := json.Unmarshal([]byte(readFile(t, EnvFile)), &env); err != nil {
		t.Fatalf("events/%s: %v", EnvFile, err)
	}
	if fn := env["KeygateFunction"]; len(env) != 1 || len(fn) != 2 || fn["API_KEY_SECRET_ID"] != "" || fn["API_KEY"] == "" {
		t.Errorf("events/%s = %v, want KeygateFunction's API_KEY, and API_KEY_SECRET_ID empty", EnvFile, env)
	}
	// And samconfig.toml points sam local at it.
	cfg := readFile(t, "../samconfig.toml")
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

// checkAuthorizer: an authorizer event names the method (REST: methodArn)
// or route (HTTP API: routeArn) it guards on the template's API and stage,
// the HTTP API's identity source is its x-api-key header, and a REST
// REQUEST event keeps its two header maps in step as API Gateway does.
func checkAuthorizer(t *testing.T, ev Event, r request) {
	arn := regexp.MustCompile(`^arn:aws:execute-api:us-east-1:123456789012:([a-z0-9]{10})/(Prod|\$default)/(GET|POST)/$`)
	switch ev.Door {
	case doorTokenAuth:
		var e lambdaevents.APIGatewayCustomAuthorizerRequest
		decode(t, ev, &e)
		if e.Type != "TOKEN" || !arn.MatchString(e.MethodArn) {
			t.Errorf("type %s, methodArn %s: want TOKEN on the Prod stage", e.Type, e.MethodArn)
		}
	case doorRequestAuth:
		var e lambdaevents.APIGatewayCustomAuthorizerRequestTypeRequest
		decode(t, ev, &e)
		if e.Type != "REQUEST" || !arn.MatchString(e.MethodArn) || e.RequestContext.Stage != "Prod" {
			t.Errorf("type %s, methodArn %s, stage %s: want REQUEST on the Prod stage", e.Type, e.MethodArn, e.RequestContext.Stage)
		}
		for k, vs := range e.MultiValueHeaders {
			if len(vs) == 0 || e.Headers[k] != vs[len(vs)-1] {
				t.Errorf("header %s: headers has %q, multiValueHeaders %q; API Gateway puts the last value in headers", k, e.Headers[k], vs)
			}
		}
		if len(e.Headers) != len(e.MultiValueHeaders) {
			t.Errorf("headers has %d names, multiValueHeaders %d", len(e.Headers), len(e.MultiValueHeaders))
		}
	case doorHTTPAuth:
		var e lambdaevents.APIGatewayV2CustomAuthorizerV2Request
		decode(t, ev, &e)
		if e.Version != "2.0" || e.Type != "REQUEST" || !arn.MatchString(e.RouteArn) {
			t.Errorf("version %s, type %s, routeArn %s: want a payload 2.0 REQUEST on the $default stage", e.Version, e.Type, e.RouteArn)
		}
		var want []string
		if v, ok := e.Headers["x-api-key"]; ok {
			want = []string{v}
		}
		if !slices.Equal(e.IdentitySource, want) {
			t.Errorf("identitySource %q, want the x-api-key header %q", e.IdentitySource, want)
		}
	}
}
