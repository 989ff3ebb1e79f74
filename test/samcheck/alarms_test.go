package samcheck

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/internal/config"
)

// contract is the function's metrics (testdata/metrics.json): the names,
// each one's dimension sets, and the values each dimension takes.
type contract struct {
	Metrics map[string]struct {
		Unit       string
		Dimensions [][]string
	}
	Values map[string][]string
}

func readContract(t testing.TB) contract {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "metrics.json"))
	if err != nil {
		t.Fatalf("reading the metrics contract: %v", err)
	}
	var c contract
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatalf("testdata/metrics.json: %v", err)
	}
	return c
}

// check says what is wrong with reading metric name with these
// dimensions (values "" when a search leaves them open), or nil.
func (c contract) check(name string, dims map[string]string) error {
	m, ok := c.Metrics[name]
	if !ok {
		return fmt.Errorf("metric %q is not one the function writes (%v)", name, keys(c.Metrics))
	}
	names := keys(dims)
	found := false
	for _, set := range m.Dimensions {
		set = slices.Clone(set)
		sort.Strings(set)
		found = found || slices.Equal(set, names)
	}
	if !found {
		return fmt.Errorf("%s with dimensions %v: the function writes it with %v only", name, names, m.Dimensions)
	}
	for d, v := range dims {
		if v != "" && !slices.Contains(c.Values[d], v) {
			return fmt.Errorf("%s: %s=%q is none of %v", name, d, v, c.Values[d])
		}
	}
	return nil
}

// The alarms the template declares, by logical ID, with the runbook entry
// (a "### " heading of docs/operating.md's Alarms section, and the end of
// the alarm's name) and whether the scenario has it.
var alarmEntries = []struct {
	logical, entry string
	exists         func(expect) bool
}{
	{"KeysUnavailableAlarm", "keys-unavailable", nil},
	{"StaleKeySetAlarm", "stale-key-set", nil},
	{"FunctionErrorsAlarm", "function-errors", nil},
	{"FunctionThrottlesAlarm", "function-throttles", nil},
	{"InvalidKeysAlarm", "invalid-keys", nil},
	{"RotationErrorsAlarm", "rotation-errors", func(e expect) bool { return e.rotation > 0 }},
}

func (e expect) alarms() map[string]string {
	out := map[string]string{}
	for _, a := range alarmEntries {
		if a.exists == nil || a.exists(e) {
			out[a.logical] = a.entry
		}
	}
	return out
}

// alarm is an alarm's definition as the checks compare it: each metric as
// "[id: ]Namespace Name{dim=value} Stat/Period", each expression as
// "id = expression", the returned one marked.
type alarm struct {
	Name       string
	Metrics    []string
	Comparison string
	Threshold  float64
	Evaluation int
	Datapoints int
	Missing    string
}

func readAlarm(t *testing.T, s *stack, name string) alarm {
	t.Helper()
	p := s.props(t, name)
	a := alarm{
		Name: scalar(p["AlarmName"]), Comparison: scalar(p["ComparisonOperator"]),
		Evaluation: num(p["EvaluationPeriods"]), Datapoints: num(p["DatapointsToAlarm"]), Missing: scalar(p["TreatMissingData"]),
	}
	a.Threshold, _ = p["Threshold"].(float64)
	if p["Metrics"] == nil {
		a.Metrics = []string{metricText(p["Namespace"], p["MetricName"], p["Dimensions"]) + " " + scalar(p["Statistic"]) + "/" + scalar(p["Period"])}
		return a
	}
	for _, q := range asList(p["Metrics"]) {
		ret := ""
		if at(q, "ReturnData") != false {
			ret = " (returned)"
		}
		if expr := at(q, "Expression"); expr != nil {
			a.Metrics = append(a.Metrics, fmt.Sprintf("%s = %s%s", at(q, "Id"), expr, ret))
			continue
		}
		m := at(q, "MetricStat", "Metric")
		a.Metrics = append(a.Metrics, fmt.Sprintf("%s: %s %s/%s%s", at(q, "Id"), metricText(at(m, "Namespace"), at(m, "MetricName"), at(m, "Dimensions")),
			at(q, "MetricStat", "Stat"), scalar(at(q, "MetricStat", "Period")), ret))
	}
	return a
}

func metricText(ns, name, dims any) string {
	var ds []string
	for _, d := range asList(dims) {
		ds = append(ds, fmt.Sprintf("%s=%s", at(d, "Name"), at(d, "Value")))
	}
	sort.Strings(ds)
	return fmt.Sprintf("%s %s{%s}", ns, name, strings.Join(ds, ","))
}

// TestAlarms: the five alarms (six with rotation), each on exactly the
// metric the issue names, with its threshold, its evaluation and its
// treatment of missing data, notifying the topics the parameters give.
func TestAlarms(t *testing.T) {
	c := readContract(t)
	forEachScenario(t, func(t *testing.T, s *stack, sc scenario, e expect) {
		ns := e.namespace
		fn, rot := ref(apiFunction), ref(rotationFunction)
		want := map[string]alarm{
			"KeysUnavailableAlarm": {Name: "keygate-keygate-keys-unavailable", Metrics: []string{
				"unavailable: " + ns + " Requests{outcome=unavailable} Sum/60",
				"nokeys: " + ns + " KeysUnavailable{} Sum/60",
				"refused = unavailable + nokeys (returned)",
			}, Comparison: "GreaterThanOrEqualToThreshold", Threshold: 1, Evaluation: 5, Datapoints: 1, Missing: "notBreaching"},
			"StaleKeySetAlarm": {Name: "keygate-keygate-stale-key-set", Metrics: []string{ns + " KeySetAge{} Maximum/60"},
				Comparison: "GreaterThanThreshold", Threshold: float64(e.keySetMaxAge), Evaluation: 5, Datapoints: 1, Missing: "notBreaching"},
			"FunctionErrorsAlarm": {Name: "keygate-keygate-function-errors", Metrics: functionFailures(ns, fn),
				Comparison: "GreaterThanOrEqualToThreshold", Threshold: 1, Evaluation: 1, Datapoints: -1, Missing: "notBreaching"},
			"FunctionThrottlesAlarm": {Name: "keygate-keygate-function-throttles", Metrics: []string{"AWS/Lambda Throttles{FunctionName=" + fn + "} Sum/60"},
				Comparison: "GreaterThanOrEqualToThreshold", Threshold: 1, Evaluation: 5, Datapoints: 1, Missing: "notBreaching"},
			"InvalidKeysAlarm": {Name: "keygate-keygate-invalid-keys", Metrics: []string{ns + " Requests{outcome=invalid} Sum/300"},
				Comparison: "GreaterThanOrEqualToThreshold", Threshold: float64(e.invalidKeys), Evaluation: 1, Datapoints: -1, Missing: "notBreaching"},
		}
		if e.rotation > 0 {
			want["RotationErrorsAlarm"] = alarm{Name: "keygate-keygate-rotation-errors", Metrics: []string{"AWS/Lambda Errors{FunctionName=" + rot + "} Sum/300"},
				Comparison: "GreaterThanOrEqualToThreshold", Threshold: 1, Evaluation: 1, Datapoints: -1, Missing: "ignore"}
		}
		if got := s.resourcesOfType("AWS::CloudWatch::Alarm"); !reflect.DeepEqual(got, keys(want)) || !reflect.DeepEqual(got, keys(e.alarms())) {
			t.Fatalf("alarms %v, want %v", got, keys(want))
		}
		var actions []any
		if e.alarmTopic != "" {
			actions = append(actions, e.alarmTopic)
		}
		if e.alarmEmail != "" {
			actions = append(actions, ref("AlarmTopic"))
		}
		for name, w := range want {
			if got := readAlarm(t, s, name); !reflect.DeepEqual(got, w) {
				t.Errorf("%s:\n got %+v\nwant %+v", name, got, w)
			}
			p := s.props(t, name)
			// The metrics must be the function's, as it writes them.
			metrics := []any{map[string]any{"Metric": map[string]any{"Namespace": p["Namespace"], "MetricName": p["MetricName"], "Dimensions": p["Dimensions"]}}}
			if p["Metrics"] != nil {
				metrics = nil
				for _, q := range asList(p["Metrics"]) {
					if m := at(q, "MetricStat"); m != nil {
						metrics = append(metrics, m)
					}
				}
			}
			for _, m := range metrics {
				dims := map[string]string{}
				for _, d := range asList(at(m, "Metric", "Dimensions")) {
					dims[scalar(at(d, "Name"))] = scalar(at(d, "Value"))
				}
				switch mns, mname := at(m, "Metric", "Namespace"), scalar(at(m, "Metric", "MetricName")); mns {
				case ns:
					if err := c.check(mname, dims); err != nil {
						t.Errorf("%s: %v", name, err)
					}
				case "AWS/Lambda":
					if f := dims["FunctionName"]; len(dims) != 1 || (f != fn && f != rot) {
						t.Errorf("%s: AWS/Lambda %s of %v, want one of the stack's functions", name, mname, dims)
					}
				default:
					t.Errorf("%s: namespace %v, want MetricsNamespace (%s) or AWS/Lambda", name, mns, ns)
				}
			}
			desc := scalar(p["AlarmDescription"])
			entry := e.alarms()[name]
			if len(desc) < 100 || len(desc) > 1024 || !strings.Contains(desc, "Runbook: docs/operating.md, Alarms, "+entry+".") ||
				!strings.HasSuffix(scalar(p["AlarmName"]), "-"+entry) {
				t.Errorf("%s: AlarmDescription %q: want what it means and what to do (100 to 1024 characters) and the runbook entry %s, which ends its name", name, desc, entry)
			}
			for _, list := range []string{"AlarmActions", "OKActions"} {
				if got := present(p[list]); !reflect.DeepEqual(got, actions) {
					t.Errorf("%s %s: %v, want %v", name, list, got, actions)
				}
			}
			if p["InsufficientDataActions"] != nil || p["ActionsEnabled"] == false {
				t.Errorf("%s: InsufficientDataActions %v, ActionsEnabled %v: want neither", name, p["InsufficientDataActions"], p["ActionsEnabled"])
			}
		}
	})
}

// functionFailures is the function-errors alarm's metrics: Errors less
// the refusals a REST API's authorizer answers by failing (every outcome
// but authorized and forbidden; a TOKEN authorizer's one key is never
// ambiguous).
func functionFailures(ns, fn string) []string {
	out := []string{"errors: AWS/Lambda Errors{FunctionName=" + fn + "} Sum/300"}
	var ids []string
	for _, door := range []string{"token", "request"} {
		for _, outcome := range []string{"missing", "invalid", "ambiguous", "expired", "unavailable"} {
			if door == "token" && outcome == "ambiguous" {
				continue
			}
			id := door + strings.ToUpper(outcome[:1]) + outcome[1:]
			ids = append(ids, id)
			out = append(out, fmt.Sprintf("%s: %s Requests{door=%sauthorizer,outcome=%s} Sum/300", id, ns, door, outcome))
		}
	}
	return append(out, "failures = errors - ("+strings.Join(ids, " + ")+") (returned)")
}

// present is a list without the entries AWS::NoValue removed (nil here),
// as CloudFormation passes it on; nil when nothing is left.
func present(v any) []any {
	var out []any
	for _, x := range asList(v) {
		if x != nil {
			out = append(out, x)
		}
	}
	return out
}

// TestAlarmTopic: AlarmEmail makes a topic, with the address subscribed by
// email; without it there is none (AlarmTopicArn is the deployer's).
func TestAlarmTopic(t *testing.T) {
	forEachScenario(t, func(t *testing.T, s *stack, sc scenario, e expect) {
		for _, typ := range []string{"AWS::SNS::Topic", "AWS::SNS::Subscription", "AWS::SNS::TopicPolicy"} {
			want := map[string][]string{"AWS::SNS::Topic": {"AlarmTopic"}, "AWS::SNS::Subscription": {"AlarmEmailSubscription"}}[typ]
			if e.alarmEmail == "" {
				want = nil
			}
			if got := s.resourcesOfType(typ); !reflect.DeepEqual(got, want) {
				t.Errorf("%s resources %v, want %v", typ, got, want)
			}
		}
		if e.alarmEmail == "" {
			return
		}
		topic := s.props(t, "AlarmTopic")
		if topic["TopicName"] != "keygate-keygate-alarms" || topic["DisplayName"] != "keygate keygate" || topic["KmsMasterKeyId"] != nil || topic["FifoTopic"] != nil {
			t.Errorf("AlarmTopic %v: want keygate-keygate-alarms, a standard topic CloudWatch can publish to (no SSE with an AWS managed key)", topic)
		}
		sub := s.props(t, "AlarmEmailSubscription")
		if want := map[string]any{"TopicArn": ref("AlarmTopic"), "Protocol": "email", "Endpoint": e.alarmEmail}; !reflect.DeepEqual(sub, want) {
			t.Errorf("AlarmEmailSubscription %v, want %v", sub, want)
		}
	})
}

// TestAlarmDefaults: the stale-set threshold is 3 refresh intervals of the
// function's default, and the default namespace is the one the sample
// lines carry (the function's own default, METRICS_NAMESPACE unset).
func TestAlarmDefaults(t *testing.T) {
	s := loadStack(t, templatePath(t), nil)
	if got, want := s.params["KeySetMaxAge"], fmt.Sprint(int(3*config.DefaultRefresh/time.Second)); got != want {
		t.Errorf("KeySetMaxAge defaults to %s s; 3 x the default KEY_REFRESH (%s) is %s", got, config.DefaultRefresh, want)
	}
	if got := s.params["MetricsNamespace"]; got != "Keygate" {
		t.Errorf("MetricsNamespace defaults to %q, want Keygate", got)
	}
}
