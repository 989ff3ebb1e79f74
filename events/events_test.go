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
		default:
			t.Errorf("%s: outcome %q is not one the function logs", ev.Name, ev.Want.Outcome)
		}
		refused := ev.Want.Outcome != "authorized"
		if strings.HasSuffix(ev.Door, "authorizer") {
			if ev.Want.Status != 0 || ev.Want.Decision != map[bool]string{false: "allow", true: "deny"}[refused] {
				t.Errorf("%s: an authorizer event wants decision allow or deny as its outcome says, not %+v", ev.Name, ev.Want)
			}
		} else {
			switch ev.Want.Status {
			case 200, 401, 404, 405:
			default:
				t.Errorf("%s: status %d is not one the function gives a sample event", ev.Name, ev.Want.Status)
			}
			if ev.Want.Decision != "" || (ev.Want.Status == 401) != refused {
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

func TestEnvConfiguresRightKey(t *testing.T) {
	env, err := Env()
	if err != nil {
		t.Fatal(err)
	}
	if got := env["KeygateFunction"]["API_KEY"]; got != RightKey {
		t.Errorf("env.json sets API_KEY %q, want RightKey", got)
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
