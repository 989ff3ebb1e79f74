//go:build samdeploy

package samdeploy

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/keygate/keygate/test/internal/dashboard"
	"github.com/keygate/keygate/test/internal/insights"
)

// alarm is a deployed alarm as the checks compare it (samcheck's form):
// each metric as "[id: ]Namespace Name{dim=value} Stat/Period", each
// expression as "id = expression", the returned one marked.
type alarm struct {
	Name       string
	Metrics    []string
	Comparison string
	Threshold  float64
	Evaluation int32
	Datapoints int32
	Missing    string
}

func metricText(m *cwtypes.Metric) string {
	var ds []string
	for _, d := range m.Dimensions {
		ds = append(ds, aws.ToString(d.Name)+"="+aws.ToString(d.Value))
	}
	sort.Strings(ds)
	return fmt.Sprintf("%s %s{%s}", aws.ToString(m.Namespace), aws.ToString(m.MetricName), strings.Join(ds, ","))
}

func readAlarm(a cwtypes.MetricAlarm) alarm {
	out := alarm{
		Name: aws.ToString(a.AlarmName), Comparison: string(a.ComparisonOperator), Threshold: aws.ToFloat64(a.Threshold),
		Evaluation: aws.ToInt32(a.EvaluationPeriods), Datapoints: aws.ToInt32(a.DatapointsToAlarm), Missing: aws.ToString(a.TreatMissingData),
	}
	if len(a.Metrics) == 0 {
		out.Metrics = []string{fmt.Sprintf("%s %s/%d", metricText(&cwtypes.Metric{Namespace: a.Namespace, MetricName: a.MetricName, Dimensions: a.Dimensions}),
			a.Statistic, aws.ToInt32(a.Period))}
		return out
	}
	for _, q := range a.Metrics {
		ret := ""
		if q.ReturnData == nil || *q.ReturnData {
			ret = " (returned)"
		}
		if q.MetricStat == nil {
			out.Metrics = append(out.Metrics, fmt.Sprintf("%s = %s%s", aws.ToString(q.Id), aws.ToString(q.Expression), ret))
			continue
		}
		out.Metrics = append(out.Metrics, fmt.Sprintf("%s: %s %s/%d%s", aws.ToString(q.Id), metricText(q.MetricStat.Metric),
			aws.ToString(q.MetricStat.Stat), aws.ToInt32(q.MetricStat.Period), ret))
	}
	return out
}

// The runbook entry of each alarm: the end of its name, and what its
// description points to.
var runbook = map[string]string{
	"KeysUnavailableAlarm": "keys-unavailable", "StaleKeySetAlarm": "stale-key-set", "FunctionErrorsAlarm": "function-errors",
	"FunctionThrottlesAlarm": "function-throttles", "InvalidKeysAlarm": "invalid-keys", "RotationErrorsAlarm": "rotation-errors",
}

// alarms reads every alarm of the stack back with DescribeAlarms: its
// metrics, threshold, evaluation and missing-data treatment as the
// template has them (default parameters), its description, its actions.
func (c *checker) alarms() {
	fn := c.e.fn()
	want := map[string]alarm{
		"KeysUnavailableAlarm": {Metrics: []string{
			"unavailable: Keygate Requests{outcome=unavailable} Sum/60",
			"nokeys: Keygate KeysUnavailable{} Sum/60",
			"refused = unavailable + nokeys (returned)",
		}, Comparison: "GreaterThanOrEqualToThreshold", Threshold: 1, Evaluation: 5, Datapoints: 1, Missing: "notBreaching"},
		"StaleKeySetAlarm": {Metrics: []string{"Keygate KeySetAge{} Maximum/60"},
			Comparison: "GreaterThanThreshold", Threshold: 900, Evaluation: 5, Datapoints: 1, Missing: "notBreaching"},
		"FunctionErrorsAlarm": {Metrics: functionFailures(fn),
			Comparison: "GreaterThanOrEqualToThreshold", Threshold: 1, Evaluation: 1, Missing: "notBreaching"},
		"FunctionThrottlesAlarm": {Metrics: []string{"AWS/Lambda Throttles{FunctionName=" + fn + "} Sum/60"},
			Comparison: "GreaterThanOrEqualToThreshold", Threshold: 1, Evaluation: 5, Datapoints: 1, Missing: "notBreaching"},
		"InvalidKeysAlarm": {Metrics: []string{"Keygate Requests{outcome=invalid} Sum/300"},
			Comparison: "GreaterThanOrEqualToThreshold", Threshold: 100, Evaluation: 1, Missing: "notBreaching"},
	}
	if c.e.rotation > 0 {
		want["RotationErrorsAlarm"] = alarm{Metrics: []string{"AWS/Lambda Errors{FunctionName=" + fn + "-rotation} Sum/300"},
			Comparison: "GreaterThanOrEqualToThreshold", Threshold: 1, Evaluation: 1, Missing: "ignore"}
	}
	var actions []string
	if c.e.alarmTopic != "" {
		actions = append(actions, c.e.alarmTopic)
	}
	if c.e.alarmEmail != "" {
		actions = append(actions, c.topicArn())
	}

	out, err := aws_.cw.DescribeAlarms(c.ctx, &cloudwatch.DescribeAlarmsInput{AlarmNamePrefix: aws.String(fn + "-")})
	c.must(err, "DescribeAlarms")
	byName := map[string]cwtypes.MetricAlarm{}
	for _, a := range out.MetricAlarms {
		byName[aws.ToString(a.AlarmName)] = a
	}
	c.eq("the stack's alarms", len(byName), len(want))
	for logical, w := range want {
		name := fn + "-" + runbook[logical]
		c.eq(logical+" physical ID", c.physical(logical), name)
		a, ok := byName[name]
		if !ok {
			c.t.Errorf("%s: no alarm %s (DescribeAlarms: %v)", logical, name, keys(byName))
			continue
		}
		w.Name = name
		c.eq(logical, readAlarm(a), w)
		if d := aws.ToString(a.AlarmDescription); len(d) < 100 || !strings.Contains(d, "Runbook: docs/operating.md, Alarms, "+runbook[logical]+".") {
			c.t.Errorf("%s: description %q: want what it means, what to do and the runbook entry", logical, d)
		}
		c.eq(logical+" ARN", aws.ToString(a.AlarmArn), fmt.Sprintf("arn:aws:cloudwatch:%s:%s:alarm:%s", region, account, name))
		c.eq(logical+" actions enabled", aws.ToBool(a.ActionsEnabled), true)
		c.eq(logical+" alarm actions", nilIfEmpty(a.AlarmActions), actions)
		c.eq(logical+" OK actions", nilIfEmpty(a.OKActions), actions)
		c.eq(logical+" insufficient-data actions", nilIfEmpty(a.InsufficientDataActions), []string(nil))
	}
}

// functionFailures is the function-errors alarm's metrics: Errors less
// the REST authorizers' refusals (samcheck derives the same list).
func functionFailures(fn string) []string {
	out := []string{"errors: AWS/Lambda Errors{FunctionName=" + fn + "} Sum/300"}
	var ids []string
	for _, r := range []struct{ door, outcomes string }{
		{"token", "missing invalid expired unavailable"},
		{"request", "missing invalid ambiguous expired unavailable"},
	} {
		for _, o := range strings.Fields(r.outcomes) {
			id := r.door + strings.ToUpper(o[:1]) + o[1:]
			ids = append(ids, id)
			out = append(out, fmt.Sprintf("%s: Keygate Requests{door=%sauthorizer,outcome=%s} Sum/300", id, r.door, o))
		}
	}
	return append(out, "failures = errors - ("+strings.Join(ids, " + ")+") (returned)")
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

func (c *checker) topicArn() string {
	return fmt.Sprintf("arn:aws:sns:%s:%s:%s-alarms", region, account, c.e.fn())
}

// alarmTopic: with AlarmEmail, a topic with the address subscribed by
// email (pending its confirmation); without, none.
func (c *checker) alarmTopic() {
	topics, err := aws_.sns.ListTopics(c.ctx, &sns.ListTopicsInput{})
	c.must(err, "ListTopics")
	found := false
	for _, tp := range topics.Topics {
		found = found || aws.ToString(tp.TopicArn) == c.topicArn()
	}
	if c.e.alarmEmail == "" {
		if found {
			c.t.Errorf("topic %s exists without AlarmEmail", c.topicArn())
		}
		return
	}
	arn := c.physical("AlarmTopic")
	c.eq("AlarmTopic", arn, c.topicArn())
	c.eq("output AlarmTopic", c.outputs["AlarmTopic"], arn)
	attrs, err := aws_.sns.GetTopicAttributes(c.ctx, &sns.GetTopicAttributesInput{TopicArn: aws.String(arn)})
	c.must(err, "GetTopicAttributes")
	c.eq("AlarmTopic display name", attrs.Attributes["DisplayName"], "keygate "+c.e.stack)
	c.eq("AlarmTopic encryption", attrs.Attributes["KmsMasterKeyId"], "")
	subs, err := aws_.sns.ListSubscriptionsByTopic(c.ctx, &sns.ListSubscriptionsByTopicInput{TopicArn: aws.String(arn)})
	c.must(err, "ListSubscriptionsByTopic")
	var got []string
	for _, s := range subs.Subscriptions {
		got = append(got, aws.ToString(s.Protocol)+" "+aws.ToString(s.Endpoint))
		c.eq("AlarmEmailSubscription physical ID", c.physical("AlarmEmailSubscription"), aws.ToString(s.SubscriptionArn))
	}
	c.eq("AlarmTopic subscriptions", got, []string{"email " + c.e.alarmEmail})
}

// dashboard reads the dashboard back with GetDashboard: valid, and what
// it names is this stack's (function, log group, alarms, rules), in the
// default namespace.
func (c *checker) dashboard() {
	name := c.physical("KeygateDashboard")
	c.eq("dashboard name", name, c.e.fn())
	c.eq("output DashboardUrl", c.outputs["DashboardUrl"], "https://console.aws.amazon.com/cloudwatch/home?region="+region+"#dashboards/dashboard/"+name)
	d, err := aws_.cw.GetDashboard(c.ctx, &cloudwatch.GetDashboardInput{DashboardName: aws.String(name)})
	c.must(err, "GetDashboard")
	b, err := dashboard.Parse(aws.ToString(d.DashboardBody))
	c.must(err, "the dashboard's body")
	var alarmArns []string
	for logical := range runbook {
		if r, ok := c.res[logical]; ok {
			alarmArns = append(alarmArns, fmt.Sprintf("arn:aws:cloudwatch:%s:%s:alarm:%s", region, account, r.physical))
		}
	}
	sort.Strings(alarmArns)
	rules := map[string]bool{c.e.fn() + "-top-clients": true, c.e.fn() + "-invalid-key-sources": true}
	widgets := map[string]int{}
	for _, w := range b.Widgets {
		widgets[w.Type]++
		p := w.Properties
		switch {
		case w.Type == "alarm":
			got := append([]string(nil), p.Alarms...)
			sort.Strings(got)
			c.eq("the dashboard's alarms", got, alarmArns)
		case w.Type == "log":
			c.eq(p.Title+" log groups", dashboard.SourceLogGroups(p.Query), []string{"/aws/lambda/" + c.e.fn()})
		case p.InsightRule != nil:
			if !rules[p.InsightRule.RuleName] {
				c.t.Errorf("widget %q shows rule %q, want one of %v", p.Title, p.InsightRule.RuleName, keys(rules))
			}
		default:
			ms, err := w.Metrics()
			c.must(err, p.Title)
			for _, m := range ms {
				switch {
				case m.Search != nil:
					c.eq(p.Title+" search namespace", m.Search.Namespace, "Keygate")
				case m.Namespace == "AWS/Lambda":
					c.eq(p.Title+" function", m.Dimensions, map[string]string{"FunctionName": c.e.fn()})
				default:
					c.eq(p.Title+" namespace", m.Namespace, "Keygate")
				}
			}
		}
		if w.Type != "alarm" {
			c.eq(p.Title+" region", p.Region, region)
		}
	}
	c.eq("widgets by type", widgets, map[string]int{"alarm": 1, "log": 1, "metric": 8})
}

// insightRules reads both Contributor Insights rules back with
// DescribeInsightRules: enabled, valid, on the function's log group.
func (c *checker) insightRules() {
	out, err := aws_.cw.DescribeInsightRules(c.ctx, &cloudwatch.DescribeInsightRulesInput{})
	c.must(err, "DescribeInsightRules")
	byName := map[string]cwtypes.InsightRule{}
	for _, r := range out.InsightRules {
		byName[aws.ToString(r.Name)] = r
	}
	for logical, key := range map[string]string{"TopClientsRule": "$.client", "InvalidKeySourcesRule": "$.source_ip"} {
		suffix := map[string]string{"TopClientsRule": "-top-clients", "InvalidKeySourcesRule": "-invalid-key-sources"}[logical]
		name := c.e.fn() + suffix
		c.eq(logical+" physical ID", c.physical(logical), fmt.Sprintf("arn:aws:cloudwatch:%s:%s:insight-rule/%s", region, account, name))
		r, ok := byName[name]
		if !ok {
			c.t.Errorf("%s: no rule %s (DescribeInsightRules: %v)", logical, name, keys(byName))
			continue
		}
		c.eq(logical+" state", aws.ToString(r.State), "ENABLED")
		rule, err := insights.Parse(aws.ToString(r.Definition))
		if err != nil {
			c.t.Errorf("%s: %v", logical, err)
			continue
		}
		c.eq(logical+" log groups", rule.LogGroupNames, []string{"/aws/lambda/" + c.e.fn()})
		c.eq(logical+" keys", rule.Contribution.Keys, []string{key})
	}
}

// checkMonitoringDeleted: after sam delete, no alarm, dashboard, rule or
// topic of the stack is left.
func checkMonitoringDeleted(t testing.TB, stack string) {
	t.Helper()
	ctx := context.Background()
	prefix := stack + "-keygate-"
	alarms, err := aws_.cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNamePrefix: aws.String(prefix)})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range alarms.MetricAlarms {
		t.Errorf("alarm %s still exists", aws.ToString(a.AlarmName))
	}
	if _, err := aws_.cw.GetDashboard(ctx, &cloudwatch.GetDashboardInput{DashboardName: aws.String(stack + "-keygate")}); err == nil {
		t.Errorf("dashboard %s-keygate still exists", stack)
	}
	rules, err := aws_.cw.DescribeInsightRules(ctx, &cloudwatch.DescribeInsightRulesInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rules.InsightRules {
		if strings.HasPrefix(aws.ToString(r.Name), prefix) {
			t.Errorf("insight rule %s still exists", aws.ToString(r.Name))
		}
	}
	topics, err := aws_.sns.ListTopics(ctx, &sns.ListTopicsInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range topics.Topics {
		if strings.HasSuffix(aws.ToString(tp.TopicArn), ":"+prefix+"alarms") {
			t.Errorf("topic %s still exists", aws.ToString(tp.TopicArn))
		}
	}
}
