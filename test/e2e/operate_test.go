package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	samples "github.com/keygate/keygate/events"
	"github.com/keygate/keygate/internal/keyadmin"
	"github.com/keygate/keygate/internal/smapi"
	"github.com/keygate/keygate/internal/testsupport/logsfake"
	"github.com/keygate/keygate/internal/testsupport/smfake"
	"github.com/keygate/keygate/test/internal/insights"
	"github.com/keygate/keygate/test/internal/repo"
	"github.com/keygate/keygate/test/internal/wait"
)

// decisionLines sends every sample event through the real bootstrap under
// the emulator, configured by events/env.json (three clients), and returns
// the events and the request and authorization lines it wrote.
func decisionLines(t *testing.T) ([]samples.Event, []string) {
	t.Helper()
	evs, err := samples.All()
	if err != nil {
		t.Fatal(err)
	}
	f := startFunction(t, envFile(t)...)
	for _, ev := range evs {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err := f.Invoke(ctx, ev.Payload)
		cancel()
		if err != nil {
			t.Fatalf("%s: %v", ev.Name, err)
		}
	}
	var lines []string
	wait.Until(t, 10*time.Second, "decision lines", func() (bool, string) {
		lines = nil
		for _, line := range strings.Split(f.Logs(), "\n") {
			var rec struct{ Msg string }
			if json.Unmarshal([]byte(line), &rec) == nil && (rec.Msg == "request" || rec.Msg == "authorization") {
				lines = append(lines, line)
			}
		}
		return len(lines) == len(evs), fmt.Sprintf("%d of %d", len(lines), len(evs))
	})
	return evs, lines
}

// matched reports whether a key of the event named a client (its line
// carries the client).
func matched(w samples.Want) bool {
	return w.Outcome == "authorized" || w.Outcome == "forbidden" || w.Outcome == "expired"
}

// `keygate keys usage` on the lines the bootstrap wrote for every sample
// event: each client's requests by outcome, and the requests without a
// client, add up to exactly what was sent (events/expected.json). The logs
// service is logsfake, which evaluates keygate's Logs Insights query:
// moto's and LocalStack's Logs Insights parse fields, sort and limit only,
// and would answer the query's filter and stats with raw lines.
func TestKeysUsageOnTheBootstrapsLines(t *testing.T) {
	evs, lines := decisionLines(t)
	const fn = "keygate-e2e"
	logs := logsfake.Start(t)
	for _, line := range lines {
		logs.Add("/aws/lambda/"+fn, time.Now().Add(-time.Minute), line)
	}
	env, err := samples.Env()
	if err != nil {
		t.Fatal(err)
	}
	sm := smfake.Start(t)
	sm.Put("keygate/e2e", env["KeygateFunction"]["API_KEY"])

	var stdout, stderr bytes.Buffer
	code := keyadmin.Run(context.Background(), []string{"keys", "usage", "--function", fn, "--json"}, keyadmin.Env{
		Stdout: &stdout, Stderr: &stderr,
		Getenv: func(k string) string { return map[string]string{"API_KEY_SECRET_ID": "keygate/e2e"}[k] },
		NewClient: func(context.Context, string) (smapi.Client, string, error) {
			return sm.Client(), sm.Region, nil
		},
		NewLogs: func(context.Context, string) (keyadmin.LogsClient, error) { return logs.Client(), nil },
	})
	if code != keyadmin.ExitOK {
		t.Fatalf("keys usage: exit %d\n%s", code, stderr.String())
	}
	var u keyadmin.KeyUsage
	if err := json.Unmarshal(stdout.Bytes(), &u); err != nil {
		t.Fatalf("keys usage --json: %v\n%s", err, stdout.String())
	}

	want := map[string]map[string]int64{}
	for _, ev := range evs {
		who := "(no client)"
		if matched(ev.Want) {
			who = ev.Want.ClientName()
		}
		if want[who] == nil {
			want[who] = map[string]int64{}
		}
		want[who][ev.Want.Outcome]++
	}
	got := map[string]map[string]int64{"(no client)": u.WithoutClient.Outcomes}
	for _, c := range u.Clients {
		if !c.InSecret {
			t.Errorf("client %q is in the logs but not in the secret", c.Name)
		}
		if c.Requests > 0 {
			got[c.Name] = c.Outcomes
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("keys usage counts\n  %v\nwant (%d events)\n  %v", got, len(evs), want)
	}
}

// ruleBody is a Contributor Insights rule of template.yaml, with the
// function's log group for the stack "keygate".
func ruleBody(t *testing.T, logical string) *insights.Rule {
	t.Helper()
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// CloudFormation's tags (!Sub, !Ref …) are kept as they are: the rule
	// body is a !Sub of one string.
	var doc struct {
		Resources map[string]struct {
			Properties struct {
				RuleBody yaml.Node `yaml:"RuleBody"`
			} `yaml:"Properties"`
		} `yaml:"Resources"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("template.yaml: %v", err)
	}
	n := doc.Resources[logical].Properties.RuleBody
	if n.Tag != "!Sub" || n.Kind != yaml.ScalarNode {
		t.Fatalf("%s's RuleBody is %s %q, want a !Sub of one string", logical, n.Tag, n.Value)
	}
	body := strings.NewReplacer("${KeygateFunctionLogGroup}", "/aws/lambda/keygate-keygate", "${AWS::StackName}", "keygate").Replace(n.Value)
	if strings.Contains(body, "${") {
		t.Fatalf("%s's RuleBody has a substitution this test does not make:\n%s", logical, body)
	}
	r, err := insights.Parse(body)
	if err != nil {
		t.Fatalf("%s: %v", logical, err)
	}
	return r
}

// sourceOf is the caller's address an event carries, read here from the
// event as each door defines it (not by keygate's code): the REST API's
// requestContext.identity.sourceIp, payload 2.0's requestContext.http
// .sourceIp, the last X-Forwarded-For address of an ALB's. "" for none (a
// TOKEN authorizer's event carries none).
func sourceOf(t *testing.T, ev samples.Event) string {
	t.Helper()
	var e struct {
		RequestContext struct {
			Identity struct{ SourceIP string } `json:"identity"`
			HTTP     struct{ SourceIP string } `json:"http"`
			ELB      *struct{}                 `json:"elb"`
		} `json:"requestContext"`
		Headers      map[string]string   `json:"headers"`
		MultiHeaders map[string][]string `json:"multiValueHeaders"`
	}
	json.Unmarshal(ev.Payload, &e)
	switch {
	case e.RequestContext.ELB != nil:
		xff := e.Headers["x-forwarded-for"]
		if v := e.MultiHeaders["x-forwarded-for"]; len(v) > 0 {
			xff = v[len(v)-1]
		}
		parts := strings.Split(xff, ",")
		return strings.TrimSpace(parts[len(parts)-1])
	case e.RequestContext.HTTP.SourceIP != "":
		return e.RequestContext.HTTP.SourceIP
	}
	return e.RequestContext.Identity.SourceIP
}

// The stack's two Contributor Insights rules on the lines the bootstrap
// wrote for every sample event: top clients ranks each client by exactly
// the requests its keys made (events/expected.json), and the sources of
// invalid keys rank each address by the invalid keys sent from it.
func TestInsightRulesOnTheBootstrapsLines(t *testing.T) {
	evs, lines := decisionLines(t)
	clients, sources := map[string]float64{}, map[string]float64{}
	for _, ev := range evs {
		if matched(ev.Want) {
			clients[ev.Want.ClientName()]++
		}
		if ev.Want.Outcome == "invalid" {
			// An address that is not one (a hand-edited event) is none.
			if src, err := netip.ParseAddr(sourceOf(t, ev)); err == nil {
				sources[src.String()]++
			}
		}
	}
	for _, tc := range []struct {
		rule string
		want map[string]float64
	}{{"TopClientsRule", clients}, {"InvalidKeySourcesRule", sources}} {
		rep, err := ruleBody(t, tc.rule).Evaluate(lines)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]float64{}
		for _, c := range rep.Contributors {
			got[strings.Join(c.Keys, ",")] = c.Value
		}
		if len(tc.want) == 0 || !maps.Equal(got, tc.want) {
			t.Errorf("%s ranks %v, want %v (from %d events)", tc.rule, rep.Top(len(rep.Contributors)), tc.want, len(evs))
		}
	}
}
