package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"testing"
)

// The budget (issue 12), as ratios to baselines measured in the same run,
// and one absolute limit.
const (
	goalFloor   = 0.85 // keygate INIT and CPU to the first answer ≤ 0.85 × the naive floor, in the model
	goalPython  = 0.10 // keygate INIT ≤ 0.10 × the Python port's
	goalWarm    = 1.05 // warm invocation ≤ 1.05 × the hand-written function
	goalRules   = 1.05 // a governed key ≤ 1.05 × a plain one; 500 clients ≤ 1.05 × 1
	goalMetrics = 1.03 // warm invocation with EMF metrics ≤ 1.03 × without (METRICS_NAMESPACE empty)
	goalServer  = 8.0  // local server ≥ 8 × Flask req/s
	goalRSSMB   = 30.0 // peak RSS < 30 MB
	mb          = 1000 * 1000

	missedLabel = "**MISSED**"
)

// value is one cell's measurement: a number and its unit, or only text
// (a result that has no single number, or none at all).
type value struct {
	num  float64 // NaN: no number
	unit string  // of num: ms, MB, req/s, ns/op, calls, faults
	text string  // the cell; made from num and unit when empty
	who  string  // the baseline's name, after the value in its cell
}

func num(v float64, unit string) value { return value{num: v, unit: unit} }

func textValue(s string) value { return value{num: math.NaN(), text: s} }

func (v value) cell() string {
	s := v.text
	if s == "" {
		s = formatNum(v.num, v.unit)
	}
	if v.who != "" {
		s += " " + v.who
	}
	return s
}

// formatNum shows a number with its unit, to a precision that fits it.
func formatNum(v float64, unit string) string {
	switch {
	case math.IsNaN(v):
		return "—"
	case unit == "ms" && v < 10:
		return fmt.Sprintf("%.2f ms", v)
	case unit == "ms" || unit == "MB" && v >= 10:
		return fmt.Sprintf("%.1f %s", v, unit)
	case unit == "MB":
		return fmt.Sprintf("%.2f MB", v)
	case unit == "calls" && v == 1:
		return "1 call"
	}
	return strings.TrimSpace(fmt.Sprintf("%.0f %s", v, unit))
}

// goal is a row's budget: ratio op v (unit "×"), or, for an absolute
// limit, keygate's value op v in unit.
type goal struct {
	op   string // ≤, ≥, <
	v    float64
	unit string // × for a ratio
}

func (g goal) String() string {
	if g.unit == "×" {
		return fmt.Sprintf("%s %.2f×", g.op, g.v)
	}
	return fmt.Sprintf("%s %.0f %s", g.op, g.v, g.unit)
}

func (g goal) holds(x float64) bool {
	switch g.op {
	case "≤":
		return x <= g.v
	case "≥":
		return x >= g.v
	}
	return x < g.v
}

type row struct {
	measure           string // the table's words; a sub-row starts with two spaces
	name              string // the JSON name: the measure with its context, when the table's words lean on the row above
	keygate, baseline value
	ratio             float64 // keygate / baseline; NaN: none
	goal              *goal
	met               *bool // nil: no goal, or no measurement to hold it to
}

type table struct {
	header []string // lines above the table
	rows   []row
	missed int
	notes  []string // paragraphs under the table
	extra  []string // further Markdown (the model's per-function table)
}

// add appends r, working out its ratio (unless set) and whether it met
// its goal.
func (t *table) add(r row) {
	if r.ratio == 0 {
		r.ratio = r.keygate.num / r.baseline.num
		if r.baseline.num == 0 {
			r.ratio = math.NaN()
		}
	}
	if r.goal != nil {
		x := r.ratio
		if r.goal.unit != "×" {
			x = r.keygate.num
		}
		if !math.IsNaN(x) {
			ok := r.goal.holds(x)
			r.met = &ok
			if !ok {
				t.missed++
			}
		}
	}
	t.rows = append(t.rows, r)
}

// fmtRatio shows ratio with two decimals, or four when two would make it
// look equal to the goal: the reader must see which side of it ratio is.
func fmtRatio(ratio float64, g *goal) string {
	if math.IsNaN(ratio) || math.IsInf(ratio, 0) {
		return "—"
	}
	r := fmt.Sprintf("%.2f×", ratio)
	if g != nil && g.unit == "×" && r == fmt.Sprintf("%.2f×", g.v) && ratio != g.v {
		r = fmt.Sprintf("%.4f×", ratio)
	}
	return r
}

func (r row) cells() [6]string {
	g, met := "—", ""
	if r.goal != nil {
		g = r.goal.String()
	}
	if r.met != nil {
		met = "ok"
		if !*r.met {
			met = missedLabel
		}
	} else if r.goal != nil {
		met = "not measured"
	}
	return [6]string{r.measure, r.keygate.cell(), r.baseline.cell(), fmtRatio(r.ratio, r.goal), g, met}
}

// print writes the report as Markdown: header, table, notes.
func (t *table) print(w io.Writer) {
	for _, h := range t.header {
		fmt.Fprintln(w, h)
	}
	fmt.Fprintln(w)
	head := [6]string{"Measure", "keygate", "Baseline", "Ratio", "Goal", "Met"}
	var body [][]string
	for _, r := range t.rows {
		c := r.cells()
		body = append(body, c[:])
	}
	markdownTable(w, head[:], body)
	fmt.Fprintln(w)
	if t.missed > 0 {
		fmt.Fprintf(w, "%d goal(s) missed.\n\n", t.missed)
	} else {
		fmt.Fprint(w, "Every goal met.\n\n")
	}
	for _, n := range t.notes {
		fmt.Fprintln(w, n)
		fmt.Fprintln(w)
	}
	for _, e := range t.extra {
		fmt.Fprintln(w, e)
	}
}

// markdownTable writes rows under head with the columns padded, so that
// the Markdown reads as a table too.
func markdownTable(w io.Writer, head []string, rows [][]string) {
	wid := make([]int, len(head))
	all := append([][]string{head}, rows...)
	for _, r := range all {
		for i, c := range r {
			wid[i] = max(wid[i], len([]rune(c)))
		}
	}
	line := func(cells []string) {
		fmt.Fprint(w, "|")
		for i, c := range cells {
			fmt.Fprintf(w, " %s%s |", c, strings.Repeat(" ", wid[i]-len([]rune(c))))
		}
		fmt.Fprintln(w)
	}
	line(head)
	sep := make([]string, len(head))
	for i := range sep {
		sep[i] = strings.Repeat("-", wid[i])
	}
	line(sep)
	for _, r := range all[1:] {
		line(r)
	}
}

// jsonRow is a row of results.json.
type jsonRow struct {
	Name         string   `json:"name"`
	Keygate      any      `json:"keygate"`  // a number (in unit), or the cell's text
	Baseline     any      `json:"baseline"` // the same, for the baseline
	Ratio        *float64 `json:"ratio"`
	Goal         *string  `json:"goal"` // as the table writes it: "≤ 0.85×", "< 30 MB"
	Met          *bool    `json:"met"`  // null without a goal, or when it could not be measured
	Unit         string   `json:"unit,omitempty"`
	BaselineName string   `json:"baseline_name,omitempty"`
}

func jsonValue(v value) any {
	if math.IsNaN(v.num) {
		return v.text
	}
	return round4(v.num)
}

// round4 keeps four decimals: more than any measurement here holds.
func round4(v float64) float64 { return math.Round(v*1e4) / 1e4 }

// writeJSON writes the rows as a JSON array, one object per row.
func (t *table) writeJSON(w io.Writer) error {
	out := []jsonRow{}
	for _, r := range t.rows {
		j := jsonRow{
			Name:         r.name,
			Keygate:      jsonValue(r.keygate),
			Baseline:     jsonValue(r.baseline),
			Met:          r.met,
			Unit:         r.keygate.unit,
			BaselineName: r.baseline.who,
		}
		if j.Name == "" {
			j.Name = strings.TrimSpace(r.measure)
		}
		if !math.IsNaN(r.ratio) && !math.IsInf(r.ratio, 0) {
			ratio := round4(r.ratio)
			j.Ratio = &ratio
		}
		if r.goal != nil {
			g := r.goal.String()
			j.Goal = &g
		}
		out = append(out, j)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(out)
}

func median(v []float64) float64 { return quantile(v, 0.5) }

// iqMean is the mean of the middle half of v (the interquartile mean):
// robust to outliers like the median, and finer than the steps v is
// measured in. NaN for no values.
func iqMean(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	lo, hi := len(s)/4, len(s)-len(s)/4
	if lo >= hi {
		return math.NaN()
	}
	sum := 0.0
	for _, x := range s[lo:hi] {
		sum += x
	}
	return sum / float64(hi-lo)
}

// quantile is the q-quantile of v, interpolated between the two nearest
// ranks (the median of an even count is the mean of the middle two); NaN
// for no values.
func quantile(v []float64, q float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s) == 0 {
		return math.NaN()
	}
	pos := q * float64(len(s)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(s)-1)
	return s[lo] + (s[hi]-s[lo])*(pos-float64(lo))
}

func fmtMB(b int64) string { return fmt.Sprintf("%.2f MB", float64(b)/mb) }

func fmtBench(r testing.BenchmarkResult) string {
	if r.N == 0 {
		return "failed"
	}
	return fmt.Sprintf("%d ns/op, %d B/op, %d allocs/op", r.NsPerOp(), r.AllocedBytesPerOp(), r.AllocsPerOp())
}

func splitLines(s string) []string { return strings.Split(s, "\n") }

func cut(line, sep string) (string, string, bool) {
	k, v, ok := strings.Cut(line, sep)
	return strings.TrimSpace(k), strings.TrimSpace(v), ok
}
