package dashboard

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseSearch(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want *Search // nil: refused
	}{
		{`SEARCH('{"Keygate/Prod",outcome} MetricName="Requests"', 'Sum', 60)`,
			&Search{Namespace: "Keygate/Prod", DimensionNames: []string{"outcome"}, MetricName: "Requests", Terms: map[string]string{}, Stat: "Sum", Period: 60}},
		{`SUM(SEARCH('{Keygate,door,outcome} MetricName="Requests" door="rest"', 'Sum', 300))`,
			&Search{Function: "SUM", Namespace: "Keygate", DimensionNames: []string{"door", "outcome"}, MetricName: "Requests",
				Terms: map[string]string{"door": "rest"}, Stat: "Sum", Period: 300}},
		{`SEARCH('{AWS/Lambda,FunctionName} MetricName="Errors"', 'p99')`,
			&Search{Namespace: "AWS/Lambda", DimensionNames: []string{"FunctionName"}, MetricName: "Errors", Terms: map[string]string{}, Stat: "p99"}},
		{`SEARCH('{Keygate,outcome} Requests', 'Sum', 60)`, nil},          // a loose word
		{`SEARCH('{Keygate,outcome} outcome="invalid"', 'Sum', 60)`, nil}, // no MetricName
		{`SEARCH('MetricName="Requests"', 'Sum', 60)`, nil},               // no schema
		{`SUM(SEARCH('{Keygate} MetricName="Requests"', 'Sum', 60)`, nil}, // unbalanced
		{`FILL(m1, 0)`, nil},
	} {
		got, err := ParseSearch(tc.expr)
		if tc.want == nil {
			if err == nil {
				t.Errorf("ParseSearch(%s) = %+v, want an error", tc.expr, got)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseSearch(%s) = %+v, %v\nwant %+v", tc.expr, got, err, tc.want)
		}
	}
}

func TestParse(t *testing.T) {
	metric := `{"type": "metric", "x": 0, "y": 0, "width": 12, "height": 6, "properties": {"title": "m", "metrics": [["NS", "M"]]}}`
	for _, tc := range []struct {
		name, body, err string
	}{
		{"valid", `{"widgets": [` + metric + `, {"type": "log", "x": 12, "y": 0, "width": 12, "height": 6, "properties": {"query": "SOURCE 'g' | stats count(*)"}}]}`, ""},
		{"not JSON", `{"widgets": [`, "not the JSON"},
		{"unknown type", `{"widgets": [{"type": "graph", "x": 0, "y": 0, "width": 1, "height": 1, "properties": {}}]}`, `type "graph"`},
		{"past the 24 columns", `{"widgets": [` + strings.Replace(metric, `"x": 0`, `"x": 13`, 1) + `]}`, "outside"},
		{"overlap", `{"widgets": [` + metric + `,` + strings.Replace(metric, `"y": 0`, `"y": 5`, 1) + `]}`, "overlaps"},
		{"metric widget without metrics", `{"widgets": [{"type": "metric", "x": 0, "y": 0, "width": 1, "height": 1, "properties": {}}]}`, "one of them"},
		{"log widget without SOURCE", `{"widgets": [{"type": "log", "x": 0, "y": 0, "width": 1, "height": 1, "properties": {"query": "fields @message"}}]}`, "SOURCE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.body)
			if (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("Parse: %v, want %q", err, tc.err)
			}
		})
	}
}

func TestMetrics(t *testing.T) {
	b, err := Parse(`{"widgets": [{"type": "metric", "x": 0, "y": 0, "width": 24, "height": 6, "properties": {"stat": "Sum", "metrics": [
		["AWS/Lambda", "Duration", "FunctionName", "f", {"stat": "p99", "label": "p99"}],
		["NS", "KeysUnavailable"],
		[{"id": "e", "expression": "SEARCH('{NS,trigger} MetricName=\"KeyLoads\"', 'Sum', 300)"}],
		[{"id": "f", "expression": "FILL(e, 0)"}]
	]}}]}`)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := b.Widgets[0].Metrics()
	if err != nil {
		t.Fatal(err)
	}
	want := []Metric{
		{Namespace: "AWS/Lambda", Name: "Duration", Dimensions: map[string]string{"FunctionName": "f"}, Stat: "p99", Label: "p99"},
		{Namespace: "NS", Name: "KeysUnavailable", Dimensions: map[string]string{}, Stat: "Sum"},
		{ID: "e", Expression: `SEARCH('{NS,trigger} MetricName="KeyLoads"', 'Sum', 300)`, Search: &Search{Namespace: "NS", DimensionNames: []string{"trigger"},
			MetricName: "KeyLoads", Terms: map[string]string{}, Stat: "Sum", Period: 300}},
		{ID: "f", Expression: "FILL(e, 0)"},
	}
	if !reflect.DeepEqual(ms, want) {
		t.Errorf("metrics\n %+v\nwant\n %+v", ms, want)
	}
	for _, bad := range []string{
		`[["NS"]]`,                       // no metric name
		`[["NS", "M", "Dim"]]`,           // a dimension without its value
		`[[".", "M"]]`,                   // the shorthand
		`[[{"stat": "Sum"}, "NS", "M"]]`, // options first
		`[[{"id": "s", "expression": "SEARCH('{NS} Requests', 'Sum', 60)"}]]`,
	} {
		b, err := Parse(`{"widgets": [{"type": "metric", "x": 0, "y": 0, "width": 1, "height": 1, "properties": {"metrics": ` + bad + `}}]}`)
		if err != nil {
			t.Fatal(err)
		}
		if ms, err := b.Widgets[0].Metrics(); err == nil {
			t.Errorf("Metrics(%s) = %+v, want an error", bad, ms)
		}
	}
}

func TestSourceLogGroups(t *testing.T) {
	for q, want := range map[string][]string{
		"SOURCE '/aws/lambda/a' | fields @message":                      {"/aws/lambda/a"},
		" SOURCE 'a' | SOURCE 'b' | stats count(*)":                     {"a", "b"},
		"fields @message | SOURCE 'a'":                                  nil,
		"SOURCE '/aws/lambda/a' fields @message":                        nil,
		"SOURCE '/aws/lambda/a' | filter ispresent(@initDuration) | st": {"/aws/lambda/a"},
	} {
		if got := SourceLogGroups(q); !reflect.DeepEqual(got, want) {
			t.Errorf("SourceLogGroups(%q) = %q, want %q", q, got, want)
		}
	}
}
