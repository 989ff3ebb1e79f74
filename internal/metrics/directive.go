package metrics

import (
	"encoding/json"
	"log/slog"
)

// Units, as CloudWatch names them (MetricDatum's Unit).
const (
	unitCount   = "Count"
	unitSeconds = "Seconds"
)

// directive is one MetricDirective of an EMF document: the metrics of a
// line in a namespace, and the dimension sets they are published under.
type directive struct {
	Namespace  string
	Dimensions [][]string
	Metrics    []definition
}

type definition struct {
	Name string
	Unit string
}

// directives are the CloudWatchMetrics arrays of every kind of line, as
// JSON made once: a line only adds its timestamp.
type directives struct {
	// decision lines: [door known][a set in force]
	decision [2][2]slog.Value
	// key set loaded: [trigger known]
	loaded [2]slog.Value
	// key load failed: [trigger known][no set in force]
	failed [2][2]slog.Value
}

func newDirectives(ns string) *directives {
	d := &directives{}
	byTrigger := func(known bool) [][]string {
		if known {
			return [][]string{{Trigger}, {}}
		}
		return [][]string{{}}
	}
	for door := range 2 {
		for aged := range 2 {
			dims := [][]string{{Outcome}}
			if door == 1 {
				dims = append(dims, []string{Outcome, Door})
			}
			ds := []directive{{ns, dims, []definition{{Requests, unitCount}}}}
			if aged == 1 {
				ds = append(ds, directive{ns, [][]string{{}}, []definition{{KeySetAge, unitSeconds}}})
			}
			d.decision[door][aged] = raw(ds)
		}
	}
	for known := range 2 {
		dims := byTrigger(known == 1)
		d.loaded[known] = raw([]directive{{ns, dims, []definition{{KeyLoads, unitCount}}}})
		for down := range 2 {
			ds := []directive{{ns, dims, []definition{{KeyLoadFailures, unitCount}}}}
			if down == 1 {
				ds = append(ds, directive{ns, [][]string{{}}, []definition{{KeysUnavailable, unitCount}}})
			}
			d.failed[known][down] = raw(ds)
		}
	}
	return d
}

// raw is ds as JSON, ready to be a member of a line.
func raw(ds []directive) slog.Value {
	b, err := json.Marshal(ds)
	if err != nil {
		panic("metrics: a directive does not encode: " + err.Error()) // strings and slices always do
	}
	return slog.AnyValue(json.RawMessage(b))
}
