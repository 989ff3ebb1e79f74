package frontdoor_test

// FuzzInvoke drives the whole invocation path (raw event bytes in, answer
// bytes out) with mutated front-door events and checks what must hold for
// any input: no panic, no error, a JSON answer in the door's shape, 200 only
// for exactly one x-api-key value equal to a configured unexpired key, and
// no key in the answer, in a log line, or in anything the proxy prints.
//
// The oracle never asks keygate: it decodes the event with aws-lambda-go's
// types and counts x-api-key values the way each front door hands them to
// the proxy (REST and ALB: multiValueHeaders when present, else headers;
// payload 2.0: API Gateway joins repeated headers with commas and the proxy
// splits them again).
//
// Inputs are an event and a list of edits in a tiny language the fuzzer
// mutates as text, so that it easily puts the keys where they must not
// leak or must not count: one edit per line, an op byte then its argument
// ("<name>:<value>" or a whole <text>), where @K, @E and @W stand for the
// right, the expired and a wrong key, @S and @O for the key with routes and
// the one with sources.
//
//	h name:value  headers[name] = value
//	a name:value  headers[name] += "," + value (a comma list)
//	m name:value  multiValueHeaders[name] += [value]
//	M             multiValueHeaders = null
//	d name        delete every header spelt name, any case, in both maps
//	H name:value  headers[name] = value repeated to 64 KiB
//	q name:value  query parameter (all three query fields)
//	r name:value  requestContext[name] = value
//	s name:value  top-level field name = value (a string)
//	p text        path (path, rawPath, requestContext.http.path)
//	x text        method (httpMethod, requestContext.http.method)
//	b text        body, not base64
//	B text        body = base64(text), base64 flag set
//	Z text        body = text, base64 flag set (may not decode)
//	c text        cookies += [text]
//	i text        the source address: requestContext.identity.sourceIp,
//	              requestContext.http.sourceIp, and appended to
//	              X-Forwarded-For (headers, and multiValueHeaders if any)
//
// Run longer with `make fuzz`; `make test` runs it briefly (fuzz-smoke).

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log"
	"log/slog"
	"maps"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/internal/testsupport/doortest"

	"github.com/aws/aws-lambda-go/events"

	samples "github.com/keygate/keygate/events"
	"github.com/keygate/keygate/internal/decision"
	"github.com/keygate/keygate/internal/frontdoor"
	"github.com/keygate/keygate/internal/keycache"
	"github.com/keygate/keygate/internal/keysource"
)

const (
	// fuzzRightKey is the key the files in events/ carry (events/env.json).
	fuzzRightKey = samples.RightKey
	// fuzzExpiredKey is configured but expired at fuzzNow.
	fuzzExpiredKey = "kgFuzzExpiredKey7a1c93e05d2b4f68"
	// fuzzWrongKey is the wrong key of events/.
	fuzzWrongKey = samples.WrongKey
	// fuzzScopedKey may call fuzzScopedAllow only; fuzzSourcedKey may be
	// used from 192.0.2.0/24 and 2001:db8::/32 only.
	fuzzScopedKey   = samples.ScopedKey
	fuzzScopedAllow = `["GET /","HEAD /reports/*"]`
	fuzzSourcedKey  = samples.SourcedKey
)

var (
	fuzzNow    = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	fuzzSecret = fmt.Sprintf(`{"api_keys":{"fuzz-right":%q,"fuzz-expired":{"key":%q,"expires":"2026-01-01T00:00:00Z"},`+
		`"fuzz-scoped":{"key":%q,"allow":%s},"fuzz-sourced":{"key":%q,"sources":["192.0.2.0/24","2001:db8::/32"]}}}`,
		fuzzRightKey, fuzzExpiredKey, fuzzScopedKey, fuzzScopedAllow, fuzzSourcedKey)
	fuzzKeys   = []string{fuzzRightKey, fuzzExpiredKey, fuzzWrongKey, fuzzScopedKey, fuzzSourcedKey}
	fuzzTokens = strings.NewReplacer("@K", fuzzRightKey, "@E", fuzzExpiredKey, "@W", fuzzWrongKey, "@S", fuzzScopedKey, "@O", fuzzSourcedKey)
)

// fuzzEditSeeds put keys in every place the issue names: multi-value
// headers, comma lists, odd casing, base64 bodies, huge values, paths,
// queries, bodies, cookies, other headers; and break the request line.
var fuzzEditSeeds = []string{
	"",
	// Two descriptions of the headers that disagree, and members named
	// twice (the event decides by its last one).
	"hx-api-key:@W",
	"hx-api-key:@K\nmx-api-key:@W",
	"mx-api-key:@W",
	"mX-Api-Key:@K",
	"dx-api-key\nmx-api-key:@K",
	"dx-api-key\nhx-api-key:@K",
	`Ex-api-key:"@W"`,
	`DHeaders:{"x-api-key":"@K"}`,
	`Dheaders:{"x-api-key":"@W"}`,
	`DmultiValueHeaders:{"x-api-key":["@W"]}`,
	// A broken field beside well-formed multi-value headers.
	"nbody",
	"sisBase64Encoded:true",
	"hx-api-key:@K",
	"hX-API-KEY:@K",
	"hx-API-key:@E",
	"hx-api-key:@W",
	"hx-api-key: @K\t",
	"hx-api-key:@K\nhX-Api-Key:@K",
	"hx-api-key:@K\nhX-Api-Key:@W",
	"ax-api-key:@K",
	"hx-api-key:@K,@K",
	"hx-api-key:@K,",
	"hx-api-key:,@K",
	"hx-api-key:@W, @K",
	"mx-api-key:@K\nmx-api-key:@K",
	"mx-api-key:@W\nmX-API-KEY:@K",
	"mx-api-key:",
	"M\nhx-api-key:@K",
	"dx-api-key",
	"dx-api-key\nhx_api_key:@K",
	"dx-api-key\nhx-api-key :@K",
	"dx-api-key\nhauthorization:Bearer @K",
	"dx-api-key\np/@K",
	"dx-api-key\np/?x-api-key=@K",
	"p@K",
	"p/%@K",
	"dx-api-key\nqx-api-key:@K",
	"q@K:%zz",
	"dx-api-key\nb{\"x-api-key\":\"@K\"}",
	"dx-api-key\nB@K",
	"Z@K!",
	"dx-api-key\ncx-api-key=@K",
	"Hx-api-key:@K",
	"Hx-other:@K",
	"xPOST",
	"xhead",
	"x@K M",
	"rdomainName:ex ample.com/@K",
	"hhost:b d\np/@K",
	"mhost:ok.example.com\nhhost:b d\np/@K",
	"sversion:1.0",
	"rhttp:",
	// Keys with rules: routes (GET / and HEAD /reports/* only) and
	// sources (192.0.2.0/24, 2001:db8::/32) at every door.
	"dx-api-key\nhx-api-key:@S\nmx-api-key:@S",
	"dx-api-key\nhx-api-key:@S\nmx-api-key:@S\nxPOST",
	"dx-api-key\nhx-api-key:@S\nmx-api-key:@S\nxHEAD\np/reports/7",
	"dx-api-key\nhx-api-key:@S\nmx-api-key:@S\nxHEAD\np/reports/../admin",
	"dx-api-key\nhx-api-key:@S\nmx-api-key:@S\nxHEAD\np/reports/%2e%2e/admin",
	"dx-api-key\nhx-api-key:@S\nmx-api-key:@S\np//",
	"dx-api-key\nhx-api-key:@O\nmx-api-key:@O",
	"dx-api-key\nhx-api-key:@O\nmx-api-key:@O\ni198.51.100.7",
	"dx-api-key\nhx-api-key:@O\nmx-api-key:@O\ni2001:db8::5",
	"dx-api-key\nhx-api-key:@O\nmx-api-key:@O\ni::ffff:192.0.2.9",
	"dx-api-key\nhx-api-key:@O\nmx-api-key:@O\ninot-an-address",
	"dx-api-key\nhx-api-key:@O\nmx-api-key:@O\nhx-forwarded-for:192.0.2.10, 198.51.100.7",
	"dx-api-key\nhx-api-key:@O\nmx-api-key:@O\nhx-forwarded-for:198.51.100.7, 192.0.2.10",
	"dx-api-key\nhx-api-key:@O\nmx-api-key:@O\nhX-Forwarded-For:192.0.2.10",
	"dx-api-key\nhx-api-key:@O\nmx-api-key:@O\ndx-forwarded-for",
}

func FuzzInvoke(f *testing.F) {
	// Every sample event as it is, and the edits on each door's
	// valid-key event (all of them on all events is slow under -race).
	evs := fuzzEvents(f)
	for _, name := range slices.Sorted(maps.Keys(evs)) {
		ev := evs[name]
		f.Add(ev, "")
		if strings.HasSuffix(name, "valid-key.json") {
			for _, edits := range fuzzEditSeeds[1:] {
				f.Add(ev, edits)
			}
		}
	}
	h := newFuzzHarness(f)
	f.Fuzz(func(t *testing.T, payload []byte, edits string) {
		payload = fuzzEdit([]byte(fuzzTokens.Replace(string(payload))), fuzzTokens.Replace(edits))
		h.check(t, payload)
	})
}

// fuzzEvents reads every event file in events/, the real shapes the
// template's front doors send.
func fuzzEvents(f *testing.F) map[string][]byte {
	evs, err := samples.All()
	if err != nil {
		f.Fatalf("the fuzz target seeds with the sample events: %v", err)
	}
	out := make(map[string][]byte, len(evs))
	for _, ev := range evs {
		out[ev.Name] = ev.Payload
	}
	return out
}

// fuzzHarness is keygate's invocation path as cmd/api wires it, with a
// static key set, a fixed clock, and every output captured.
type fuzzHarness struct {
	adapter *frontdoor.Adapter
	logs    *bytes.Buffer
	// printed receives what the proxy library writes with fmt.Print and
	// the standard log package, outside keygate's logger.
	printed *os.File
}

func newFuzzHarness(f *testing.F) *fuzzHarness {
	var logs bytes.Buffer
	lg := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	clock := func() time.Time { return fuzzNow }
	cache := keycache.New(keysource.NewStatic("fuzz", fuzzSecret), keycache.Options{Now: clock, Log: lg})
	if err := cache.Load(context.Background()); err != nil {
		f.Fatalf("loading the fuzz key set: %v", err)
	}
	printed, err := os.CreateTemp(f.TempDir(), "printed")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { printed.Close() })
	return &fuzzHarness{
		adapter: frontdoor.New(decision.New(cache), lg),
		logs:    &logs,
		printed: printed,
	}
}

// invoke runs one event with os.Stdout and the standard logger pointed at
// a file. Fuzz inputs run one at a time per process, so the swap is safe.
func (h *fuzzHarness) invoke(t *testing.T, payload []byte) (out []byte, err error, printed string) {
	h.logs.Reset()
	if err := h.printed.Truncate(0); err != nil {
		t.Fatal(err)
	}
	if _, err := h.printed.Seek(0, 0); err != nil {
		t.Fatal(err)
	}
	stdout, stdlog := os.Stdout, log.Writer()
	os.Stdout = h.printed
	log.SetOutput(h.printed)
	func() {
		defer func() { os.Stdout = stdout; log.SetOutput(stdlog) }()
		out, err = h.adapter.Invoke(context.Background(), payload)
	}()
	b, rerr := os.ReadFile(h.printed.Name())
	if rerr != nil {
		t.Fatal(rerr)
	}
	return out, err, string(b)
}

func (h *fuzzHarness) check(t *testing.T, payload []byte) {
	out, err, printed := h.invoke(t, payload)
	switch frontdoor.Detect(payload) {
	case frontdoor.TokenAuthorizer, frontdoor.RequestAuthorizer, frontdoor.HTTPAuthorizer:
		h.checkAuthorizer(t, payload, out, err, printed)
		return
	}
	if err != nil {
		t.Fatalf("Invoke returned an error (the runtime would record a failed invocation): %v", err)
	}
	logs := h.logs.String()
	for _, k := range fuzzKeys {
		if bytes.Contains(out, []byte(k)) {
			t.Fatalf("the answer holds a key: %s", out)
		}
		if strings.Contains(logs, k) {
			t.Fatalf("a log line holds a key: %s", logs)
		}
		if strings.Contains(printed, k) {
			t.Fatalf("the proxy printed a key outside the logger: %q", printed)
		}
	}
	if printed != "" {
		t.Fatalf("the proxy printed outside keygate's logger (a non-JSON line in the function's log): %q", printed)
	}

	want := fuzzExpect(payload)
	r := decodeFuzzAnswer(t, want, out)
	line := oneLogLine(t, logs)
	if want.duplicate && r.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d for an event that names a member twice, want 400 (%s)", r.StatusCode, payload)
	}

	switch r.StatusCode {
	case http.StatusOK, http.StatusNotFound, http.StatusMethodNotAllowed:
		// Routing happens only after authentication.
		if !want.decoded || want.outcome() != "authorized" {
			t.Fatalf("status %d for an event whose x-api-key values %q do not authorize (%s)", r.StatusCode, want.keys, payload)
		}
	case http.StatusForbidden:
		if !want.decoded || want.outcome() != "forbidden" {
			t.Fatalf("403 for an event whose key %q is not forbidden here (outcome %s) (%s)", want.keys, want.outcome(), payload)
		}
		if line.Outcome != "forbidden" {
			t.Errorf("logged outcome %q for a 403", line.Outcome)
		}
	case http.StatusUnauthorized:
		if !want.decoded {
			t.Fatalf("401 for an event that does not decode as its door's shape (%s)", payload)
		}
		if o := want.outcome(); o == "authorized" || o == "forbidden" {
			t.Fatalf("401 for exactly one valid key %q (outcome %s): a wrong answer (%s)", want.keys, o, payload)
		}
		if line.Outcome != want.outcome() {
			t.Errorf("logged outcome %q, want %q for x-api-key values %q", line.Outcome, want.outcome(), want.keys)
		}
	case http.StatusBadRequest:
		if line.Msg != "bad event" {
			t.Errorf("400 logged as %q, want \"bad event\"", line.Msg)
		}
	default:
		t.Fatalf("status %d: %s", r.StatusCode, out)
	}
	if r.StatusCode != http.StatusBadRequest {
		if line.Msg != "request" || line.Status != r.StatusCode {
			t.Errorf("log line %+v does not record the %d answer", line, r.StatusCode)
		}
		if r.StatusCode != http.StatusUnauthorized && r.StatusCode != http.StatusForbidden && line.Outcome != "authorized" {
			t.Errorf("logged outcome %q for a %d answer", line.Outcome, r.StatusCode)
		}
	}
}

// fuzzOracle is what the event asks for, read without keygate's code.
type fuzzOracle struct {
	kind    frontdoor.Kind
	decoded bool
	method  string
	// path is the request path as the handler routes it (decoded);
	// source the caller's address as the door gives it; noRoutes: the
	// routes are a REST authorizer's policy's, not the decision's.
	path     string
	source   string
	noRoutes bool
	// keys are the x-api-key values the front door hands over.
	keys []string
	// albMulti: an ALB event with multiValueHeaders (the target group
	// has them enabled, and reads only them from the answer).
	albMulti bool
	// conflict: the event carries two header maps that disagree about
	// x-api-key, so its key is ambiguous.
	conflict bool
	// duplicate: an object of the event names a member twice, so the
	// event is malformed.
	duplicate bool
}

func fuzzExpect(payload []byte) fuzzOracle {
	o := fuzzOracle{kind: frontdoor.Detect(payload)}
	if o.kind == frontdoor.Unknown {
		return o
	}
	var probe struct {
		MultiValueHeaders json.RawMessage `json:"multiValueHeaders"`
	}
	json.Unmarshal(payload, &probe)
	var probeMulti map[string][]string
	probeErr := json.Unmarshal(probe.MultiValueHeaders, &probeMulti)
	o.albMulti = o.kind == frontdoor.ALB && probeErr == nil && probeMulti != nil
	if o.duplicate = fuzzDuplicate(payload, o.kind); o.duplicate {
		return o
	}
	switch o.kind {
	case frontdoor.REST:
		var ev events.APIGatewayProxyRequest
		if json.Unmarshal(payload, &ev) != nil {
			return o
		}
		o.decoded, o.method = true, ev.HTTPMethod
		o.keys = keyValues(ev.Headers, ev.MultiValueHeaders)
		o.conflict = fuzzConflict(ev.Headers, ev.MultiValueHeaders)
		o.path, o.source = routedPath(ev.Path), ev.RequestContext.Identity.SourceIP
	case frontdoor.HTTPAPI, frontdoor.FunctionURL:
		var ev events.APIGatewayV2HTTPRequest
		if json.Unmarshal(payload, &ev) != nil {
			return o
		}
		// Not part of payload 2.0, but a second description of the
		// headers when it is there.
		multi := probeMulti
		if len(probe.MultiValueHeaders) > 0 && probeErr != nil {
			return o
		}
		o.decoded, o.method = true, ev.RequestContext.HTTP.Method
		// Payload 2.0 has one string per header: API Gateway joins
		// repeated headers with commas, and the proxy splits them.
		for k, v := range ev.Headers {
			if isKeyHeader(k) {
				o.keys = append(o.keys, strings.Split(v, ",")...)
			}
		}
		o.conflict = fuzzConflict(ev.Headers, multi)
		path := ev.RawPath
		if path == "" {
			path = ev.RequestContext.HTTP.Path
		}
		o.path, o.source = routedPath(path), ev.RequestContext.HTTP.SourceIP
	case frontdoor.ALB:
		var ev events.ALBTargetGroupRequest
		if json.Unmarshal(payload, &ev) != nil {
			return o
		}
		o.decoded, o.method = true, ev.HTTPMethod
		o.keys = keyValues(ev.Headers, ev.MultiValueHeaders)
		o.conflict = fuzzConflict(ev.Headers, ev.MultiValueHeaders)
		o.path, o.source = routedPath(ev.Path), forwardedFor(ev.Headers, ev.MultiValueHeaders)
	}
	return o
}

// routedPath is the path a request line holds as a server routes it:
// decoded (the proxy parses it as a URL), with dot segments and repeated
// slashes resolved as a backend would (a trailing slash kept).
func routedPath(p string) string {
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	if u, err := url.Parse("https://h" + p); err == nil {
		p = u.Path
	}
	return cleanPath(p)
}

func cleanPath(p string) string {
	c := path.Clean("/" + p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}

// forwardedFor is the address an ALB appended to X-Forwarded-For: the last
// of the header's list, in the map the target group uses; none when the
// header comes under two spellings.
func forwardedFor(single map[string]string, multi map[string][]string) string {
	h := http.Header{}
	names := 0
	if multi != nil {
		for k, vs := range multi {
			if http.CanonicalHeaderKey(k) == "X-Forwarded-For" {
				names++
				h[k] = vs
			}
		}
	} else {
		for k, v := range single {
			if http.CanonicalHeaderKey(k) == "X-Forwarded-For" {
				names++
				h[k] = []string{v}
			}
		}
	}
	for _, vs := range h {
		if names == 1 && len(vs) > 0 {
			list := strings.Split(vs[len(vs)-1], ",")
			return strings.TrimSpace(list[len(list)-1])
		}
	}
	return ""
}

// fuzzConflict: the requirement, "exactly one x-api-key value": when an
// event describes its headers twice and the descriptions hold different
// x-api-key values (optional whitespace aside), which value counts is
// unclear.
func fuzzConflict(single map[string]string, multi map[string][]string) bool {
	if single == nil || multi == nil {
		return false
	}
	var h, m []string
	for _, k := range slices.Sorted(maps.Keys(single)) {
		if isKeyHeader(k) {
			h = append(h, strings.Trim(single[k], " \t"))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(multi)) {
		if isKeyHeader(k) {
			for _, v := range multi[k] {
				m = append(m, strings.Trim(v, " \t"))
			}
		}
	}
	return !slices.Equal(h, m)
}

// doorTypes are the aws-lambda-go types each door's events decode into.
var doorTypes = map[frontdoor.Kind]reflect.Type{
	frontdoor.REST:              reflect.TypeFor[events.APIGatewayProxyRequest](),
	frontdoor.HTTPAPI:           reflect.TypeFor[events.APIGatewayV2HTTPRequest](),
	frontdoor.FunctionURL:       reflect.TypeFor[events.APIGatewayV2HTTPRequest](),
	frontdoor.ALB:               reflect.TypeFor[events.ALBTargetGroupRequest](),
	frontdoor.TokenAuthorizer:   reflect.TypeFor[events.APIGatewayCustomAuthorizerRequest](),
	frontdoor.RequestAuthorizer: reflect.TypeFor[events.APIGatewayCustomAuthorizerRequestTypeRequest](),
	frontdoor.HTTPAuthorizer:    reflect.TypeFor[events.APIGatewayV2CustomAuthorizerV2Request](),
}

// fuzzDuplicate walks payload with encoding/json's tokenizer (not the code
// under test) and reports a member named twice in one object, as decoding
// into kind's type sees names: exactly; and in an object decoded into a
// struct, a name that matches one of its fields in any case matches it
// whatever its case, so two such names are the same field twice.
func fuzzDuplicate(payload []byte, kind frontdoor.Kind) bool {
	dec := json.NewDecoder(bytes.NewReader(payload))
	type frame struct {
		object bool
		typ    reflect.Type // of the value: a struct, map or slice; nil for data nobody decodes
		names  []string
		key    bool // the next token in this object is a name
	}
	var stack []*frame
	// child is the type of the value the top frame is at.
	child := func() reflect.Type {
		if len(stack) == 0 {
			return doorTypes[kind]
		}
		top := stack[len(stack)-1]
		if top.typ == nil {
			return nil
		}
		if !top.object {
			return deref(top.typ.Elem())
		}
		switch top.typ.Kind() {
		case reflect.Map:
			return deref(top.typ.Elem())
		case reflect.Struct:
			if f, ok := jsonField(top.typ, top.names[len(top.names)-1]); ok {
				return deref(f.Type)
			}
		}
		return nil
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.key {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				continue
			}
			name := tok.(string)
			_, field := jsonField(top.typ, name)
			for _, n := range top.names {
				if n == name {
					return true
				}
				if _, other := jsonField(top.typ, n); field && other && strings.EqualFold(n, name) {
					return true
				}
			}
			top.names = append(top.names, name)
			top.key = false
			continue
		}
		switch d := tok.(type) {
		case json.Delim:
			switch d {
			case '{', '[':
				typ := child()
				if top != nil {
					top.key = top.object
				}
				stack = append(stack, &frame{object: d == '{', typ: typ, key: d == '{'})
				continue
			default:
				stack = stack[:len(stack)-1]
				if len(stack) > 0 {
					stack[len(stack)-1].key = stack[len(stack)-1].object
				}
				continue
			}
		}
		if top != nil {
			top.key = top.object
		}
	}
}

// jsonField is the field of struct type t that member name decodes into
// (its JSON name, in any case); false for other types.
func jsonField(t reflect.Type, name string) (reflect.StructField, bool) {
	if t == nil || t.Kind() != reflect.Struct {
		return reflect.StructField{}, false
	}
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag == "" {
			tag = f.Name
		}
		if strings.EqualFold(tag, name) {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func deref(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// keyValues: API Gateway REST sends both maps and the multi-value one
// keeps repeated headers apart; an ALB sends the one its target group is
// set to.
func keyValues(single map[string]string, multi map[string][]string) []string {
	var vals []string
	if multi != nil {
		for k, vs := range multi {
			if isKeyHeader(k) {
				vals = append(vals, vs...)
			}
		}
		return vals
	}
	for k, v := range single {
		if isKeyHeader(k) {
			vals = append(vals, v)
		}
	}
	return vals
}

// isKeyHeader, independently of the package's own test: net/http's
// canonical form folds ASCII letters only (RFC 9110 tokens), so the
// Kelvin sign or any other non-ASCII name stays as it is and differs.
func isKeyHeader(name string) bool { return http.CanonicalHeaderKey(name) == "X-Api-Key" }

// outcome is the decision the requirements prescribe: exactly one value,
// optional whitespace around it ignored, equal to a configured key.
func (o fuzzOracle) outcome() string {
	switch {
	case o.conflict:
		return "ambiguous"
	case len(o.keys) == 0:
		return "missing"
	case len(o.keys) > 1:
		return "ambiguous"
	}
	v := strings.Trim(o.keys[0], " \t")
	switch {
	case v == "":
		return "missing"
	case strings.Contains(v, ","):
		return "ambiguous"
	case v == fuzzRightKey:
		return "authorized"
	case v == fuzzExpiredKey:
		return "expired"
	case v == fuzzSourcedKey:
		a, err := netip.ParseAddr(strings.TrimSpace(o.source))
		in := func(cidr string) bool { return netip.MustParsePrefix(cidr).Contains(a.Unmap().WithZone("")) }
		if err != nil || !in("192.0.2.0/24") && !in("2001:db8::/32") {
			return "forbidden"
		}
		return "authorized"
	case v == fuzzScopedKey:
		if !o.noRoutes && !slices.ContainsFunc(fuzzScopedRoutes(), func(re *regexp.Regexp) bool { return re.MatchString(o.method + " " + o.path) }) {
			return "forbidden"
		}
		return "authorized"
	}
	return "invalid"
}

// fuzzScopedRoutes are fuzzScopedAllow as regular expressions: * is .*.
func fuzzScopedRoutes() []*regexp.Regexp {
	var pats []string
	json.Unmarshal([]byte(fuzzScopedAllow), &pats)
	var out []*regexp.Regexp
	for _, p := range pats {
		out = append(out, regexp.MustCompile(`(?s)\A`+strings.ReplaceAll(regexp.QuoteMeta(p), `\*`, `.*`)+`\z`))
	}
	return out
}

// decodeFuzzAnswer checks the answer's shape, body and headers for the
// door the event came through (an unknown event gets the REST shape).
func decodeFuzzAnswer(t *testing.T, o fuzzOracle, out []byte) doortest.Answer {
	t.Helper()
	a := doortest.Decode(t, out)
	door := string(o.kind)
	if o.kind == frontdoor.Unknown {
		door = string(frontdoor.REST)
	}
	doortest.Check(t, door, o.albMulti, o.method, a, a.StatusCode)
	return a
}

type fuzzLogLine struct {
	Level   string `json:"level"`
	Msg     string `json:"msg"`
	Status  int    `json:"status"`
	Outcome string `json:"outcome"`
}

// oneLogLine: every event gets exactly one JSON log line.
func oneLogLine(t *testing.T, logs string) fuzzLogLine {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(logs, "\n"), "\n")
	if len(lines) != 1 || lines[0] == "" {
		t.Fatalf("%d log lines, want 1:\n%s", len(lines), logs)
	}
	var l fuzzLogLine
	if err := json.Unmarshal([]byte(lines[0]), &l); err != nil || l.Level == "" || l.Msg == "" {
		t.Fatalf("log line is not a JSON record: %q", lines[0])
	}
	return l
}

// fuzzEdit applies the edits (see the file comment) to an event that
// decodes as a JSON object; anything else passes through unchanged.
func fuzzEdit(payload []byte, edits string) []byte {
	if edits == "" {
		return payload
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var ev map[string]any
	if dec.Decode(&ev) != nil || ev == nil {
		return payload
	}
	for _, line := range strings.Split(edits, "\n") {
		if line == "" {
			continue
		}
		name, value, _ := strings.Cut(line[1:], ":")
		switch line[0] {
		case 'h':
			object(ev, "headers")[name] = value
		case 'a':
			hdr := object(ev, "headers")
			old, _ := hdr[name].(string)
			hdr[name] = old + "," + value
		case 'm':
			mv := object(ev, "multiValueHeaders")
			old, _ := mv[name].([]any)
			mv[name] = append(old, value)
		case 'M':
			ev["multiValueHeaders"] = nil
		case 'd':
			for _, field := range []string{"headers", "multiValueHeaders"} {
				if m, ok := ev[field].(map[string]any); ok {
					for k := range m {
						if strings.EqualFold(k, name) {
							delete(m, k)
						}
					}
				}
			}
		case 'H':
			if value == "" {
				value = "A"
			}
			object(ev, "headers")[name] = strings.Repeat(value, 64<<10/len(value)+1)
		case 'p':
			ev["path"], ev["rawPath"] = line[1:], line[1:]
			if hc, ok := object(ev, "requestContext")["http"].(map[string]any); ok {
				hc["path"] = line[1:]
			}
		case 'q':
			object(ev, "queryStringParameters")[name] = value
			mq := object(ev, "multiValueQueryStringParameters")
			old, _ := mq[name].([]any)
			mq[name] = append(old, value)
			raw, _ := ev["rawQueryString"].(string)
			if raw != "" {
				raw += "&"
			}
			ev["rawQueryString"] = raw + name + "=" + value
		case 'x':
			ev["httpMethod"] = line[1:]
			if hc, ok := object(ev, "requestContext")["http"].(map[string]any); ok {
				hc["method"] = line[1:]
			}
		case 'b':
			ev["body"], ev["isBase64Encoded"] = line[1:], false
		case 'B':
			ev["body"], ev["isBase64Encoded"] = base64.StdEncoding.EncodeToString([]byte(line[1:])), true
		case 'Z':
			ev["body"], ev["isBase64Encoded"] = line[1:], true
		case 'c':
			old, _ := ev["cookies"].([]any)
			ev["cookies"] = append(old, line[1:])
		case 'i':
			addr := line[1:]
			rc := object(ev, "requestContext")
			object(rc, "identity")["sourceIp"] = addr
			if hc, ok := rc["http"].(map[string]any); ok {
				hc["sourceIp"] = addr
			}
			hdr := object(ev, "headers")
			old, _ := hdr["x-forwarded-for"].(string)
			if old != "" {
				old += ", "
			}
			hdr["x-forwarded-for"] = old + addr
			if mv, ok := ev["multiValueHeaders"].(map[string]any); ok {
				olds, _ := mv["x-forwarded-for"].([]any)
				mv["x-forwarded-for"] = append(olds, addr)
			}
		case 'r':
			object(ev, "requestContext")[name] = value
		case 's':
			ev[name] = value
		case 'n':
			ev[line[1:]] = json.Number("5")
		}
	}
	out, err := json.Marshal(ev)
	if err != nil {
		return payload
	}
	// Raw edits, which a map cannot express: a member written into an
	// object as JSON text, before the members it already has (so a name
	// it repeats comes first and decoding keeps the later one).
	for _, line := range strings.Split(edits, "\n") {
		if len(line) < 2 {
			continue
		}
		name, value, _ := strings.Cut(line[1:], ":")
		member := []byte(strconv.Quote(name) + ":" + value + ",")
		switch line[0] {
		case 'D': // into the event
			out = slices.Insert(out, 1, member...)
		case 'E': // into the headers object, if it is one
			if i := bytes.Index(out, []byte(`"headers":{`)); i >= 0 {
				out = slices.Insert(out, i+len(`"headers":{`), member...)
			}
		}
	}
	return out
}

// object returns ev[field] as an object, replacing whatever else is there.
func object(ev map[string]any, field string) map[string]any {
	m, ok := ev[field].(map[string]any)
	if !ok {
		m = map[string]any{}
		ev[field] = m
	}
	return m
}
