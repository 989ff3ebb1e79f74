package frontdoor_test

import (
	"bytes"
	"encoding/json"
	"testing"

	samples "github.com/keygate/keygate/events"
	"github.com/keygate/keygate/internal/frontdoor"
)

// sample returns a sample event as a generic object, to edit.
func sample(t *testing.T, name string) map[string]any {
	t.Helper()
	evs, err := samples.All()
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if ev.Name == name {
			var m map[string]any
			if err := json.Unmarshal(ev.Payload, &m); err != nil {
				t.Fatal(err)
			}
			return m
		}
	}
	t.Fatalf("no sample event %s", name)
	return nil
}

// Every representation of the request must agree about the key: two
// header maps that disagree make it ambiguous (401), a member named twice
// makes the event malformed (400). Each case is one the proxy alone, which
// reads one map and the last of two members, answers 200.
func TestAmbiguousEvents(t *testing.T) {
	withHeaders := func(name string, single map[string]any, multi map[string]any) []byte {
		ev := sample(t, name)
		if single != nil {
			ev["headers"] = single
		}
		if multi != nil {
			ev["multiValueHeaders"] = multi
		}
		return mustJSON(t, ev)
	}
	// raw inserts a member as JSON text at the start of the event (so a
	// repeated name comes first, and decoding keeps the later one).
	raw := func(name, member string) []byte {
		b := mustJSON(t, sample(t, name))
		return append([]byte("{"+member+","), b[1:]...)
	}
	inHeaders := func(name, member string) []byte {
		b := mustJSON(t, sample(t, name))
		i := bytes.Index(b, []byte(`"headers":{`)) + len(`"headers":{`)
		return append(append(append([]byte{}, b[:i]...), member+","...), b[i:]...)
	}
	// In request data, names that differ in case are different names.
	ev := sample(t, "rest-valid-key.json")
	ev["queryStringParameters"] = map[string]any{"a": "1", "A": "2"}
	ev["multiValueQueryStringParameters"] = map[string]any{"a": []string{"1"}, "A": []string{"2"}}
	twoParams := mustJSON(t, ev)
	tests := []struct {
		name     string
		kind     frontdoor.Kind
		albMulti bool
		payload  []byte
		status   int
		outcome  string // of a 401
	}{
		{"rest: headers wrong, multiValueHeaders right", frontdoor.REST, false,
			withHeaders("rest-valid-key.json", map[string]any{"x-api-key": wrongKey}, nil), 401, "ambiguous"},
		{"rest: headers without the key, multiValueHeaders with it", frontdoor.REST, false,
			withHeaders("rest-valid-key.json", map[string]any{"Host": restDomain}, nil), 401, "ambiguous"},
		{"rest: headers right, empty multiValueHeaders", frontdoor.REST, false,
			withHeaders("rest-valid-key.json", nil, map[string]any{}), 401, "ambiguous"},
		{"rest: both maps agree, padding aside", frontdoor.REST, false,
			withHeaders("rest-valid-key.json", map[string]any{"x-api-key": " " + rightKey}, map[string]any{"X-Api-Key": []string{rightKey}}), 200, ""},
		{"httpapi: headers right, an added multiValueHeaders wrong", frontdoor.HTTPAPI, false,
			withHeaders("httpapi-valid-key.json", nil, map[string]any{"x-api-key": []string{wrongKey}}), 401, "ambiguous"},
		{"httpapi: an added multiValueHeaders that agrees", frontdoor.HTTPAPI, false,
			withHeaders("httpapi-valid-key.json", nil, map[string]any{"x-api-key": []string{rightKey}}), 200, ""},
		{"functionurl: an added multiValueHeaders wrong", frontdoor.FunctionURL, false,
			withHeaders("functionurl-valid-key.json", nil, map[string]any{"x-api-key": []string{wrongKey}}), 401, "ambiguous"},
		{"httpapi: an added multiValueHeaders of the wrong type", frontdoor.HTTPAPI, false,
			withHeaders("httpapi-valid-key.json", nil, map[string]any{"x-api-key": wrongKey}), 400, ""},
		{"alb: headers wrong and multiValueHeaders right", frontdoor.ALB, true,
			withHeaders("alb-multivalue-valid-key.json", map[string]any{"x-api-key": wrongKey}, nil), 401, "ambiguous"},
		{"rest: x-api-key twice in headers", frontdoor.REST, false,
			inHeaders("rest-valid-key.json", `"x-api-key":"`+wrongKey+`"`), 400, ""},
		{"httpapi: x-api-key twice in headers", frontdoor.HTTPAPI, false,
			inHeaders("httpapi-valid-key.json", `"x-api-key":"`+wrongKey+`"`), 400, ""},
		{"httpapi: two headers members", frontdoor.HTTPAPI, false,
			raw("httpapi-valid-key.json", `"headers":{"x-api-key":"`+wrongKey+`"}`), 400, ""},
		{"httpapi: headers and Headers, one field to encoding/json", frontdoor.HTTPAPI, false,
			raw("httpapi-valid-key.json", `"Headers":{"x-api-key":"`+wrongKey+`"}`), 400, ""},
		{"rest: a name repeated through an escape", frontdoor.REST, false,
			raw("rest-valid-key.json", `"multiValue\u0048eaders":{"x-api-key":["`+wrongKey+`"]}`), 400, ""},
		{"alb multi-value: two multiValueHeaders members", frontdoor.ALB, true,
			raw("alb-multivalue-valid-key.json", `"multiValueHeaders":{"x-api-key":["`+wrongKey+`"]}`), 400, ""},
		{"rest: query parameters a and A are two parameters", frontdoor.REST, false, twoParams, 200, ""},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := frontdoor.Detect(tt.payload); got != tt.kind {
				t.Fatalf("Detect = %s, want %s", got, tt.kind)
			}
			f := newFixture()
			out, printed := f.invoke(t, tt.payload)
			a := decode(t, tt.kind, tt.albMulti, out)
			if a.status != tt.status {
				t.Fatalf("status %d %s, want %d", a.status, a.body, tt.status)
			}
			if printed != "" {
				t.Errorf("printed outside the logger: %q", printed)
			}
			line := lastLine(t, f.logs.String())
			switch tt.status {
			case 401:
				if line["outcome"] != tt.outcome {
					t.Errorf("logged outcome %v, want %s", line["outcome"], tt.outcome)
				}
			case 400:
				if line["msg"] != "bad event" {
					t.Errorf("log line %v, want a bad event", line)
				}
			}
			assertNoKey(t, string(out)+f.logs.String())
		})
	}
}

// A broken field beside well-formed multi-value headers: the ALB is in
// multi-value mode and reads only multiValueHeaders, so the 400 is there.
func TestALBMultiValueBadRequestShape(t *testing.T) {
	for _, field := range []struct {
		name  string
		value any
	}{{"body", 5}, {"isBase64Encoded", "true"}, {"httpMethod", 7}, {"path", []int{1}}} {
		t.Run(field.name, func(t *testing.T) {
			ev := sample(t, "alb-multivalue-valid-key.json")
			ev[field.name] = field.value
			out, _ := newFixture().invoke(t, mustJSON(t, ev))
			if a := decode(t, frontdoor.ALB, true, out); a.status != 400 {
				t.Errorf("status %d, want 400", a.status)
			}
		})
	}
}
