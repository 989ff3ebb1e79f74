package events

import (
	"encoding/json"
	"strings"
	"testing"
	"testing/fstest"
)

func TestAll(t *testing.T) {
	evs, err := All()
	if err != nil {
		t.Fatal(err)
	}
	doors := map[string]int{}
	for _, ev := range evs {
		if !json.Valid(ev.Payload) {
			t.Errorf("%s is not JSON", ev.Name)
		}
		switch ev.Want.Outcome {
		case "authorized", "missing", "invalid", "ambiguous":
		case "forbidden":
			if ev.Want.Reason != "route" && ev.Want.Reason != "source" {
				t.Errorf("%s: a forbidden event wants reason route or source, not %q", ev.Name, ev.Want.Reason)
			}
		default:
			t.Errorf("%s: outcome %q is not one the function logs", ev.Name, ev.Want.Outcome)
		}
		if ev.Want.Reason != "" && ev.Want.Outcome != "forbidden" {
			t.Errorf("%s: a reason for outcome %s", ev.Name, ev.Want.Outcome)
		}
		refused := ev.Want.Outcome != "authorized"
		if strings.HasSuffix(ev.Door, "authorizer") {
			if ev.Want.Status != 0 || ev.Want.Decision != map[bool]string{false: "allow", true: "deny"}[refused] {
				t.Errorf("%s: an authorizer event wants decision allow or deny as its outcome says, not %+v", ev.Name, ev.Want)
			}
		} else {
			switch ev.Want.Status {
			case 200, 401, 403, 404, 405:
			default:
				t.Errorf("%s: status %d is not one the function gives a sample event", ev.Name, ev.Want.Status)
			}
			if ev.Want.Decision != "" || (ev.Want.Status == 401 || ev.Want.Status == 403) != refused || (ev.Want.Status == 403) != (ev.Want.Outcome == "forbidden") {
				t.Errorf("%s: %+v", ev.Name, ev.Want)
			}
		}
		doors[ev.Door]++
	}
	for _, door := range []string{"rest", "httpapi", "functionurl", "alb", "tokenauthorizer", "requestauthorizer", "httpauthorizer"} {
		if doors[door] == 0 {
			t.Errorf("no %s event", door)
		}
	}
	if len(doors) != 7 {
		t.Errorf("doors = %v, want the four front doors and the three authorizers only", doors)
	}
}

// env.json configures the three clients the events' keys belong to, with
// the rules the events test, in the api_keys format.
func TestEnvConfiguresTheKeys(t *testing.T) {
	env, err := Env()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Keys map[string]json.RawMessage `json:"api_keys"`
	}
	if err := json.Unmarshal([]byte(env["KeygateFunction"]["API_KEY"]), &doc); err != nil {
		t.Fatalf("env.json's API_KEY is not an api_keys document: %v", err)
	}
	want := map[string]string{
		"default":  `"` + RightKey + `"`,
		"readonly": `{"key":"` + ScopedKey + `","allow":["GET /","HEAD /"],"meta":{"tenant":"t-42","plan":"gold"},"usage":{"plan":"gold","key_id":"kgusage01","key":"` + UsageKey + `"}}`,
		"office":   `{"key":"` + SourcedKey + `","sources":["192.0.2.0/24","2001:db8::/32"]}`,
	}
	if len(doc.Keys) != len(want) {
		t.Errorf("env.json configures %d clients, want %d", len(doc.Keys), len(want))
	}
	for name, entry := range want {
		if got := string(doc.Keys[name]); got != entry {
			t.Errorf("env.json's %s = %s, want %s", name, got, entry)
		}
	}
}

func TestTableAndFilesAgree(t *testing.T) {
	ev := []byte(`{"httpMethod":"GET"}`)
	tests := []struct {
		name string
		dir  fstest.MapFS
		says string
	}{
		{"file without entry", fstest.MapFS{
			ExpectedFile:  {Data: []byte(`{}`)},
			"rest-x.json": {Data: ev},
		}, "rest-x.json has no entry"},
		{"entry without file", fstest.MapFS{
			ExpectedFile: {Data: []byte(`{"rest-gone.json":{"status":200,"outcome":"authorized"}}`)},
		}, "rest-gone.json, which is not in events/"},
		{"table not JSON", fstest.MapFS{ExpectedFile: {Data: []byte(`{`)}}, "expected.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(tt.dir)
			if err == nil || !strings.Contains(err.Error(), tt.says) {
				t.Errorf("load = %v, want an error saying %q", err, tt.says)
			}
		})
	}
}

func TestRequest(t *testing.T) {
	evs, err := All()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]Event{}
	for _, ev := range evs {
		byName[ev.Name] = ev
	}
	for _, tt := range []struct {
		name, method string
		multi        bool
	}{
		{"alb-multivalue-scoped-key-delete.json", "DELETE", true},
		{"alb-valid-key.json", "GET", false},
		{"httpapi-post-root.json", "POST", false},
		{"rest-scoped-key-post.json", "POST", true},
	} {
		m, multi, err := byName[tt.name].Request()
		if err != nil || m != tt.method || multi != tt.multi {
			t.Errorf("%s: %q %v %v, want %q %v", tt.name, m, multi, err, tt.method, tt.multi)
		}
	}
	if _, _, err := (Event{Name: "broken.json", Payload: []byte("{")}).Request(); err == nil || !strings.Contains(err.Error(), "broken.json") {
		t.Errorf("a payload that is not JSON: %v, want an error naming the event", err)
	}
}
