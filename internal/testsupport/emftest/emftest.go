// Package emftest checks CloudWatch embedded metric format (EMF) documents
// against the specification, and says what CloudWatch would extract from
// them. It is written from the specification and its JSON schema
// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html)
// and CloudWatch's limits, not from the code it checks (internal/metrics),
// so that a shared mistake cannot pass. It is test support: no binary
// imports it.
//
// It is stricter than the schema where keygate's documents have no reason
// to differ: a member named twice in one object is refused (RFC 8259 leaves
// the result unpredictable), and so are an empty CloudWatchMetrics or
// Metrics array.
package emftest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Limits of the specification and of CloudWatch (PutMetricData's
// Namespace, Dimension and MetricDatum).
const (
	MaxMetricsPerDocument = 100  // MetricDirective: "MUST NOT contain more than 100 MetricDefinition objects"
	MaxDimensionsPerSet   = 30   // DimensionSet: at most 30 dimension keys
	MaxValuesPerMetric    = 100  // numeric array targets
	MaxNamespaceLength    = 255  // Namespace
	MaxDimensionName      = 250  // DimensionReference (the EMF libraries' and the schema's limit)
	MaxDimensionValue     = 1024 // Dimension Value
	MaxMetricName         = 1024 // MetricDefinition Name
)

// Units are the values a MetricDefinition's Unit may take (the schema's
// pattern; CloudWatch's StandardUnit).
var Units = []string{
	"Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
	"Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count",
	"Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second",
	"Bits/Second", "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second",
	"Count/Second", "None",
}

// Datum is one metric value CloudWatch extracts from a document: a
// metric, under one dimension set, with that set's values.
type Datum struct {
	Namespace  string
	Metric     string
	Unit       string            // "None" when the definition names none
	Dimensions map[string]string // the set's members and their values; empty for []
	Values     []float64
}

// Key is the datum's identity as a string: metric, then the dimensions in
// the order of their names (Requests{door=rest,outcome=invalid}).
func (d Datum) Key() string {
	names := make([]string, 0, len(d.Dimensions))
	for n := range d.Dimensions {
		names = append(names, n)
	}
	slices.Sort(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + "=" + d.Dimensions[n]
	}
	return d.Metric + "{" + strings.Join(parts, ",") + "}"
}

// Document is a line that holds an EMF document.
type Document struct {
	Timestamp int64 // milliseconds since the epoch
	Data      []Datum
	// Root is the line's members, decoded (numbers as json.Number).
	Root map[string]any
}

// ErrNoEMF: the line is a JSON object without an _aws member.
var ErrNoEMF = errors.New("no _aws member: not an EMF document")

// Parse checks that line is one JSON object and, if it has an _aws member,
// a valid EMF document; it returns the document, ErrNoEMF for a line
// without _aws, or an error naming the first rule the line breaks.
func Parse(line []byte) (*Document, error) {
	root, err := object(line)
	if err != nil {
		return nil, err
	}
	awsRaw, ok := root["_aws"]
	if !ok {
		return nil, ErrNoEMF
	}
	meta, err := object(awsRaw)
	if err != nil {
		return nil, fmt.Errorf("_aws: %w", err)
	}
	if err := only(meta, "_aws", "Timestamp", "CloudWatchMetrics"); err != nil {
		return nil, err
	}
	doc := &Document{Root: map[string]any{}}
	for k, v := range root {
		doc.Root[k] = decode(v)
	}
	ts, ok := meta["Timestamp"]
	if !ok {
		return nil, errors.New("_aws has no Timestamp")
	}
	if doc.Timestamp, err = millis(ts); err != nil {
		return nil, err
	}
	cwm, ok := meta["CloudWatchMetrics"]
	if !ok {
		return nil, errors.New("_aws has no CloudWatchMetrics")
	}
	var directives []json.RawMessage
	if err := json.Unmarshal(cwm, &directives); err != nil || directives == nil {
		return nil, fmt.Errorf("_aws.CloudWatchMetrics is not an array of MetricDirective objects: %s", cwm)
	}
	if len(directives) == 0 {
		return nil, errors.New("_aws.CloudWatchMetrics is empty")
	}
	metrics := 0
	for i, raw := range directives {
		data, n, err := directive(raw, root)
		if err != nil {
			return nil, fmt.Errorf("_aws.CloudWatchMetrics[%d]: %w", i, err)
		}
		metrics += n
		doc.Data = append(doc.Data, data...)
	}
	if metrics > MaxMetricsPerDocument {
		return nil, fmt.Errorf("%d metrics in one document, more than %d", metrics, MaxMetricsPerDocument)
	}
	return doc, nil
}

// directive checks one MetricDirective against the root's members and
// returns its data and how many metrics it defines.
func directive(raw json.RawMessage, root map[string]json.RawMessage) ([]Datum, int, error) {
	d, err := object(raw)
	if err != nil {
		return nil, 0, err
	}
	if err := only(d, "MetricDirective", "Namespace", "Dimensions", "Metrics"); err != nil {
		return nil, 0, err
	}
	var ns string
	if err := stringMember(d, "Namespace", &ns); err != nil {
		return nil, 0, err
	}
	if err := namespace(ns); err != nil {
		return nil, 0, err
	}

	var sets [][]string
	if err := json.Unmarshal(d["Dimensions"], &sets); err != nil || sets == nil {
		return nil, 0, fmt.Errorf("Dimensions is not an array of arrays of strings: %s", d["Dimensions"])
	}
	if len(sets) == 0 {
		return nil, 0, errors.New("Dimensions is empty: it needs at least one DimensionSet ([] for none)")
	}
	values := make([]map[string]string, len(sets))
	for i, set := range sets {
		if set == nil {
			return nil, 0, fmt.Errorf("Dimensions[%d] is not an array", i)
		}
		if len(set) > MaxDimensionsPerSet {
			return nil, 0, fmt.Errorf("Dimensions[%d] has %d keys, more than %d", i, len(set), MaxDimensionsPerSet)
		}
		values[i] = map[string]string{}
		for _, name := range set {
			if err := dimensionName(name); err != nil {
				return nil, 0, fmt.Errorf("Dimensions[%d]: %w", i, err)
			}
			if _, dup := values[i][name]; dup {
				return nil, 0, fmt.Errorf("Dimensions[%d] names %q twice", i, name)
			}
			target, ok := root[name]
			if !ok {
				return nil, 0, fmt.Errorf("dimension %q is not a member of the root", name)
			}
			var v string
			if err := json.Unmarshal(target, &v); err != nil || target[0] != '"' {
				return nil, 0, fmt.Errorf("dimension %q's member is not a string: %s", name, target)
			}
			if err := dimensionValue(v); err != nil {
				return nil, 0, fmt.Errorf("dimension %q: %w", name, err)
			}
			values[i][name] = v
		}
	}

	var defs []json.RawMessage
	if err := json.Unmarshal(d["Metrics"], &defs); err != nil || defs == nil {
		return nil, 0, fmt.Errorf("Metrics is not an array: %s", d["Metrics"])
	}
	if len(defs) == 0 {
		return nil, 0, errors.New("Metrics is empty")
	}
	if len(defs) > MaxMetricsPerDocument {
		return nil, 0, fmt.Errorf("Metrics has %d definitions, more than %d", len(defs), MaxMetricsPerDocument)
	}
	var data []Datum
	names := map[string]bool{}
	for j, raw := range defs {
		def, err := object(raw)
		if err != nil {
			return nil, 0, fmt.Errorf("Metrics[%d]: %w", j, err)
		}
		if err := only(def, "MetricDefinition", "Name", "Unit", "StorageResolution"); err != nil {
			return nil, 0, fmt.Errorf("Metrics[%d]: %w", j, err)
		}
		var name, unit string
		if err := stringMember(def, "Name", &name); err != nil {
			return nil, 0, fmt.Errorf("Metrics[%d]: %w", j, err)
		}
		if len(name) == 0 || len(name) > MaxMetricName || strings.TrimSpace(name) == "" {
			return nil, 0, fmt.Errorf("Metrics[%d]: Name %q is not 1 to %d characters, not all spaces", j, name, MaxMetricName)
		}
		if names[name] {
			return nil, 0, fmt.Errorf("Metrics names %q twice", name)
		}
		names[name] = true
		unit = "None"
		if _, has := def["Unit"]; has {
			if err := stringMember(def, "Unit", &unit); err != nil {
				return nil, 0, fmt.Errorf("Metrics[%d]: %w", j, err)
			}
			if !slices.Contains(Units, unit) {
				return nil, 0, fmt.Errorf("Metrics[%d]: Unit %q is not a CloudWatch unit", j, unit)
			}
		}
		if res, has := def["StorageResolution"]; has && string(res) != "1" && string(res) != "60" {
			return nil, 0, fmt.Errorf("Metrics[%d]: StorageResolution %s is neither 1 nor 60", j, res)
		}
		for i := range sets {
			if _, isDim := values[i][name]; isDim {
				return nil, 0, fmt.Errorf("%q is both a metric and a dimension", name)
			}
		}
		target, ok := root[name]
		if !ok {
			return nil, 0, fmt.Errorf("metric %q is not a member of the root", name)
		}
		vs, err := numbers(target)
		if err != nil {
			return nil, 0, fmt.Errorf("metric %q: %w", name, err)
		}
		for i := range sets {
			data = append(data, Datum{Namespace: ns, Metric: name, Unit: unit, Dimensions: values[i], Values: vs})
		}
	}
	return data, len(defs), nil
}

// object decodes one JSON object, refusing trailing data and members
// named twice.
func object(b []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("not a JSON object: %.80s", b)
	}
	out := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("not a JSON object: %w", err)
		}
		name := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("member %q: %w", name, err)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("member %q appears twice", name)
		}
		out[name] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON object")
	}
	return out, nil
}

// only refuses members other than allowed ("MUST NOT contain any
// additional members").
func only(o map[string]json.RawMessage, what string, allowed ...string) error {
	for k := range o {
		if !slices.Contains(allowed, k) {
			return fmt.Errorf("%s has a member %q the specification does not define", what, k)
		}
	}
	return nil
}

func stringMember(o map[string]json.RawMessage, name string, into *string) error {
	raw, ok := o[name]
	if !ok {
		return fmt.Errorf("no %s", name)
	}
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, into) != nil {
		return fmt.Errorf("%s is not a string: %s", name, raw)
	}
	return nil
}

// millis checks Timestamp: an integer (the schema's type), milliseconds
// since the epoch, so between 2001 and 2286: seconds or microseconds fall
// outside.
func millis(raw json.RawMessage) (int64, error) {
	var n json.Number
	if _, ok := number(raw); !ok || json.Unmarshal(raw, &n) != nil {
		return 0, fmt.Errorf("_aws.Timestamp is not a number: %s", raw)
	}
	ts, err := n.Int64()
	if err != nil {
		return 0, fmt.Errorf("_aws.Timestamp is not an integer: %s", raw)
	}
	if ts < 1e12 || ts >= 1e13 {
		return 0, fmt.Errorf("_aws.Timestamp %d is not milliseconds since the epoch", ts)
	}
	return ts, nil
}

// namespace checks CloudWatch's rules for a namespace: 1 to 255 of
// A-Z a-z 0-9 . - _ / # : and space, not all spaces, not starting with a
// colon or with AWS/.
func namespace(ns string) error {
	switch {
	case len(ns) == 0 || len(ns) > MaxNamespaceLength:
		return fmt.Errorf("Namespace %q is not 1 to %d characters", ns, MaxNamespaceLength)
	case strings.TrimSpace(ns) == "":
		return errors.New("Namespace is all spaces")
	case ns[0] == ':' || strings.HasPrefix(ns, "AWS/"):
		return fmt.Errorf("Namespace %q starts with a colon or AWS/", ns)
	}
	for _, c := range ns {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune(".-_/#: ", c)
		if !ok {
			return fmt.Errorf("Namespace %q has the character %q", ns, c)
		}
	}
	return nil
}

// dimensionName: 1 to 250 ASCII characters, no control characters, not
// all spaces, not starting with a colon.
func dimensionName(n string) error {
	if len(n) == 0 || len(n) > MaxDimensionName || strings.TrimSpace(n) == "" || n[0] == ':' || !printable(n) {
		return fmt.Errorf("dimension name %q is not 1 to %d printable ASCII characters, not all spaces, not starting with a colon", n, MaxDimensionName)
	}
	return nil
}

// dimensionValue: 1 to 1024 ASCII characters, no control characters, not
// all spaces.
func dimensionValue(v string) error {
	if len(v) == 0 || len(v) > MaxDimensionValue || strings.TrimSpace(v) == "" || !printable(v) {
		return fmt.Errorf("value %q is not 1 to %d printable ASCII characters, not all spaces", v, MaxDimensionValue)
	}
	return nil
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// numbers reads a metric target: a number, or an array of 1 to 100.
func numbers(raw json.RawMessage) ([]float64, error) {
	if v, ok := number(raw); ok {
		return []float64{v}, nil
	}
	var many []json.RawMessage
	if err := json.Unmarshal(raw, &many); err != nil || many == nil {
		return nil, fmt.Errorf("its member is neither a number nor an array of numbers: %s", raw)
	}
	if len(many) == 0 || len(many) > MaxValuesPerMetric {
		return nil, fmt.Errorf("its array has %d values, not 1 to %d", len(many), MaxValuesPerMetric)
	}
	out := make([]float64, len(many))
	for i, m := range many {
		v, ok := number(m)
		if !ok {
			return nil, fmt.Errorf("its array holds %s, not a number", m)
		}
		out[i] = v
	}
	return out, nil
}

// number reads a JSON number (not a string or null, which Unmarshal
// would let through into a float64 or a json.Number).
func number(raw json.RawMessage) (float64, bool) {
	if len(raw) == 0 || raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
		return 0, false
	}
	var v float64
	return v, json.Unmarshal(raw, &v) == nil
}

func decode(raw json.RawMessage) any {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	_ = dec.Decode(&v)
	return v
}
