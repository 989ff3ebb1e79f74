package insights

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Contributor is one distinct combination of key values and what the rule
// adds up for it: the number of its events (Count) or the sum of their
// ValueOf (Sum).
type Contributor struct {
	Keys  []string
	Value float64
}

func (c Contributor) String() string {
	return fmt.Sprintf("%s=%g", strings.Join(c.Keys, ","), c.Value)
}

// Report is what a rule makes of a set of events.
type Report struct {
	Events  int // events read, JSON or not
	Matched int // events that passed every filter and carried every key
	// Contributors, highest Value first (ties by keys), as the rule's
	// report ranks them.
	Contributors []Contributor
}

// Top is the first n contributors as "key=value" strings.
func (r Report) Top(n int) []string {
	var out []string
	for i, c := range r.Contributors {
		if i == n {
			break
		}
		out = append(out, c.String())
	}
	return out
}

// Evaluate applies the rule to events (one log event each: for a JSON rule,
// a line that is not a JSON object is counted as read and matches
// nothing). Only JSON rules can be evaluated.
func (r *Rule) Evaluate(events []string) (Report, error) {
	if r.LogFormat != "JSON" {
		return Report{}, fmt.Errorf("evaluating a %s rule: only JSON rules are supported", r.LogFormat)
	}
	rep := Report{Events: len(events)}
	type total struct {
		keys  []string
		value float64
	}
	totals := map[string]*total{}
	for _, e := range events {
		keys, v, ok := r.Contribute(e)
		if !ok {
			continue
		}
		rep.Matched++
		id := strings.Join(keys, "\x00")
		if totals[id] == nil {
			totals[id] = &total{keys: keys}
		}
		totals[id].value += v
	}
	for _, t := range totals {
		rep.Contributors = append(rep.Contributors, Contributor{t.keys, t.value})
	}
	sort.Slice(rep.Contributors, func(i, j int) bool {
		a, b := rep.Contributors[i], rep.Contributors[j]
		if a.Value != b.Value {
			return a.Value > b.Value
		}
		return slices.Compare(a.Keys, b.Keys) < 0
	})
	return rep, nil
}

// Contribute says what one event adds to the rule's report: its
// contributor's key values and its value (1 for Count, ValueOf for Sum),
// or ok false when a filter refuses it or a key (or, for Sum, a numeric
// ValueOf) is missing.
func (r *Rule) Contribute(event string) (keys []string, value float64, ok bool) {
	doc, err := decode(event)
	if err != nil {
		return nil, 0, false
	}
	for _, f := range r.Contribution.Filters {
		if !f.matches(doc) {
			return nil, 0, false
		}
	}
	for _, k := range r.Contribution.Keys {
		v, found := lookup(doc, k)
		s, scalar := text(v)
		if !found || !scalar {
			return nil, 0, false
		}
		keys = append(keys, s)
	}
	if r.AggregateOn == "Count" {
		return keys, 1, true
	}
	v, found := lookup(doc, r.Contribution.ValueOf)
	n, numeric := number(v)
	if !found || !numeric {
		return nil, 0, false
	}
	return keys, n, true
}

func (f Filter) matches(doc any) bool {
	v, found := lookup(doc, f.Match)
	if f.IsPresent != nil {
		_, scalar := text(v)
		return (found && scalar) == *f.IsPresent
	}
	if !found {
		return false
	}
	if list := firstOf(f.In, f.NotIn, f.StartsWith); list != nil {
		s, scalar := text(v)
		if !scalar {
			return false
		}
		switch {
		case f.In != nil:
			return slices.Contains(*f.In, s)
		case f.NotIn != nil:
			return !slices.Contains(*f.NotIn, s)
		default:
			return slices.ContainsFunc(*f.StartsWith, func(p string) bool { return strings.HasPrefix(s, p) })
		}
	}
	n, numeric := number(v)
	if !numeric {
		return false
	}
	switch {
	case f.GreaterThan != nil:
		return n > *f.GreaterThan
	case f.LessThan != nil:
		return n < *f.LessThan
	case f.EqualTo != nil:
		return n == *f.EqualTo
	case f.NotEqualTo != nil:
		return n != *f.NotEqualTo
	}
	return false
}

func firstOf(lists ...*[]string) *[]string {
	for _, l := range lists {
		if l != nil {
			return l
		}
	}
	return nil
}

func decode(event string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(event))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	if _, ok := doc.(map[string]any); !ok {
		return nil, errors.New("not a JSON object")
	}
	return doc, nil
}

var (
	segment = regexp.MustCompile(`^([^\[\]]+)((?:\[[0-9]+\])*)$`)
	index   = regexp.MustCompile(`[0-9]+`)
)

// lookup resolves a JSON property path ($.a.b[0].c) in doc.
func lookup(doc any, path string) (any, bool) {
	rest, ok := strings.CutPrefix(path, "$.")
	if !ok {
		return nil, false
	}
	v := doc
	for _, part := range strings.Split(rest, ".") {
		m := segment.FindStringSubmatch(part)
		if m == nil {
			return nil, false
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = obj[m[1]]; !ok {
			return nil, false
		}
		for _, idx := range index.FindAllString(m[2], -1) {
			i, _ := strconv.Atoi(idx)
			list, ok := v.([]any)
			if !ok || i >= len(list) {
				return nil, false
			}
			v = list[i]
		}
	}
	return v, true
}

// text is a scalar field's value as the string filters and keys see it;
// objects, lists and null are not scalars.
func text(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case json.Number:
		return v.String(), true
	case bool:
		return strconv.FormatBool(v), true
	}
	return "", false
}

func number(v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	return f, err == nil
}

// Lines splits a log (one event per line, as `sam logs` or a JSON lines
// file holds it) into events, without blank lines.
func Lines(log []byte) []string {
	var out []string
	for _, l := range bytes.Split(log, []byte("\n")) {
		if l = bytes.TrimSpace(l); len(l) > 0 {
			out = append(out, string(l))
		}
	}
	return out
}
