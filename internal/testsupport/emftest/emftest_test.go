package emftest_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/keygate/keygate/internal/testsupport/emftest"
)

// The specification's own example.
const specExample = `{
  "_aws": {
    "Timestamp": 1574109732004,
    "CloudWatchMetrics": [
      {
        "Namespace": "lambda-function-metrics",
        "Dimensions": [["functionVersion"]],
        "Metrics": [
          {
            "Name": "time",
            "Unit": "Milliseconds"
          }
        ]
      }
    ]
  },
  "functionVersion": "$LATEST",
  "time": 100,
  "requestId": "989ffbf8-9ace-4817-a57c-e4dd734019ee"
}`

func TestSpecExample(t *testing.T) {
	doc, err := emftest.Parse([]byte(specExample))
	if err != nil {
		t.Fatalf("the specification's example: %v", err)
	}
	want := emftest.Datum{Namespace: "lambda-function-metrics", Metric: "time", Unit: "Milliseconds",
		Dimensions: map[string]string{"functionVersion": "$LATEST"}, Values: []float64{100}}
	if doc.Timestamp != 1574109732004 || len(doc.Data) != 1 || fmt.Sprint(doc.Data[0]) != fmt.Sprint(want) {
		t.Errorf("parsed %+v, want %+v", doc, want)
	}
	if k := doc.Data[0].Key(); k != "time{functionVersion=$LATEST}" {
		t.Errorf("Key = %q", k)
	}
}

// edit changes the specification's example (decoded) and re-encodes it.
func edit(t *testing.T, change func(root, directive map[string]any)) []byte {
	t.Helper()
	var root map[string]any
	if err := json.Unmarshal([]byte(specExample), &root); err != nil {
		t.Fatal(err)
	}
	d := root["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)
	change(root, d)
	b, err := json.Marshal(root)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func strs(n int, f func(i int) string) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = f(i)
	}
	return out
}

// Every rule of the specification and of CloudWatch's limits, broken one
// at a time, and what stays valid at the limits.
func TestRules(t *testing.T) {
	aws := func(root map[string]any) map[string]any { return root["_aws"].(map[string]any) }
	tests := []struct {
		name   string
		change func(root, d map[string]any)
		says   string // "" when valid
	}{
		{"no dimensions: [[]]", func(r, d map[string]any) { d["Dimensions"] = []any{[]any{}} }, ""},
		{"30 dimensions", func(r, d map[string]any) {
			d["Dimensions"] = []any{strs(30, func(i int) string { k := fmt.Sprint("d", i); r[k] = "v"; return k })}
		}, ""},
		{"31 dimensions", func(r, d map[string]any) {
			d["Dimensions"] = []any{strs(31, func(i int) string { k := fmt.Sprint("d", i); r[k] = "v"; return k })}
		}, "more than 30"},
		{"100 metrics", func(r, d map[string]any) {
			d["Metrics"] = strs(100, func(i int) string { k := fmt.Sprint("m", i); r[k] = 1; return k })
			for i, m := range d["Metrics"].([]any) {
				d["Metrics"].([]any)[i] = map[string]any{"Name": m}
			}
		}, ""},
		{"101 metrics over two directives", func(r, d map[string]any) {
			var ms []any
			for i := range 100 {
				k := fmt.Sprint("m", i)
				r[k] = 1
				ms = append(ms, map[string]any{"Name": k})
			}
			d["Metrics"] = ms
			a := aws(r)
			a["CloudWatchMetrics"] = append(a["CloudWatchMetrics"].([]any), map[string]any{
				"Namespace": "n", "Dimensions": []any{[]any{}}, "Metrics": []any{map[string]any{"Name": "time"}}})
		}, "101 metrics in one document"},
		{"a number array", func(r, d map[string]any) { r["time"] = []any{1, 2.5} }, ""},
		{"a unit omitted", func(r, d map[string]any) { delete(d["Metrics"].([]any)[0].(map[string]any), "Unit") }, ""},
		{"no Timestamp", func(r, d map[string]any) { delete(aws(r), "Timestamp") }, "no Timestamp"},
		{"Timestamp in seconds", func(r, d map[string]any) { aws(r)["Timestamp"] = 1574109732 }, "not milliseconds"},
		{"Timestamp with a fraction", func(r, d map[string]any) { aws(r)["Timestamp"] = 1574109732004.5 }, "not an integer"},
		{"Timestamp as a string", func(r, d map[string]any) { aws(r)["Timestamp"] = "1574109732004" }, "not a number"},
		{"no CloudWatchMetrics", func(r, d map[string]any) { delete(aws(r), "CloudWatchMetrics") }, "no CloudWatchMetrics"},
		{"CloudWatchMetrics not an array", func(r, d map[string]any) { aws(r)["CloudWatchMetrics"] = d }, "not an array"},
		{"an extra member in _aws", func(r, d map[string]any) { aws(r)["Extra"] = 1 }, `"Extra"`},
		{"an extra member in a directive", func(r, d map[string]any) { d["Extra"] = 1 }, `"Extra"`},
		{"no Namespace", func(r, d map[string]any) { delete(d, "Namespace") }, "no Namespace"},
		{"Namespace empty", func(r, d map[string]any) { d["Namespace"] = "" }, "not 1 to 255"},
		{"Namespace of 256", func(r, d map[string]any) { d["Namespace"] = strings.Repeat("n", 256) }, "not 1 to 255"},
		{"Namespace with !", func(r, d map[string]any) { d["Namespace"] = "Key!" }, "character"},
		{"Namespace AWS/", func(r, d map[string]any) { d["Namespace"] = "AWS/Lambda" }, "AWS/"},
		{"Dimensions empty", func(r, d map[string]any) { d["Dimensions"] = []any{} }, "Dimensions is empty"},
		{"Dimensions flat", func(r, d map[string]any) { d["Dimensions"] = []any{"functionVersion"} }, "not an array of arrays"},
		{"a dimension not on the root", func(r, d map[string]any) { delete(r, "functionVersion") }, "not a member of the root"},
		{"a dimension not a string", func(r, d map[string]any) { r["functionVersion"] = 7 }, "not a string"},
		{"a dimension value empty", func(r, d map[string]any) { r["functionVersion"] = "" }, "not 1 to 1024"},
		{"a dimension value of spaces", func(r, d map[string]any) { r["functionVersion"] = "  " }, "not all spaces"},
		{"a dimension value too long", func(r, d map[string]any) { r["functionVersion"] = strings.Repeat("v", 1025) }, "not 1 to 1024"},
		{"a dimension value not ASCII", func(r, d map[string]any) { r["functionVersion"] = "Zürich" }, "printable ASCII"},
		{"a dimension named twice", func(r, d map[string]any) {
			d["Dimensions"] = []any{[]any{"functionVersion", "functionVersion"}}
		}, "twice"},
		{"no Metrics", func(r, d map[string]any) { delete(d, "Metrics") }, "Metrics is not an array"},
		{"Metrics empty", func(r, d map[string]any) { d["Metrics"] = []any{} }, "Metrics is empty"},
		{"a metric without Name", func(r, d map[string]any) { d["Metrics"] = []any{map[string]any{"Unit": "Count"}} }, "no Name"},
		{"a metric not on the root", func(r, d map[string]any) { delete(r, "time") }, `metric "time" is not a member`},
		{"a metric a string", func(r, d map[string]any) { r["time"] = "100" }, "neither a number"},
		{"a metric null", func(r, d map[string]any) { r["time"] = nil }, "neither a number"},
		{"a metric array with null", func(r, d map[string]any) { r["time"] = []any{1, nil} }, "not a number"},
		{"a metric array of 101", func(r, d map[string]any) { r["time"] = make([]int, 101) }, "101 values"},
		{"a unit CloudWatch lacks", func(r, d map[string]any) { d["Metrics"].([]any)[0].(map[string]any)["Unit"] = "Requests" }, "not a CloudWatch unit"},
		{"a metric named twice", func(r, d map[string]any) {
			d["Metrics"] = []any{map[string]any{"Name": "time"}, map[string]any{"Name": "time"}}
		}, "twice"},
		{"a metric that is a dimension", func(r, d map[string]any) {
			r["functionVersion"] = "1"
			d["Metrics"] = []any{map[string]any{"Name": "functionVersion"}}
		}, "both a metric and a dimension"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := emftest.Parse(edit(t, tt.change))
			switch {
			case tt.says == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tt.says != "" && (err == nil || !strings.Contains(err.Error(), tt.says)):
				t.Errorf("Parse = %v, want an error saying %q", err, tt.says)
			}
		})
	}
}

// Lines that are not one JSON object, or name a member twice, are
// refused; a JSON object without _aws is ErrNoEMF.
func TestLines(t *testing.T) {
	for _, tc := range []struct {
		line string
		err  error  // want errors.Is
		says string // or an error saying
	}{
		{`{"level":"INFO","msg":"bad event"}`, emftest.ErrNoEMF, ""},
		{`not json`, nil, "not a JSON object"},
		{`[1]`, nil, "not a JSON object"},
		{`{"a":1} {"b":2}`, nil, "data after"},
		{`{"a":1,"a":2,"_aws":{}}`, nil, `"a" appears twice`},
		{`{"_aws":[]}`, nil, "_aws: not a JSON object"},
	} {
		_, err := emftest.Parse([]byte(tc.line))
		if tc.err != nil && !errors.Is(err, tc.err) || tc.err == nil && (err == nil || !strings.Contains(err.Error(), tc.says)) {
			t.Errorf("Parse(%s) = %v, want %v %q", tc.line, err, tc.err, tc.says)
		}
	}
}
