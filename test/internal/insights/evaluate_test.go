package insights

import (
	"reflect"
	"testing"
)

func mustParse(t *testing.T, body string) *Rule {
	t.Helper()
	r, err := Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestContribute(t *testing.T) {
	rule := func(filter string) *Rule {
		return mustParse(t, body(`{"Match": "$.msg", "In": ["request"]}`, filter))
	}
	for _, tc := range []struct {
		name, filter, event string
		want                []string // the keys; nil: not counted
	}{
		{"In", `{"Match": "$.msg", "In": ["request", "authorization"]}`, `{"msg": "authorization", "client": "a"}`, []string{"a"}},
		{"In is case sensitive", `{"Match": "$.msg", "In": ["request"]}`, `{"msg": "Request", "client": "a"}`, nil},
		{"In on an absent field", `{"Match": "$.msg", "In": ["request"]}`, `{"client": "a"}`, nil},
		{"In compares a number as written", `{"Match": "$.status", "In": ["503"]}`, `{"status": 503, "client": "a"}`, []string{"a"}},
		{"NotIn", `{"Match": "$.msg", "NotIn": ["request"]}`, `{"msg": "bad event", "client": "a"}`, []string{"a"}},
		{"NotIn refuses a listed value", `{"Match": "$.msg", "NotIn": ["request"]}`, `{"msg": "request", "client": "a"}`, nil},
		{"NotIn on an absent field", `{"Match": "$.msg", "NotIn": ["request"]}`, `{"client": "a"}`, nil},
		{"StartsWith", `{"Match": "$.source_ip", "StartsWith": ["10.", "192.168."]}`, `{"source_ip": "192.168.1.9", "client": "a"}`, []string{"a"}},
		{"GreaterThan", `{"Match": "$.status", "GreaterThan": 499}`, `{"status": 503, "client": "a"}`, []string{"a"}},
		{"GreaterThan a string", `{"Match": "$.status", "GreaterThan": 499}`, `{"status": "503", "client": "a"}`, nil},
		{"LessThan", `{"Match": "$.ms", "LessThan": 1}`, `{"ms": 0.5, "client": "a"}`, []string{"a"}},
		{"EqualTo", `{"Match": "$.status", "EqualTo": 200}`, `{"status": 200, "client": "a"}`, []string{"a"}},
		{"NotEqualTo", `{"Match": "$.status", "NotEqualTo": 200}`, `{"status": 200, "client": "a"}`, nil},
		{"IsPresent true", `{"Match": "$.client", "IsPresent": true}`, `{"client": "a"}`, []string{"a"}},
		{"IsPresent false", `{"Match": "$.reason", "IsPresent": false}`, `{"client": "a"}`, []string{"a"}},
		{"IsPresent on an object is not a leaf", `{"Match": "$.meta", "IsPresent": true}`, `{"meta": {"tier": "gold"}, "client": "a"}`, nil},
		{"nested path", `{"Match": "$.record.metrics.initDurationMs", "GreaterThan": 100}`, `{"record": {"metrics": {"initDurationMs": 120.5}}, "client": "a"}`, []string{"a"}},
		{"indexed path", `{"Match": "$.warnings[1]", "In": ["w2"]}`, `{"warnings": ["w1", "w2"], "client": "a"}`, []string{"a"}},
		{"index out of range", `{"Match": "$.warnings[2]", "In": ["w2"]}`, `{"warnings": ["w1", "w2"], "client": "a"}`, nil},
		{"no key", `{"Match": "$.msg", "In": ["request"]}`, `{"msg": "request"}`, nil},
		{"a key that is an object", `{"Match": "$.msg", "In": ["request"]}`, `{"msg": "request", "client": {"name": "a"}}`, nil},
		{"a key that is null", `{"Match": "$.msg", "In": ["request"]}`, `{"msg": "request", "client": null}`, nil},
		{"a number key", `{"Match": "$.msg", "In": ["request"]}`, `{"msg": "request", "client": 7}`, []string{"7"}},
		{"a text line", `{"Match": "$.msg", "In": ["request"]}`, `REPORT RequestId: 1 Duration: 2.00 ms`, nil},
		{"a JSON list", `{"Match": "$.msg", "In": ["request"]}`, `[{"msg": "request", "client": "a"}]`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keys, v, ok := rule(tc.filter).Contribute(tc.event)
			if !reflect.DeepEqual(keys, tc.want) || ok != (tc.want != nil) || (ok && v != 1) {
				t.Errorf("Contribute(%s) = %v, %v, %v; want %v", tc.event, keys, v, ok, tc.want)
			}
		})
	}
}

func TestEvaluate(t *testing.T) {
	t.Run("count, ranked", func(t *testing.T) {
		r := mustParse(t, body(`["$.client"]`, `["$.client", "$.door"]`))
		rep, err := r.Evaluate(Lines([]byte(`
{"msg":"request","client":"b","door":"rest"}
{"msg":"request","client":"a","door":"rest"}
{"msg":"request","client":"b","door":"rest"}
{"msg":"request","client":"b","door":"alb"}
{"msg":"key set loaded","client":"b","door":"rest"}
not json
{"msg":"request","client":"c"}
`)))
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"b,rest=2", "a,rest=1", "b,alb=1"}; rep.Events != 7 || rep.Matched != 4 || !reflect.DeepEqual(rep.Top(10), want) {
			t.Errorf("report %+v, top %v; want 7 events, 4 matched, %v", rep, rep.Top(10), want)
		}
	})
	t.Run("sum", func(t *testing.T) {
		r := mustParse(t, body(`"Keys": ["$.client"],`, `"Keys": ["$.client"], "ValueOf": "$.bytes",`, `"Count"`, `"Sum"`))
		rep, err := r.Evaluate([]string{
			`{"msg":"request","client":"a","bytes":10}`,
			`{"msg":"request","client":"b","bytes":25}`,
			`{"msg":"request","client":"a","bytes":20}`,
			`{"msg":"request","client":"a","bytes":"many"}`,
			`{"msg":"request","client":"a"}`,
		})
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"a=30", "b=25"}; rep.Matched != 3 || !reflect.DeepEqual(rep.Top(1), want[:1]) || !reflect.DeepEqual(rep.Top(5), want) {
			t.Errorf("report %+v; want %v from 3 events", rep, want)
		}
	})
	t.Run("CLF", func(t *testing.T) {
		r := mustParse(t, `{"Schema": {"Name": "CloudWatchLogRule", "Version": 1}, "LogGroupNames": ["g"], "LogFormat": "CLF",
			"Contribution": {"Keys": ["4"]}, "AggregateOn": "Count"}`)
		if _, err := r.Evaluate(nil); err == nil {
			t.Error("a CLF rule evaluated: only JSON rules are supported")
		}
	})
}
