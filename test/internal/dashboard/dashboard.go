// Package dashboard reads a CloudWatch dashboard body (PutDashboard's
// DashboardBody, "Dashboard Body Structure and Syntax" in the CloudWatch
// API Reference) far enough to check what it shows: its widgets on the
// 24-column grid, the metrics of each metric widget (plain metrics, and
// the metrics a SEARCH expression finds), the log groups of each Logs
// Insights widget, the alarms of an alarm widget and the Contributor
// Insights rule of a rule widget.
package dashboard

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Body is a dashboard body.
type Body struct {
	Start          string `json:"start,omitempty"`
	End            string `json:"end,omitempty"`
	PeriodOverride string `json:"periodOverride,omitempty"`
	Widgets        []Widget
}

// Widget is one widget: its type, its place and its properties, which
// depend on the type.
type Widget struct {
	Type       string
	X, Y       int
	Width      int
	Height     int
	Properties Properties
}

// Properties holds the members of the widget types this package reads.
type Properties struct {
	Title       string `json:"title"`
	Region      string `json:"region"`
	View        string `json:"view"`
	Stacked     bool   `json:"stacked"`
	Period      int    `json:"period"`
	Stat        string `json:"stat"`
	Metrics     [][]json.RawMessage
	Annotations *struct {
		Horizontal []struct {
			Label string
			Value float64
		}
	} `json:"annotations"`
	InsightRule *struct {
		RuleName            string `json:"ruleName"`
		MaxContributorCount int    `json:"maxContributorCount"`
		OrderBy             string `json:"orderBy"`
	} `json:"insightRule"`
	Query    string   `json:"query"`    // log widgets
	Alarms   []string `json:"alarms"`   // alarm widgets
	Markdown string   `json:"markdown"` // text widgets
}

const columns = 24

var types = map[string]bool{"metric": true, "log": true, "alarm": true, "text": true, "explorer": true}

// Parse decodes a body and checks its layout: known widget types, every
// widget inside the 24 columns, none overlapping another.
func Parse(body string) (*Body, error) {
	var b Body
	if err := json.Unmarshal([]byte(body), &b); err != nil {
		return nil, fmt.Errorf("the dashboard body is not the JSON of a dashboard: %w", err)
	}
	var errs []error
	for i, w := range b.Widgets {
		if !types[w.Type] {
			errs = append(errs, fmt.Errorf("widget %d (%s): type %q", i, w.Properties.Title, w.Type))
		}
		if w.X < 0 || w.Y < 0 || w.Width < 1 || w.Height < 1 || w.X+w.Width > columns {
			errs = append(errs, fmt.Errorf("widget %d (%s) at x %d y %d, %dx%d: outside the %d columns", i, w.Properties.Title, w.X, w.Y, w.Width, w.Height, columns))
		}
		for j, o := range b.Widgets[:i] {
			if w.X < o.X+o.Width && o.X < w.X+w.Width && w.Y < o.Y+o.Height && o.Y < w.Y+w.Height {
				errs = append(errs, fmt.Errorf("widget %d (%s) overlaps widget %d (%s)", i, w.Properties.Title, j, o.Properties.Title))
			}
		}
		if w.Type == "metric" && (len(w.Properties.Metrics) == 0) == (w.Properties.InsightRule == nil) {
			errs = append(errs, fmt.Errorf("widget %d (%s): a metric widget shows metrics or a Contributor Insights rule, one of them", i, w.Properties.Title))
		}
		if w.Type == "log" && len(SourceLogGroups(w.Properties.Query)) == 0 {
			errs = append(errs, fmt.Errorf("widget %d (%s): a log widget's query starts with SOURCE 'log group'", i, w.Properties.Title))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &b, nil
}

// Metric is one line of a metric widget: a metric (Namespace, Name,
// Dimensions, Stat) or an expression (ID, Expression, and Search when the
// expression is a search).
type Metric struct {
	Namespace, Name string
	Dimensions      map[string]string
	Stat, Label     string
	ID, Expression  string
	Search          *Search
}

// Metrics decodes a metric widget's metrics array: each entry is
// [Namespace, MetricName, DimensionName, DimensionValue, ..., {options}]
// or [{"expression": ..., "id": ...}]. The "." shorthand (as the entry
// above) is refused: this package has no use for it.
func (w Widget) Metrics() ([]Metric, error) {
	var out []Metric
	for i, entry := range w.Properties.Metrics {
		var m Metric
		var strs []string
		for j, raw := range entry {
			var s string
			if err := json.Unmarshal(raw, &s); err == nil {
				if s == "." || s == "..." {
					return nil, fmt.Errorf("metric %d: the %q shorthand", i, s)
				}
				strs = append(strs, s)
				continue
			}
			var opt struct {
				Expression, ID, Label, Stat string
			}
			if err := json.Unmarshal(raw, &opt); err != nil || j != len(entry)-1 {
				return nil, fmt.Errorf("metric %d: element %d is %s: want strings, then one options object", i, j, raw)
			}
			m.Expression, m.ID, m.Label, m.Stat = opt.Expression, opt.ID, opt.Label, opt.Stat
		}
		switch {
		case m.Expression != "" && len(strs) == 0:
			if s, err := ParseSearch(m.Expression); err == nil {
				m.Search = s
			} else if strings.Contains(m.Expression, "SEARCH(") {
				return nil, fmt.Errorf("metric %d: %w", i, err)
			}
		case m.Expression == "" && len(strs) >= 2 && len(strs)%2 == 0:
			m.Namespace, m.Name = strs[0], strs[1]
			m.Dimensions = map[string]string{}
			for k := 2; k < len(strs); k += 2 {
				m.Dimensions[strs[k]] = strs[k+1]
			}
			if m.Stat == "" {
				m.Stat = w.Properties.Stat
			}
		default:
			return nil, fmt.Errorf("metric %d: %d strings and expression %q: want namespace, name and dimension pairs, or an expression alone", i, len(strs), m.Expression)
		}
		out = append(out, m)
	}
	return out, nil
}

// Search is a SEARCH expression, SEARCH('{Namespace,Dim,...} Terms',
// 'Stat', Period), possibly inside one function over its results (SUM).
type Search struct {
	Function       string // SUM, AVG, ... around the search; "" without
	Namespace      string
	DimensionNames []string // the schema's, sorted
	MetricName     string   // the MetricName="..." term
	Terms          map[string]string
	Stat           string
	Period         int
}

var (
	searchArgs = `SEARCH\('\s*(.*?)\s*',\s*'([A-Za-z0-9.%]+)'(?:,\s*([0-9]+))?\)`
	bareSearch = regexp.MustCompile(`^()` + searchArgs + `$`)
	aggregated = regexp.MustCompile(`^([A-Z]+)\(` + searchArgs + `\)$`)
	schema     = regexp.MustCompile(`^\{((?:"[^"]+"|[^",{}]+)(?:,(?:"[^"]+"|[^",{}]+))*)\}\s*(.*)$`)
	schemaPart = regexp.MustCompile(`"[^"]+"|[^",]+`)
	term       = regexp.MustCompile(`^([A-Za-z0-9_.:-]+)="([^"]*)"$`)
)

// ParseSearch reads a SEARCH expression. Every term must be an exact
// Name="value" (a dimension, or MetricName): loose words would match
// metrics by their text, which a check cannot pin down.
func ParseSearch(expr string) (*Search, error) {
	m := bareSearch.FindStringSubmatch(expr)
	if m == nil {
		m = aggregated.FindStringSubmatch(expr)
	}
	if m == nil {
		return nil, fmt.Errorf("%q is not SEARCH('{Namespace,...} Name=\"value\" ...', 'Stat', period), bare or in one function", expr)
	}
	s := &Search{Function: m[1], Stat: m[3], Terms: map[string]string{}}
	if m[4] != "" {
		s.Period, _ = strconv.Atoi(m[4])
	}
	sm := schema.FindStringSubmatch(m[2])
	if sm == nil {
		return nil, fmt.Errorf("%q: no metric schema {Namespace,DimensionName,...}", expr)
	}
	var parts []string
	for _, p := range schemaPart.FindAllString(sm[1], -1) {
		parts = append(parts, strings.Trim(strings.TrimSpace(p), `"`))
	}
	s.Namespace, s.DimensionNames = parts[0], parts[1:]
	sort.Strings(s.DimensionNames)
	for _, f := range strings.Fields(sm[2]) {
		tm := term.FindStringSubmatch(f)
		if tm == nil {
			return nil, fmt.Errorf("%q: term %q is not Name=\"value\"", expr, f)
		}
		if tm[1] == "MetricName" {
			s.MetricName = tm[2]
		} else {
			s.Terms[tm[1]] = tm[2]
		}
	}
	if s.MetricName == "" {
		return nil, fmt.Errorf("%q: no MetricName=\"...\" term", expr)
	}
	return s, nil
}

var source = regexp.MustCompile(`^\s*SOURCE\s+'([^']+)'\s*\|`)

// SourceLogGroups lists the log groups a Logs Insights widget's query
// reads: its leading SOURCE 'name' | clauses.
func SourceLogGroups(query string) []string {
	var out []string
	for {
		m := source.FindStringSubmatch(query)
		if m == nil {
			return out
		}
		out = append(out, m[1])
		query = query[len(m[0]):]
	}
}
