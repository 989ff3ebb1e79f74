package main

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// A ratio that rounds to its goal shows enough digits to tell the side.
func TestFmtRatio(t *testing.T) {
	g := atMost(0.85)
	for _, tc := range []struct {
		ratio float64
		goal  *goal
		want  string
	}{
		{0.5412, g, "0.54×"},
		{0.8512, g, "0.8512×"},
		{0.8496, g, "0.8496×"},
		{0.85, g, "0.85×"},
		{0.8512, nil, "0.85×"},
		{math.NaN(), g, "—"},
		{math.Inf(1), nil, "—"},
	} {
		if got := fmtRatio(tc.ratio, tc.goal); got != tc.want {
			t.Errorf("fmtRatio(%v, %v) = %q, want %q", tc.ratio, tc.goal, got, tc.want)
		}
	}
}

// add works out the ratio and holds it (or, for an absolute limit, the
// value) to the goal; a row without a number to hold is not measured,
// neither met nor missed.
func TestGoals(t *testing.T) {
	var tb table
	tb.add(row{measure: "within", keygate: num(17, "ms"), baseline: num(34, "ms"), goal: atMost(0.85)})
	tb.add(row{measure: "above", keygate: num(30, "ms"), baseline: num(34, "ms"), goal: atMost(0.85)})
	tb.add(row{measure: "throughput", keygate: num(7.9, "req/s"), baseline: num(1, "req/s"), goal: &goal{op: "≥", v: 8, unit: "×"}})
	tb.add(row{measure: "rss", keygate: num(29.9, "MB"), baseline: num(100, "MB"), goal: &goal{op: "<", v: 30, unit: "MB"}})
	tb.add(row{measure: "node", keygate: num(17, "ms"), baseline: textValue("not measured: npm ci failed"), ratio: math.NaN(), goal: atMost(0.10)})
	tb.add(row{measure: "info", keygate: num(1, "calls"), baseline: num(1, "calls")})
	want := []string{"ok", missedLabel, missedLabel, "ok", "not measured", ""}
	for i, r := range tb.rows {
		if got := r.cells()[5]; got != want[i] {
			t.Errorf("%s: met %q, want %q (row %+v)", r.measure, got, want[i], r)
		}
	}
	if tb.missed != 2 {
		t.Errorf("missed = %d, want 2", tb.missed)
	}
	if c := tb.rows[0].cells(); c[3] != "0.50×" || c[4] != "≤ 0.85×" {
		t.Errorf("ratio and goal cells %q, %q", c[3], c[4])
	}
	if c := tb.rows[3].cells(); c[4] != "< 30 MB" {
		t.Errorf("absolute goal cell %q", c[4])
	}
}

// results.json has one object per row, numbers as numbers, and null for
// what a row does not have.
func TestJSON(t *testing.T) {
	var tb table
	tb.add(row{measure: "Cold start (model): INIT, median of 21", name: "cold start INIT", keygate: num(17.25, "ms"), baseline: withWho(num(34.5, "ms"), "naive floor"), goal: atMost(0.85)})
	tb.add(row{measure: "  against the Node.js port", keygate: num(17.25, "ms"), baseline: textValue("not measured: npm ci failed"), ratio: math.NaN()})
	tb.add(row{measure: "In-process invoke", keygate: value{num: 30762, unit: "ns/op", text: "30762 ns/op, 14542 B/op"}, baseline: num(28190, "ns/op")})
	var b bytes.Buffer
	if err := tb.writeJSON(&b); err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatalf("%v:\n%s", err, b.String())
	}
	if len(got) != 3 {
		t.Fatalf("%d objects, want 3:\n%s", len(got), b.String())
	}
	for _, k := range []string{"name", "keygate", "baseline", "ratio", "goal", "met"} {
		for i, o := range got {
			if _, ok := o[k]; !ok {
				t.Errorf("object %d lacks %q: %v", i, k, o)
			}
		}
	}
	first := got[0]
	if first["name"] != "cold start INIT" || first["keygate"] != 17.25 || first["baseline"] != 34.5 ||
		first["ratio"] != 0.5 || first["goal"] != "≤ 0.85×" || first["met"] != true || first["unit"] != "ms" || first["baseline_name"] != "naive floor" {
		t.Errorf("first object %v", first)
	}
	node := got[1]
	if node["name"] != "against the Node.js port" || node["baseline"] != "not measured: npm ci failed" || node["ratio"] != nil || node["goal"] != nil || node["met"] != nil {
		t.Errorf("unmeasured object %v", node)
	}
	if got[2]["keygate"] != 30762.0 || got[2]["ratio"] != 1.0912 {
		t.Errorf("in-process object %v", got[2])
	}
}

// The report goes between the markers, replacing what was there, and a
// file without both markers, once each, is refused.
func TestSplice(t *testing.T) {
	doc := "# Performance\n\nintro\n\n" + docsBegin + "\nold table\n" + docsEnd + "\n\nafter\n"
	out, err := splice([]byte(doc), []byte("new table\n\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := "# Performance\n\nintro\n\n" + docsBegin + "\nnew table\n" + docsEnd + "\n\nafter\n"
	if string(out) != want {
		t.Errorf("spliced:\n%s\nwant:\n%s", out, want)
	}
	for _, bad := range []string{
		"no markers",
		docsBegin + " only",
		docsEnd + "\n" + docsBegin,
		docsBegin + docsEnd + docsEnd,
	} {
		if _, err := splice([]byte(bad), nil); err == nil {
			t.Errorf("splice accepted %q", bad)
		}
	}
}

// The Markdown table pads every column to its widest cell.
func TestMarkdownTable(t *testing.T) {
	var b bytes.Buffer
	markdownTable(&b, []string{"A", "Bee"}, [][]string{{"long cell", "x"}, {"é", ""}})
	want := "| A         | Bee |\n| --------- | --- |\n| long cell | x   |\n| é         |     |\n"
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
	if !strings.HasPrefix(formatNum(9.876, "ms"), "9.88") || formatNum(12.34, "ms") != "12.3 ms" || formatNum(math.NaN(), "ms") != "—" {
		t.Errorf("formatNum: %q %q", formatNum(9.876, "ms"), formatNum(12.34, "ms"))
	}
}

// The interquartile mean drops the lowest and the highest quarter and
// averages the rest: between the steps the values come in.
func TestIQMean(t *testing.T) {
	for _, tc := range []struct {
		v    []float64
		want float64
	}{
		{[]float64{0.25, 0.25, 0.26, 0.26}, 0.255},
		{[]float64{9, 0.25, 0.25, 0.26, 0.26, 0.25, 0.01, 0.26}, 0.255},
		{[]float64{0.3}, 0.3},
		{[]float64{0.3, 0.5}, 0.4},
	} {
		if got := iqMean(tc.v); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("iqMean(%v) = %v, want %v", tc.v, got, tc.want)
		}
	}
	if !math.IsNaN(iqMean(nil)) {
		t.Error("iqMean(nil) is a number")
	}
}
