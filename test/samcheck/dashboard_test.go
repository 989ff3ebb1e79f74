package samcheck

import (
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/keygate/keygate/test/internal/dashboard"
)

// TestDashboard: the dashboard's body, as CloudFormation substitutes it,
// is a valid dashboard whose every metric is the function's (in
// MetricsNamespace, by the contract's dimensions) or its AWS/Lambda ones,
// and which shows what the issue asks for: requests by outcome and by
// door, duration p50/p99, cold starts and their INIT duration, key loads
// and failures, the top clients; and the stack's alarms.
func TestDashboard(t *testing.T) {
	c := readContract(t)
	forEachScenario(t, func(t *testing.T, s *stack, sc scenario, e expect) {
		if got := s.resourcesOfType("AWS::CloudWatch::Dashboard"); !reflect.DeepEqual(got, []string{"KeygateDashboard"}) {
			t.Fatalf("dashboards %v, want [KeygateDashboard]", got)
		}
		p := s.props(t, "KeygateDashboard")
		if p["DashboardName"] != "keygate-keygate" {
			t.Errorf("DashboardName %v, want keygate-keygate (<stack>-keygate: letters, digits, - and _ only)", p["DashboardName"])
		}
		raw, _ := p["DashboardBody"].(string)
		b, err := dashboard.Parse(raw)
		if err != nil {
			t.Fatalf("%v\n%s", err, raw)
		}
		fn := ref(apiFunction)
		rules := map[string]bool{}
		for _, name := range s.resourcesOfType("AWS::CloudWatch::InsightRule") {
			rules[scalar(s.props(t, name)["RuleName"])] = true
		}
		var alarmArns []string
		for _, name := range s.resourcesOfType("AWS::CloudWatch::Alarm") {
			alarmArns = append(alarmArns, getAtt(name+".Arn"))
		}

		shown := map[string]bool{} // what the widgets show, in the words of the checks below
		doors := map[string]bool{}
		for i, w := range b.Widgets {
			pr := w.Properties
			if w.Type != "text" && w.Type != "alarm" && pr.Region != "us-east-1" {
				t.Errorf("widget %d (%s): region %q, want the stack's", i, pr.Title, pr.Region)
			}
			switch {
			case w.Type == "alarm":
				got := slices.Clone(pr.Alarms)
				sort.Strings(got)
				if !reflect.DeepEqual(got, alarmArns) {
					t.Errorf("alarm widget %q lists %v, want the stack's alarms %v", pr.Title, got, alarmArns)
				}
				shown["alarms"] = true
			case w.Type == "log":
				if got := dashboard.SourceLogGroups(pr.Query); !reflect.DeepEqual(got, []string{ref("KeygateFunctionLogGroup")}) {
					t.Errorf("log widget %q reads %v, want the function's log group", pr.Title, got)
				}
				// Lambda's REPORT line: @initDuration in the text format,
				// record.metrics.initDurationMs in JSON (the template's).
				if strings.Contains(pr.Query, "@initDuration") && strings.Contains(pr.Query, "record.metrics.initDurationMs") && strings.Contains(pr.Query, "count(") {
					shown["cold starts"] = true
				}
			case w.Type == "metric" && pr.InsightRule != nil:
				if !rules[pr.InsightRule.RuleName] {
					t.Errorf("widget %q shows the rule %q, which the stack does not have (%v)", pr.Title, pr.InsightRule.RuleName, keys(rules))
				}
				shown["rule "+pr.InsightRule.RuleName] = true
			case w.Type == "metric":
				ms, err := w.Metrics()
				if err != nil {
					t.Errorf("widget %q: %v", pr.Title, err)
				}
				for _, m := range ms {
					switch {
					case m.Search != nil:
						dims := map[string]string{}
						for _, d := range m.Search.DimensionNames {
							dims[d] = m.Search.Terms[d]
						}
						for d := range m.Search.Terms {
							if _, ok := dims[d]; !ok {
								t.Errorf("widget %q: %s: %s is not in the search's schema", pr.Title, m.Expression, d)
							}
						}
						if m.Search.Namespace != e.namespace {
							t.Errorf("widget %q: %s searches namespace %q, want MetricsNamespace (%s)", pr.Title, m.Expression, m.Search.Namespace, e.namespace)
						} else if err := c.check(m.Search.MetricName, dims); err != nil {
							t.Errorf("widget %q: %s: %v", pr.Title, m.Expression, err)
						}
						what := m.Search.MetricName + " by " + strings.Join(m.Search.DimensionNames, ",")
						if m.Search.Function == "SUM" && m.Search.Terms["door"] != "" {
							doors[m.Search.Terms["door"]] = true
							what = m.Search.MetricName + " of a door"
						}
						shown[what] = true
					case m.Expression != "":
						t.Errorf("widget %q: expression %q: only searches and metrics here", pr.Title, m.Expression)
					case m.Namespace == e.namespace:
						if err := c.check(m.Name, m.Dimensions); err != nil {
							t.Errorf("widget %q: %v", pr.Title, err)
						}
						shown[m.Name] = true
					case m.Namespace == "AWS/Lambda":
						if !reflect.DeepEqual(m.Dimensions, map[string]string{"FunctionName": fn}) {
							t.Errorf("widget %q: AWS/Lambda %s of %v, want the function's", pr.Title, m.Name, m.Dimensions)
						}
						shown[m.Name+" "+m.Stat] = true
					default:
						t.Errorf("widget %q: metric %s %s: namespace neither MetricsNamespace (%s) nor AWS/Lambda", pr.Title, m.Namespace, m.Name, e.namespace)
					}
				}
				if pr.Annotations != nil {
					for _, a := range pr.Annotations.Horizontal {
						if a.Value != float64(e.keySetMaxAge) {
							t.Errorf("widget %q: annotation %q at %v, want the stale-key-set threshold %d", pr.Title, a.Label, a.Value, e.keySetMaxAge)
						}
					}
				}
			}
		}
		for _, want := range []string{
			"alarms", "Requests by outcome", "Requests of a door", "Duration p50", "Duration p99", "cold starts",
			"KeyLoads by trigger", "KeyLoadFailures by trigger", "KeysUnavailable", "KeySetAge",
			"Invocations Sum", "Errors Sum", "Throttles Sum",
			"rule keygate-keygate-top-clients", "rule keygate-keygate-invalid-key-sources",
		} {
			if !shown[want] {
				t.Errorf("the dashboard does not show %s (it shows %v)", want, keys(shown))
			}
		}
		if want := c.Values["door"]; !reflect.DeepEqual(keys(doors), sorted(want)) {
			t.Errorf("requests by door: the doors %v, want every door %v", keys(doors), want)
		}
	})
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return s
}
