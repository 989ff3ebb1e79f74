package keyadmin_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/internal/apikey"
	"github.com/keygate/keygate/internal/keyadmin"
	"github.com/keygate/keygate/internal/testsupport/logsfake"
)

// logGroup is the log group of fnName, the function the tests name.
const logGroup = "/aws/lambda/" + fnName

// usageSecret: alice and bob are used, carol only with her expired key,
// dave not at all.
var usageSecret = `{"api_keys":{"alice":"` + keyA + `","bob":{"sha256":"` + apikey.HashEntry(keyB, nil).SHA256 + `"},` +
	`"carol":{"key":"` + keyC + `","expires":"2001-01-01T00:00:00Z"},"dave":{"sha256":"` + apikey.HashEntry("kgAdminTestKeyDelta000000000000000000004", nil).SHA256 + `"}}}`

// served is a line the function writes for one request (docs/operating.md).
type served struct {
	ago             time.Duration
	msg             string // request or authorization
	outcome, client string
}

// usageLines: the last day and a half of the function's logs.
var usageLines = []served{
	{1 * time.Hour, "request", "authorized", "alice"},
	{2 * time.Hour, "request", "authorized", "alice"},
	{3 * time.Hour, "authorization", "authorized", "alice"},
	{4 * time.Hour, "request", "forbidden", "alice"},
	{5 * time.Hour, "request", "authorized", "bob"},
	{6 * time.Hour, "authorization", "authorized", "bob"},
	{7 * time.Hour, "request", "expired", "carol"},
	{8 * time.Hour, "request", "authorized", "erin"}, // since revoked
	{9 * time.Hour, "request", "authorized", "erin"},
	{10 * time.Hour, "request", "invalid", ""},
	{11 * time.Hour, "request", "invalid", ""},
	{12 * time.Hour, "authorization", "missing", ""},
	{13 * time.Hour, "request", "unavailable", ""},
	{30 * time.Hour, "request", "authorized", "alice"}, // only with --since 48h
	{31 * time.Hour, "request", "authorized", "dave"},
	{31 * time.Hour, "request", "invalid", ""},
	{50 * time.Hour, "request", "authorized", "dave"}, // never
}

// withLogs gives the tool a function whose log group holds lines, and
// other lines the queries must not count.
func (tl *tool) withLogs(lines []served) *tool {
	tl.env["KEYGATE_FUNCTION"] = fnName
	tl.logs.CreateGroup(logGroup)
	for _, l := range lines {
		rec := map[string]any{"time": now.Add(-l.ago).Format(time.RFC3339Nano), "level": "INFO", "msg": l.msg, "request_id": "r-1", "outcome": l.outcome}
		if l.client != "" {
			rec["client"] = l.client
		}
		tl.logs.AddRecord(logGroup, now.Add(-l.ago), rec)
	}
	tl.logs.AddRecord(logGroup, now.Add(-time.Hour), map[string]any{"level": "INFO", "msg": "key set loaded", "trigger": "init", "keys": 4})
	tl.logs.AddRecord(logGroup, now.Add(-time.Hour), map[string]any{"level": "WARN", "msg": "bad event", "kind": "unknown", "status": 400})
	tl.logs.Add(logGroup, now.Add(-time.Hour), "REPORT RequestId: r-1 Duration: 1.2 ms")
	tl.logs.AddRecord("/aws/lambda/another", now.Add(-time.Hour), map[string]any{"msg": "request", "outcome": "authorized", "client": "alice"})
	return tl
}

// inWindow counts, by client ("" for none) and outcome, the lines of
// usageLines within since.
func inWindow(since time.Duration) map[string]map[string]int64 {
	out := map[string]map[string]int64{}
	for _, l := range usageLines {
		if l.ago > since {
			continue
		}
		if out[l.client] == nil {
			out[l.client] = map[string]int64{}
		}
		out[l.client][l.outcome]++
	}
	return out
}

func TestKeysUsage(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		since  time.Duration
		unseen []string // in the secret, no request in the window
	}{
		{"default day", nil, 24 * time.Hour, []string{"dave"}},
		{"two days", []string{"--since", "48h"}, 48 * time.Hour, nil},
		{"function flag", []string{"--function", fnName, "--since", "2h"}, 2 * time.Hour, []string{"bob", "carol", "dave"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tl := newTool(t, usageSecret).withLogs(usageLines)
			if strings.Contains(tt.name, "flag") {
				delete(tl.env, "KEYGATE_FUNCTION")
			}
			want := inWindow(tt.since)

			r := tl.run(t, append([]string{"keys", "usage", "--json"}, tt.args...)...)
			wantCode(t, r, keyadmin.ExitOK)
			checkQuiet(t, r, "", usageSecret)
			var u keyadmin.KeyUsage
			if err := json.Unmarshal([]byte(r.stdout), &u); err != nil {
				t.Fatalf("--json: %v\n%s", err, r.stdout)
			}
			// --since is the query's time range, on the function's group.
			for _, q := range tl.logs.Queries() {
				if q.LogGroup != logGroup || !q.End.Equal(now) || !q.Start.Equal(now.Add(-tt.since)) {
					t.Errorf("query over %s from %s to %s, want %s over the %s before %s", q.LogGroup, q.Start, q.End, logGroup, tt.since, now)
				}
			}
			if n := len(tl.logs.Queries()); n != 2 {
				t.Errorf("%d queries, want 2 (by client, and without one)", n)
			}
			if !u.Logs.From.Equal(now.Add(-tt.since)) || !u.Logs.To.Equal(now) || u.Logs.Function != fnName || u.Logs.LogGroup != logGroup {
				t.Errorf("logs %+v", u.Logs)
			}

			// Every request line in the window is counted once.
			var total, lines int64
			for _, c := range u.Clients {
				var sum int64
				for o, n := range c.Outcomes {
					if want[c.Name][o] != n {
						t.Errorf("%s %s: %d, want %d", c.Name, o, n, want[c.Name][o])
					}
					sum += n
				}
				if sum != c.Requests {
					t.Errorf("%s: outcomes add up to %d, requests %d", c.Name, sum, c.Requests)
				}
				total += c.Requests
			}
			for o, n := range u.WithoutClient.Outcomes {
				if want[""][o] != n {
					t.Errorf("without a client, %s: %d, want %d", o, n, want[""][o])
				}
			}
			total += u.WithoutClient.Requests
			for _, byOutcome := range want {
				for _, n := range byOutcome {
					lines += n
				}
			}
			if total != lines {
				t.Errorf("counted %d requests, the window holds %d request lines", total, lines)
			}

			// The secret's entries in order, then those only in the logs.
			var names, unseen []string
			for _, c := range u.Clients {
				names = append(names, c.Name)
				if c.InSecret != (c.Name != "erin") {
					t.Errorf("%s: in_secret %v", c.Name, c.InSecret)
				}
				if c.InSecret && c.Requests == 0 {
					unseen = append(unseen, c.Name)
					if c.LastSeen != nil {
						t.Errorf("%s: last seen %v with no request", c.Name, c.LastSeen)
					}
				}
			}
			wantNames := "alice bob carol dave"
			if want["erin"] != nil {
				wantNames += " erin"
			}
			if strings.Join(names, " ") != wantNames || strings.Join(unseen, " ") != strings.Join(tt.unseen, " ") {
				t.Errorf("clients %v, unseen %v; want %s, unseen %v", names, unseen, wantNames, tt.unseen)
			}
			if a := u.Clients[0]; a.LastSeen == nil || !a.LastSeen.Equal(now.Add(-time.Hour)) {
				t.Errorf("alice last seen %v, want %s", a.LastSeen, now.Add(-time.Hour))
			}

			// The table says the same.
			r = tl.run(t, append([]string{"keys", "usage"}, tt.args...)...)
			wantCode(t, r, keyadmin.ExitOK, logGroup, stamp(now.Add(-tt.since)))
			checkQuiet(t, r, "", usageSecret)
			rows := tableRows(r.stdout)
			if h := rows["CLIENT"]; strings.Join(h, " ") != "REQUESTS AUTHORIZED EXPIRED FORBIDDEN LAST SEEN NOTE" {
				t.Errorf("header %v", h)
			}
			for _, n := range tt.unseen {
				if row := strings.Join(rows[n], " "); !strings.HasSuffix(row, "- not seen since "+stamp(now.Add(-tt.since))) {
					t.Errorf("%s: %q", n, row)
				}
			}
			if want["erin"] != nil && !strings.HasSuffix(strings.Join(rows["erin"], " "), "not in the secret (revoked or renamed)") {
				t.Errorf("erin: %v", rows["erin"])
			}
			if got := strings.Join(rows["alice"], " "); !strings.HasPrefix(got, itoa(u.Clients[0].Requests)+" "+itoa(want["alice"]["authorized"])+" 0 "+itoa(want["alice"]["forbidden"])+" "+stamp(now.Add(-time.Hour))) {
				t.Errorf("alice: %q", got)
			}
			if got := strings.Join(rows["invalid"], " "); got != itoa(want[""]["invalid"]) {
				t.Errorf("invalid: %q, want %d", got, want[""]["invalid"])
			}
			if len(tt.unseen) > 0 && !strings.Contains(r.stderr, "LogRetentionDays") {
				t.Errorf("no word on the logs' reach before revoking:\n%s", r.stderr)
			}
		})
	}
}

// tableRows maps each line of a table to its fields after the first.
func tableRows(out string) map[string][]string {
	rows := map[string][]string{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) > 0 {
			rows[f[0]] = f[1:]
		}
	}
	return rows
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestKeysListLastSeen(t *testing.T) {
	t.Run("with a function", func(t *testing.T) {
		tl := newTool(t, usageSecret).withLogs(usageLines)
		r := tl.run(t, "keys", "list")
		wantCode(t, r, keyadmin.ExitOK, "LAST SEEN: the last request", logGroup, `"erin"`)
		checkQuiet(t, r, "", usageSecret)
		rows := tableRows(r.stdout)
		if h := rows["NAME"]; h[len(h)-2]+" "+h[len(h)-1] != "LAST SEEN" {
			t.Errorf("header %v", h)
		}
		for name, want := range map[string]string{"alice": stamp(now.Add(-time.Hour)), "bob": stamp(now.Add(-5 * time.Hour)), "carol": stamp(now.Add(-7 * time.Hour)), "dave": "-"} {
			if got := rows[name][len(rows[name])-1]; got != want {
				t.Errorf("%s: last seen %q, want %q", name, got, want)
			}
		}
		if q := tl.logs.Queries(); len(q) != 1 || !q[0].Start.Equal(now.Add(-24*time.Hour)) {
			t.Errorf("queries %+v, want one over the last 24h", q)
		}

		r = tl.run(t, "keys", "list", "--json", "--since", "48h")
		wantCode(t, r, keyadmin.ExitOK)
		var l keyadmin.Listing
		if err := json.Unmarshal([]byte(r.stdout), &l); err != nil {
			t.Fatal(err)
		}
		if l.Logs == nil || !l.Logs.From.Equal(now.Add(-48*time.Hour)) || l.LogsError != "" {
			t.Fatalf("logs %+v, error %q", l.Logs, l.LogsError)
		}
		for _, e := range l.Entries {
			if e.Name == "dave" && (e.LastSeen == nil || !e.LastSeen.Equal(now.Add(-31*time.Hour))) {
				t.Errorf("dave over 48h: %v", e.LastSeen)
			}
		}
	})
	t.Run("without a function", func(t *testing.T) {
		tl := newTool(t, usageSecret).withLogs(usageLines)
		delete(tl.env, "KEYGATE_FUNCTION")
		r := tl.run(t, "keys", "list")
		wantCode(t, r, keyadmin.ExitOK, "For LAST SEEN", "--function")
		if strings.Contains(r.stdout, "LAST SEEN") || tl.logsBuilt != 0 || tl.logs.Calls("StartQuery") != 0 {
			t.Errorf("list without a function read the logs (%d clients):\n%s", tl.logsBuilt, r.stdout)
		}
		r = tl.run(t, "keys", "list", "--json")
		if strings.Contains(r.stdout, "last_seen") || strings.Contains(r.stdout, `"logs"`) || tl.logsBuilt != 0 {
			t.Errorf("--json: %s", r.stdout)
		}
		r = tl.run(t, "keys", "list", "--since", "48h")
		wantCode(t, r, keyadmin.ExitUsage, "--since and --wait go with --function")
	})
}

// Every failure says what to do. usage fails; list lists the keys all the
// same, LAST SEEN unknown, and says why.
func TestLogsFailures(t *testing.T) {
	tests := []struct {
		name  string
		setup func(*tool)
		args  []string
		has   []string
	}{
		{"StartQuery denied", func(tl *tool) { tl.logs.Fail("StartQuery", logsfake.AccessDeniedFault) }, nil,
			[]string{"logs:StartQuery on log group " + logGroup + " was denied", "logs:GetQueryResults", "OperatorPolicyArn"}},
		{"GetQueryResults denied", func(tl *tool) { tl.logs.Fail("GetQueryResults", logsfake.AccessDeniedFault) }, nil,
			[]string{"logs:GetQueryResults on log group " + logGroup + " was denied", "OperatorPolicyArn", "aws logs stop-query --region us-east-1 --query-id logsfake-query-"}},
		{"no such log group", func(tl *tool) { tl.env["KEYGATE_FUNCTION"] = "keygate-other" }, nil,
			[]string{"log group /aws/lambda/keygate-other was not found in us-east-1", "--function", "FunctionName", "region"}},
		{"stays running", func(tl *tool) { tl.logs.Hold(true) }, []string{"--wait", "300ms"},
			[]string{"did not complete within --wait 300ms", "longer --wait", "shorter --since", "aws logs stop-query --region us-east-1 --query-id logsfake-query-"}},
		{"times out in Logs Insights", func(tl *tool) { tl.logs.EndWith("Timeout") }, nil,
			[]string{"ended Timeout", "shorter --since"}},
		{"past the retention", func(tl *tool) {
			tl.logs.Fail("StartQuery", logsfake.Fault{Code: "MalformedQueryException", Message: "end date and time is either before the log groups creation time or exceeds the log groups log retention settings"})
		}, []string{"--since", "8760h"}, []string{"LogRetentionDays", "shorter --since"}},
		{"too many queries", func(tl *tool) { tl.logs.Fail("StartQuery", logsfake.LimitFault) }, nil,
			[]string{"too many Logs Insights queries", "retry"}},
		{"throttled", func(tl *tool) { tl.logs.Fail("GetQueryResults", logsfake.ThrottlingFault) }, nil,
			[]string{"throttled", "retry"}},
	}
	for _, tt := range tests {
		for _, sub := range []string{"usage", "list"} {
			t.Run(sub+"/"+tt.name, func(t *testing.T) {
				tl := newTool(t, usageSecret).withLogs(usageLines)
				tt.setup(tl)
				r := tl.run(t, append([]string{"keys", sub}, tt.args...)...)
				checkQuiet(t, r, "", usageSecret)
				if sub == "usage" {
					wantCode(t, r, keyadmin.ExitError, tt.has...)
					if r.stdout != "" {
						t.Errorf("a failed usage printed %q", r.stdout)
					}
					return
				}
				wantCode(t, r, keyadmin.ExitOK, append([]string{"warning: when each key was last seen is unknown", "listed all the same"}, tt.has...)...)
				rows := tableRows(r.stdout)
				for _, n := range []string{"alice", "bob", "carol", "dave"} {
					if got := rows[n]; len(got) == 0 || got[len(got)-1] != "?" {
						t.Errorf("%s: %v, want LAST SEEN ?", n, got)
					}
				}
				r = tl.run(t, append([]string{"keys", "list", "--json"}, tt.args...)...)
				var l keyadmin.Listing
				if err := json.Unmarshal([]byte(r.stdout), &l); err != nil || len(l.Entries) != 4 || !strings.Contains(l.LogsError, tt.has[0]) {
					t.Errorf("--json: %v, logs_error %q", err, l.LogsError)
				}
			})
		}
	}
}

// Lines keygate did not write (another writer in the log group) are
// counted, never shown: a client that is not a client name, an outcome
// that is not an outcome.
func TestKeysUsageOddLines(t *testing.T) {
	tl := newTool(t, usageSecret).withLogs([]served{
		{time.Hour, "request", "authorized", keyA + " x"},
		{time.Hour, "request", "<b>authorized</b>", "alice"},
		{time.Hour, "request", "invalid " + keyB, ""},
	})
	r := tl.run(t, "keys", "usage")
	wantCode(t, r, keyadmin.ExitOK, "warning: 1 requests", "not a valid client name")
	checkQuiet(t, r, "", usageSecret)
	for _, bad := range []string{"<b>", " x", "invalid kg"} {
		if strings.Contains(r.stdout+r.stderr, bad) {
			t.Errorf("output shows %q:\n%s%s", bad, r.stdout, r.stderr)
		}
	}
	if got := strings.Join(tableRows(r.stdout)["alice"], " "); !strings.HasPrefix(got, "1 0 0 0 1 ") {
		t.Errorf("alice: %q, want 1 request, under OTHER", got)
	}
	if got := strings.Join(tableRows(r.stdout)["other"], " "); got != "1" {
		t.Errorf("without a client, other: %q", got)
	}
}

// Interrupted (Ctrl-C) while Logs Insights runs: it says so, and how to
// stop the queries it leaves running.
func TestKeysUsageInterrupted(t *testing.T) {
	tl := newTool(t, usageSecret).withLogs(usageLines)
	tl.logs.Hold(true)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	tl.ctx = ctx
	r := tl.run(t, "keys", "usage")
	wantCode(t, r, keyadmin.ExitError, "was interrupted", "aws logs stop-query --region us-east-1 --query-id logsfake-query-0001 and aws logs stop-query --region us-east-1 --query-id logsfake-query-0002")
}

func TestKeysUsageRefused(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		code int
		has  string
	}{
		{"no function", nil, nil, keyadmin.ExitUsage, "pass --function NAME_OR_ARN"},
		{"no since", []string{"--function", fnName, "--since", "0s"}, nil, keyadmin.ExitUsage, "--since must be a positive duration"},
		{"bad since", []string{"--function", fnName, "--since", "a week"}, nil, keyadmin.ExitUsage, "since"},
		{"no wait", []string{"--function", fnName, "--wait", "-1s"}, nil, keyadmin.ExitUsage, "--wait must be a positive duration"},
		{"a name", []string{"alice", "--function", fnName}, nil, keyadmin.ExitUsage, `unexpected argument "alice"`},
		{"no secret", []string{"--function", fnName}, map[string]string{"API_KEY_SECRET_ID": "keygate/missing"}, keyadmin.ExitError, "was not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tl := newTool(t, usageSecret).withLogs(usageLines)
			delete(tl.env, "KEYGATE_FUNCTION")
			for k, v := range tt.env {
				tl.env[k] = v
			}
			r := tl.run(t, append([]string{"keys", "usage"}, tt.args...)...)
			wantCode(t, r, tt.code, tt.has)
			if tl.logs.Calls("StartQuery") != 0 {
				t.Error("a refused usage queried the logs")
			}
		})
	}
}

// The log group is the function's own, whatever form names the function.
func TestLogGroup(t *testing.T) {
	for fn, want := range map[string]string{
		"keygate-keygate":         "/aws/lambda/keygate-keygate",
		" keygate-keygate ":       "/aws/lambda/keygate-keygate",
		"keygate-keygate:live":    "/aws/lambda/keygate-keygate",
		"123456789012:function:f": "/aws/lambda/f",
		"arn:aws:lambda:eu-west-1:123456789012:function:keygate-keygate":   "/aws/lambda/keygate-keygate",
		"arn:aws:lambda:eu-west-1:123456789012:function:keygate-keygate:7": "/aws/lambda/keygate-keygate",
	} {
		if got := keyadmin.LogGroup(fn); got != want {
			t.Errorf("LogGroup(%q) = %q, want %q", fn, got, want)
		}
	}
}
