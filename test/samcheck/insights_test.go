package samcheck

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/keygate/keygate/test/internal/insights"
)

// sampleLines are the function's log lines as the metrics contract makes
// them (testdata/loglines.jsonl): every message and member the rules read,
// their EMF, and Lambda's REPORT lines in both formats.
func sampleLines(t testing.TB) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "loglines.jsonl"))
	if err != nil {
		t.Fatalf("reading the sample log lines: %v", err)
	}
	return insights.Lines(b)
}

// The Contributor Insights rules, by logical ID: name, keys, and what they
// rank in the sample lines.
var insightRules = map[string]struct {
	name string
	keys []string
	top  []string
}{
	// Every request or authorizer event a key matched, whatever came of
	// it; not the "Request" look-alike, nor lines without a client.
	"TopClientsRule": {"keygate-keygate-top-clients", []string{"$.client"},
		[]string{"mobile=4", "partner=2", "legacy=1", "ops=1"}},
	// Invalid keys by source address, at every door; not the one without
	// an address, nor a missing key from the same address.
	"InvalidKeySourcesRule": {"keygate-keygate-invalid-key-sources", []string{"$.source_ip"},
		[]string{"203.0.113.7=3", "198.51.100.2=1"}},
}

// TestInsightRules: each rule's body is valid by the rule syntax, reads
// the function's log group and nothing else, and ranks the sample lines as
// an operator expects.
func TestInsightRules(t *testing.T) {
	lines := sampleLines(t)
	forEachScenario(t, func(t *testing.T, s *stack, sc scenario, e expect) {
		if got := s.resourcesOfType("AWS::CloudWatch::InsightRule"); !reflect.DeepEqual(got, keys(insightRules)) {
			t.Fatalf("insight rules %v, want %v", got, keys(insightRules))
		}
		for name, want := range insightRules {
			p := s.props(t, name)
			if p["RuleName"] != want.name || p["RuleState"] != "ENABLED" {
				t.Errorf("%s: RuleName %v, RuleState %v; want %s, ENABLED", name, p["RuleName"], p["RuleState"], want.name)
			}
			r, err := insights.Parse(scalar(p["RuleBody"]))
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			if !reflect.DeepEqual(r.LogGroupNames, []string{ref("KeygateFunctionLogGroup")}) || r.LogFormat != "JSON" || r.AggregateOn != "Count" {
				t.Errorf("%s: %s: want a count over the function's JSON log group", name, r)
			}
			if !reflect.DeepEqual(r.Contribution.Keys, want.keys) {
				t.Errorf("%s: keys %v, want %v", name, r.Contribution.Keys, want.keys)
			}
			rep, err := r.Evaluate(lines)
			if err != nil {
				t.Fatal(err)
			}
			if got := rep.Top(10); !reflect.DeepEqual(got, want.top) {
				t.Errorf("%s ranks the sample lines %v, want %v", name, got, want.top)
			}
		}
	})
}

// The sample lines' EMF writes exactly the contract's metrics, so what the
// rules and the alarms are checked against is what the function writes.
func TestSampleLinesFollowTheContract(t *testing.T) {
	c := readContract(t)
	seen := map[string]bool{}
	for i, line := range sampleLines(t) {
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var doc map[string]any
		if err := json.Unmarshal([]byte(line), &doc); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		for _, m := range emfMetrics(t, doc) {
			if err := c.check(m.name, m.dims); err != nil {
				t.Errorf("line %d: %v", i+1, err)
			}
			if m.namespace != "Keygate" || c.Metrics[m.name].Unit != m.unit {
				t.Errorf("line %d: %s in %q as %q, want Keygate and %q", i+1, m.name, m.namespace, m.unit, c.Metrics[m.name].Unit)
			}
			seen[fmt.Sprint(m.name, keys(m.dims))] = true
		}
	}
	var want []string
	for name, m := range c.Metrics {
		for _, set := range m.Dimensions {
			sort.Strings(set)
			want = append(want, fmt.Sprint(name, set))
		}
	}
	sort.Strings(want)
	if got := keys(seen); !reflect.DeepEqual(got, want) {
		t.Errorf("the sample lines write %v, want every metric and dimension set of the contract %v", got, want)
	}
}

type emfMetric struct {
	namespace, name, unit string
	dims                  map[string]string
}

// emfMetrics lists the metrics one EMF line publishes: every metric of
// every directive, once per dimension set, with the line's values of those
// dimensions; the value itself must be a number on the line.
func emfMetrics(t *testing.T, doc map[string]any) []emfMetric {
	t.Helper()
	var out []emfMetric
	for _, d := range asList(at(doc, "_aws", "CloudWatchMetrics")) {
		ns := scalar(at(d, "Namespace"))
		for _, set := range asList(at(d, "Dimensions")) {
			dims := map[string]string{}
			for _, name := range asList(set) {
				v, ok := doc[scalar(name)].(string)
				if !ok {
					t.Errorf("EMF dimension %v has no string value on the line", name)
				}
				dims[scalar(name)] = v
			}
			for _, m := range asList(at(d, "Metrics")) {
				name := scalar(at(m, "Name"))
				if _, ok := doc[name].(float64); !ok {
					t.Errorf("EMF metric %s has no number on the line", name)
				}
				out = append(out, emfMetric{ns, name, scalar(at(m, "Unit")), dims})
			}
		}
	}
	return out
}
