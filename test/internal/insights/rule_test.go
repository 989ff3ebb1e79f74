package insights

import (
	"strings"
	"testing"
)

// body is a valid JSON rule with one part replaced: each case below breaks
// one documented rule.
func body(replace ...string) string {
	b := `{
	  "Schema": {"Name": "CloudWatchLogRule", "Version": 1},
	  "LogGroupNames": ["/aws/lambda/app"],
	  "LogFormat": "JSON",
	  "Contribution": {
	    "Keys": ["$.client"],
	    "Filters": [{"Match": "$.msg", "In": ["request"]}]
	  },
	  "AggregateOn": "Count"
	}`
	return strings.NewReplacer(replace...).Replace(b)
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		err        string // "" for a valid rule
	}{
		{"valid", body(), ""},
		{"log group prefix", body(`"/aws/lambda/app"`, `"/aws/lambda/app-*"`), ""},
		{"four keys, nested paths", body(`["$.client"]`, `["$.a", "$.b.c", "$.d[0]", "$.e[1].f"]`), ""},
		{"sum of a field", body(`"Keys": ["$.client"],`, `"Keys": ["$.client"], "ValueOf": "$.bytes",`, `"Count"`, `"Sum"`), ""},
		{"every operator", body(`{"Match": "$.msg", "In": ["request"]}`,
			`{"Match": "$.a", "NotIn": ["x"]}, {"Match": "$.b", "StartsWith": ["y", "z"]}, {"Match": "$.c", "GreaterThan": 200}, {"Match": "$.d", "IsPresent": false}`), ""},
		{"CLF with fields", `{"Schema": {"Name": "CloudWatchLogRule", "Version": 1}, "LogGroupNames": ["g"], "LogFormat": "CLF",
			"Fields": {"4": "IpAddress"}, "Contribution": {"Keys": ["IpAddress"]}, "AggregateOn": "Count"}`, ""},

		{"managed rule schema", body(`"CloudWatchLogRule"`, `"ServiceLogRule"`), "Schema"},
		{"version 2", body(`"Version": 1`, `"Version": 2`), "Schema"},
		{"no log group", body(`"LogGroupNames": ["/aws/lambda/app"],`, ``), "no LogGroupNames"},
		{"names and ARNs", body(`"LogFormat"`, `"LogGroupARNs": ["arn:aws:logs:us-east-1:1:log-group:g"], "LogFormat"`), "both LogGroupNames and LogGroupARNs"},
		{"wildcard inside a name", body(`"/aws/lambda/app"`, `"/aws/*/app"`), "* only at the end"},
		{"log format", body(`"JSON"`, `"json"`), "LogFormat"},
		{"Fields in a JSON rule", body(`"LogFormat": "JSON",`, `"LogFormat": "JSON", "Fields": {"1": "a"},`), "Fields"},
		{"no key", body(`["$.client"]`, `[]`), "0 Keys"},
		{"five keys", body(`["$.client"]`, `["$.a", "$.b", "$.c", "$.d", "$.e"]`), "5 Keys"},
		{"key without $.", body(`["$.client"]`, `["client"]`), "JSON property format"},
		{"key with a space", body(`["$.client"]`, `["$.a b"]`), "JSON property format"},
		{"five filters", body(`[{"Match": "$.msg", "In": ["request"]}]`, `[{"Match": "$.a", "IsPresent": true}, {"Match": "$.b", "IsPresent": true},
			{"Match": "$.c", "IsPresent": true}, {"Match": "$.d", "IsPresent": true}, {"Match": "$.e", "IsPresent": true}]`), "5 Filters"},
		{"eleven values", body(`["request"]`, `["1","2","3","4","5","6","7","8","9","10","11"]`), "11 values"},
		{"no value", body(`["request"]`, `[]`), "0 values"},
		{"two operators", body(`"In": ["request"]`, `"In": ["request"], "IsPresent": true`), "2 operators"},
		{"no operator", body(`, "In": ["request"]`, ``), "0 operators"},
		{"an operator the syntax lacks", body(`"In"`, `"Equals"`), "unknown field"},
		{"EqualTo a string", body(`"In": ["request"]`, `"EqualTo": "request"`), "decoding"},
		{"IsPresent a string", body(`"In": ["request"]`, `"IsPresent": "true"`), "decoding"},
		{"aggregate", body(`"Count"`, `"Average"`), "AggregateOn"},
		{"Sum without ValueOf", body(`"Count"`, `"Sum"`), "needs ValueOf"},
		{"ValueOf with Count", body(`"Keys": ["$.client"],`, `"Keys": ["$.client"], "ValueOf": "$.bytes",`), "goes with AggregateOn Sum"},
		{"unknown member", body(`"AggregateOn"`, `"Aggregate": "Count", "AggregateOn"`), "unknown field"},
		{"not ASCII", body(`"request"`, `"requête"`), "not ASCII"},
		{"too long", body(`"request"`, `"`+strings.Repeat("r", maxBodyBytes)+`"`), "bytes"},
		{"two values", body() + "{}", "more than one JSON value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Parse(tc.body)
			switch {
			case tc.err == "" && err != nil:
				t.Errorf("Parse: %v", err)
			case tc.err != "" && err == nil:
				t.Errorf("Parse accepted %s", r)
			case tc.err != "" && !strings.Contains(err.Error(), tc.err):
				t.Errorf("Parse: %v; want an error about %q", err, tc.err)
			}
		})
	}
}
