package frontdoor

import (
	"encoding/json"
	"reflect"
	"testing"

	jsonv2 "github.com/go-json-experiment/json"

	samples "github.com/keygate/keygate/events"
)

// FuzzDecode holds the one-pass decode to aws-lambda-go's own: whatever the
// event, when decode takes it, the event it hands on is exactly what
// encoding/json makes of it in the door's own type (the type a hand-written
// function for that door would take); when decode refuses it, so does that.
// Duplicate member names are the one difference, and FuzzInvoke's oracle
// holds that part.
func FuzzDecode(f *testing.F) {
	evs, err := samples.All()
	if err != nil {
		f.Fatal(err)
	}
	for _, ev := range evs {
		f.Add(ev.Payload)
	}
	for _, p := range []string{
		`{"httpMethod":"GET","requestContext":{"authorizer":{"a":1}}}`,
		`{"version":"2.0","requestContext":{"http":null,"authorizer":{"lambda":{"a":1}}}}`,
		`{"version":"2.0","requestContext":{"http":{"method":"GET"},"authorizer":{"jwt":5}}}`,
		`{"type":"TOKEN","methodArn":"arn:aws:execute-api:r:a:api/s/GET/","body":5}`,
		`{"httpMethod":"GET","requestContext":{"elb":{"targetGroupArn":"t"}},"Headers":{"a":"b"}}`,
	} {
		f.Add([]byte(p))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		d, err := decode(payload)
		want := newEvent(d.kind)
		if want == nil {
			return
		}
		werr := json.Unmarshal(payload, want)
		v2 := d.kind == HTTPAPI || d.kind == FunctionURL || d.kind == HTTPAuthorizer
		switch {
		case err == nil && werr != nil:
			t.Fatalf("decode took a %s event that encoding/json refuses (%v): %s", d.kind, werr, payload)
		case err == nil && !reflect.DeepEqual(d.event, want):
			t.Fatalf("decode made\n%+v\nof a %s event, encoding/json\n%+v\n(%s)", d.event, d.kind, want, payload)
		case err == errDuplicateName:
			// encoding/json takes the last of two names; decode refuses.
		case err != nil && werr == nil && !(err == errDecode && v2 && strayMultiBroken(payload)):
			t.Fatalf("decode refused a %s event encoding/json takes: %v (%s)", d.kind, err, payload)
		}
	})
}

// strayMultiBroken: a payload 2.0 event whose multiValueHeaders (not part
// of the format) is not an object of string lists, which decode refuses.
func strayMultiBroken(payload []byte) bool {
	var p struct {
		Version           string          `json:"version"`
		MultiValueHeaders json.RawMessage `json:"multiValueHeaders"`
	}
	var m map[string][]string
	return json.Unmarshal(payload, &p) == nil && len(p.MultiValueHeaders) > 0 && json.Unmarshal(p.MultiValueHeaders, &m) != nil
}

// The one-pass decode is what the doors' events get: no second pass for a
// well-formed one.
func TestDecodeOnePass(t *testing.T) {
	evs, err := samples.All()
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		e := new(event)
		if err := jsonv2.Unmarshal(ev.Payload, e, decodeOptions); err != nil {
			t.Errorf("%s: the one-pass decode refused it: %v", ev.Name, err)
			continue
		}
		if got := e.kind(); got != Kind(ev.Door) {
			t.Errorf("%s: kind %s, want %s", ev.Name, got, ev.Door)
		}
	}
}
