// Package insights reads CloudWatch Contributor Insights rules as the rule
// syntax documents them ("Contributor Insights rule syntax in CloudWatch",
// Amazon CloudWatch User Guide) and applies them to log events: Parse
// refuses a rule body CloudWatch would refuse, and Evaluate says which
// events a rule counts, under which contributor, and how the contributors
// rank. The template checks feed it sample lines; the same function takes
// the function's real log lines.
//
// Where the documentation is silent, Evaluate assumes the narrowest
// reading, and the package says so where it applies it: an event that
// lacks a key (or whose key is an object or a list) contributes nothing;
// In, NotIn and StartsWith compare a field's text (a number as written in
// the event), and an absent field matches none of them, NotIn included.
package insights

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Rule is a rule body (PutInsightRule's RuleDefinition,
// AWS::CloudWatch::InsightRule's RuleBody).
type Rule struct {
	Schema        Schema
	LogGroupNames []string          `json:",omitempty"`
	LogGroupARNs  []string          `json:",omitempty"`
	LogFormat     string            // JSON or CLF
	Fields        map[string]string `json:",omitempty"` // CLF only: position -> name
	Contribution  Contribution
	AggregateOn   string // Count or Sum
}

// Schema is always {"Name": "CloudWatchLogRule", "Version": 1} for a rule
// on CloudWatch Logs.
type Schema struct {
	Name    string
	Version int
}

// Contribution says what a contributor is (Keys), what it adds up
// (ValueOf, with AggregateOn Sum) and which events count (Filters, all of
// them).
type Contribution struct {
	Keys    []string
	ValueOf string `json:",omitempty"`
	Filters []Filter
}

// Filter is one condition on one field, Match: exactly one operator is
// set.
type Filter struct {
	Match       string
	In          *[]string `json:",omitempty"`
	NotIn       *[]string `json:",omitempty"`
	StartsWith  *[]string `json:",omitempty"`
	GreaterThan *float64  `json:",omitempty"`
	LessThan    *float64  `json:",omitempty"`
	EqualTo     *float64  `json:",omitempty"`
	NotEqualTo  *float64  `json:",omitempty"`
	IsPresent   *bool     `json:",omitempty"`
}

// The documented limits, and the API's on RuleDefinition.
const (
	maxKeys         = 4
	maxFilters      = 4
	maxFilterValues = 10
	maxBodyBytes    = 8192
)

// jsonPath is the documented "JSON property format notation": $ and then
// dot-separated names, each optionally indexed ($.users[1].name).
var jsonPath = regexp.MustCompile(`^\$(\.[A-Za-z0-9_@-]+(\[[0-9]+\])*)+$`)

// Parse decodes a rule body and checks it against the rule syntax: an
// unknown member, a wrong type or a broken limit is an error naming it.
func Parse(body string) (*Rule, error) {
	var errs []error
	if len(body) > maxBodyBytes {
		errs = append(errs, fmt.Errorf("the body is %d bytes; a rule definition is at most %d", len(body), maxBodyBytes))
	}
	for i, r := range body {
		if r > 0x7f {
			errs = append(errs, fmt.Errorf("byte %d: %q is not ASCII (a rule definition is [\\x00-\\x7F]+)", i, r))
			break
		}
	}
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	var r Rule
	if err := dec.Decode(&r); err != nil {
		return nil, errors.Join(append(errs, fmt.Errorf("decoding the rule: %w", err))...)
	}
	if dec.More() {
		errs = append(errs, errors.New("the body holds more than one JSON value"))
	}
	errs = append(errs, r.check()...)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &r, nil
}

func (r *Rule) check() []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if r.Schema != (Schema{"CloudWatchLogRule", 1}) {
		bad("Schema %+v, want {Name: CloudWatchLogRule, Version: 1}", r.Schema)
	}
	switch {
	case len(r.LogGroupNames) == 0 && len(r.LogGroupARNs) == 0:
		bad("no LogGroupNames (or LogGroupARNs)")
	case len(r.LogGroupNames) > 0 && len(r.LogGroupARNs) > 0:
		bad("both LogGroupNames and LogGroupARNs: a rule takes one of them")
	}
	for _, g := range r.LogGroupNames {
		if g == "" || strings.Contains(strings.TrimSuffix(g, "*"), "*") {
			bad("log group name %q: not empty, and * only at the end", g)
		}
	}
	for _, a := range r.LogGroupARNs {
		if !strings.HasPrefix(a, "arn:") {
			bad("log group ARN %q", a)
		}
	}
	field := func(what, f string) {
		switch r.LogFormat {
		case "JSON":
			if !jsonPath.MatchString(f) {
				bad("%s %q is not in JSON property format ($.name, $.a.b, $.list[0])", what, f)
			}
		case "CLF":
			if f == "" {
				bad("%s is empty", what)
			}
		}
	}
	switch r.LogFormat {
	case "JSON":
		if len(r.Fields) > 0 {
			bad("Fields names the positions of CLF logs; this rule's LogFormat is JSON")
		}
	case "CLF":
	default:
		bad("LogFormat %q, want JSON or CLF", r.LogFormat)
	}
	c := r.Contribution
	if n := len(c.Keys); n < 1 || n > maxKeys {
		bad("%d Keys, want 1 to %d", n, maxKeys)
	}
	for _, k := range c.Keys {
		field("key", k)
	}
	switch r.AggregateOn {
	case "Count":
		if c.ValueOf != "" {
			bad("ValueOf %q goes with AggregateOn Sum, not Count", c.ValueOf)
		}
	case "Sum":
		if c.ValueOf == "" {
			bad("AggregateOn Sum needs ValueOf, the field to add up")
		}
		field("ValueOf", c.ValueOf)
	default:
		bad("AggregateOn %q, want Count or Sum", r.AggregateOn)
	}
	if n := len(c.Filters); n > maxFilters {
		bad("%d Filters, want at most %d", n, maxFilters)
	}
	for i, f := range c.Filters {
		field(fmt.Sprintf("filter %d's Match", i), f.Match)
		ops := f.operators()
		if len(ops) != 1 {
			bad("filter %d (%s) has %d operators %v, want exactly one of In, NotIn, StartsWith, GreaterThan, LessThan, EqualTo, NotEqualTo, IsPresent", i, f.Match, len(ops), ops)
		}
		for _, list := range []*[]string{f.In, f.NotIn, f.StartsWith} {
			if list != nil && (len(*list) == 0 || len(*list) > maxFilterValues) {
				bad("filter %d (%s) lists %d values, want 1 to %d", i, f.Match, len(*list), maxFilterValues)
			}
		}
	}
	return errs
}

func (f Filter) operators() []string {
	var ops []string
	for name, set := range map[string]bool{
		"In": f.In != nil, "NotIn": f.NotIn != nil, "StartsWith": f.StartsWith != nil,
		"GreaterThan": f.GreaterThan != nil, "LessThan": f.LessThan != nil,
		"EqualTo": f.EqualTo != nil, "NotEqualTo": f.NotEqualTo != nil, "IsPresent": f.IsPresent != nil,
	} {
		if set {
			ops = append(ops, name)
		}
	}
	sort.Strings(ops)
	return ops
}

// String is the rule as JSON, for messages.
func (r *Rule) String() string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(r)
	return strings.TrimSpace(b.String())
}
