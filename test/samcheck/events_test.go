package samcheck

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	samples "github.com/keygate/keygate/events"
)

// Front doors, as events/<door>-<case>.json names them.
const (
	doorREST        = "rest"
	doorHTTPAPI     = "httpapi"
	doorFunctionURL = "functionurl"
	doorALB         = "alb"
)

// albMultiValue marks the ALB events of a target group with multi-value
// headers enabled: events/alb-multivalue-<case>.json.
const albMultiValue = "multivalue-"

// generateEvent is, per door, the `sam local generate-event` command whose
// output has the shape of that door's events. A Function URL sends the
// payload 2.0 shape of an HTTP API (SAM has no generator of its own for it).
var generateEvent = map[string][]string{
	doorREST:          {"apigateway", "aws-proxy"},
	doorHTTPAPI:       {"apigateway", "http-api-proxy"},
	doorFunctionURL:   {"apigateway", "http-api-proxy"},
	doorALB:           {"alb", "request"},
	"tokenauthorizer": {"apigateway", "authorizer"},
}

// lambdaGoEvent is, for the authorizer doors SAM's generator does not
// cover as API Gateway sends them (its request-authorizer event lacks the
// multi-value maps; it has none for HTTP APIs), the sample event of
// aws-lambda-go (the module the function decodes events with) that has
// their shape.
var lambdaGoEvent = map[string]string{
	"requestauthorizer": "apigw-custom-auth-request-type-request.json",
	"httpauthorizer":    "apigw-v2-custom-authorizer-v2-request.json",
}

// The top-level maps whose keys are request data (header names, query
// parameters), not part of the event's shape.
var dataMaps = []string{"headers", "multiValueHeaders", "queryStringParameters", "multiValueQueryStringParameters", "pathParameters", "stageVariables"}

// event is one file of events/.
type event struct {
	name, door string
	multiValue bool // ALB multi-value headers
	raw        []byte
	doc        map[string]any
}

func loadEvents(t *testing.T) []event {
	t.Helper()
	evs, err := samples.All()
	if err != nil {
		t.Fatal(err)
	}
	var out []event
	for _, e := range evs {
		ev := event{name: e.Name, door: e.Door, raw: e.Payload}
		ev.multiValue = ev.door == doorALB && strings.HasPrefix(ev.name, "alb-"+albMultiValue)
		if _, ok := generateEvent[ev.door]; !ok && lambdaGoEvent[ev.door] == "" {
			t.Fatalf("%s: the name does not start with a front door or an authorizer (rest-, httpapi-, functionurl-, alb-, tokenauthorizer-, requestauthorizer-, httpauthorizer-)", ev.name)
		}
		if err := json.Unmarshal(e.Payload, &ev.doc); err != nil {
			t.Fatalf("%s is not a JSON object: %v", ev.name, err)
		}
		out = append(out, ev)
	}
	return out
}

var (
	generatedMu sync.Mutex
	generated   = map[string]map[string]any{}
)

// reference is what `sam local generate-event` produces for ev's kind.
func reference(t *testing.T, ev event) map[string]any {
	t.Helper()
	generatedMu.Lock()
	defer generatedMu.Unlock()
	if file := lambdaGoEvent[ev.door]; file != "" {
		dir, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/aws/aws-lambda-go").Output()
		if err != nil {
			t.Fatalf("finding aws-lambda-go's module: %v", err)
		}
		b, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(dir)), "events", "testdata", file))
		var ref map[string]any
		if err != nil || json.Unmarshal(b, &ref) != nil {
			t.Fatalf("aws-lambda-go's sample %s: %v", file, err)
		}
		return ref
	}
	args := generateEvent[ev.door]
	key := strings.Join(args, " ")
	ref, ok := generated[key]
	if !ok {
		out := run(t, 2*time.Minute, nil, "sam", append([]string{"local", "generate-event"}, args...)...)
		// The generator may print notes around the event.
		start, end := strings.Index(out, "{"), strings.LastIndex(out, "}")
		if start < 0 || end < start || json.Unmarshal([]byte(out[start:end+1]), &ref) != nil {
			t.Fatalf("sam local generate-event %s printed no JSON event:\n%s", key, out)
		}
		generated[key] = ref
	}
	if ev.multiValue {
		// A target group with multi-value headers sends the multiValue*
		// maps in place of the single-value ones.
		mv := map[string]any{}
		for k, v := range ref {
			switch k {
			case "headers":
				mv["multiValueHeaders"] = v
			case "queryStringParameters":
				mv["multiValueQueryStringParameters"] = v
			default:
				mv[k] = v
			}
		}
		return mv
	}
	return ref
}

// Every event has the fields `sam local generate-event` produces for its
// kind, recursively, and no others; a null stands for a part the request
// does not have (as API Gateway sends it in payload 1.0).
func TestEventShapes(t *testing.T) {
	for _, ev := range loadEvents(t) {
		t.Run(ev.name, func(t *testing.T) {
			for _, p := range sameKeys("", reference(t, ev), ev.doc) {
				t.Error(p)
			}
		})
	}
}

func sameKeys(path string, ref, got any) []string {
	if got == nil || ref == nil {
		return nil
	}
	switch r := ref.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: an object in generate-event's output, %T here", path, got)}
		}
		if contains(dataMaps, strings.TrimPrefix(path, ".")) {
			return nil
		}
		var problems []string
		for _, k := range keys(r) {
			if _, ok := g[k]; !ok {
				problems = append(problems, fmt.Sprintf("%s.%s is missing", path, k))
				continue
			}
			problems = append(problems, sameKeys(path+"."+k, r[k], g[k])...)
		}
		for _, k := range keys(g) {
			if _, ok := r[k]; !ok {
				problems = append(problems, fmt.Sprintf("%s.%s is not in generate-event's output", path, k))
			}
		}
		return problems
	case []any:
		g, ok := got.([]any)
		if !ok {
			return []string{fmt.Sprintf("%s: a list in generate-event's output, %T here", path, got)}
		}
		var problems []string
		if len(r) > 0 {
			for i, x := range g {
				problems = append(problems, sameKeys(fmt.Sprintf("%s[%d]", path, i), r[0], x)...)
			}
		}
		return problems
	default:
		switch got.(type) {
		case map[string]any, []any:
			return []string{fmt.Sprintf("%s: a %T in generate-event's output, %T here", path, ref, got)}
		}
		return nil
	}
}
