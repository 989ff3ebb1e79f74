package logsfake_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"

	"github.com/keygate/keygate/internal/testsupport/logsfake"
)

const group = "/aws/lambda/keygate-fn"

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

const byClient = `filter msg in ["request", "authorization"] and ispresent(client)
| stats count(*) as requests, max(@timestamp) as last_seen by client, outcome`

const withoutClient = `filter msg in ["request","authorization"] and not ispresent(client) | stats count(*) as requests by outcome`

// seed writes the lines of a small day: two clients, requests without
// one, a line of another kind, and lines outside the window.
func seed(s *logsfake.Server) {
	rec := func(at time.Duration, msg, outcome, client string) {
		r := map[string]any{"level": "INFO", "msg": msg, "outcome": outcome, "request_id": "r"}
		if client != "" {
			r["client"] = client
		}
		s.AddRecord(group, t0.Add(at), r)
	}
	rec(time.Minute, "request", "authorized", "alice")
	rec(2*time.Minute, "authorization", "authorized", "alice")
	rec(3*time.Minute, "request", "forbidden", "alice")
	rec(4*time.Minute, "request", "authorized", "bob")
	rec(5*time.Minute, "request", "missing", "")
	rec(6*time.Minute, "request", "invalid", "")
	rec(7*time.Minute, "request", "invalid", "")
	rec(8*time.Minute, "key set loaded", "", "alice") // not a request line
	s.Add(group, t0.Add(9*time.Minute), "START RequestId: r Version: $LATEST")
	rec(-time.Hour, "request", "authorized", "alice") // before the window
	rec(25*time.Hour, "request", "authorized", "bob") // after it
}

func run(t *testing.T, c *cloudwatchlogs.Client, q string) ([]map[string]string, *cloudwatchlogs.GetQueryResultsOutput) {
	t.Helper()
	ctx := context.Background()
	out, err := c.StartQuery(ctx, &cloudwatchlogs.StartQueryInput{
		LogGroupName: aws.String(group), QueryString: aws.String(q),
		StartTime: aws.Int64(t0.Unix()), EndTime: aws.Int64(t0.Add(24 * time.Hour).Unix()),
	})
	if err != nil {
		t.Fatalf("StartQuery: %v", err)
	}
	res, err := c.GetQueryResults(ctx, &cloudwatchlogs.GetQueryResultsInput{QueryId: out.QueryId})
	if err != nil {
		t.Fatalf("GetQueryResults: %v", err)
	}
	var rows []map[string]string
	for _, r := range res.Results {
		m := map[string]string{}
		for _, f := range r {
			m[aws.ToString(f.Field)] = aws.ToString(f.Value)
		}
		rows = append(rows, m)
	}
	return rows, res
}

func TestQueries(t *testing.T) {
	ms := func(d time.Duration) string { return strconv.FormatInt(t0.Add(d).UnixMilli(), 10) }
	tests := []struct {
		name  string
		query string
		want  []map[string]string
	}{
		{"by client and outcome", byClient, []map[string]string{
			{"client": "alice", "outcome": "authorized", "requests": "2", "last_seen": ms(2 * time.Minute)},
			{"client": "alice", "outcome": "forbidden", "requests": "1", "last_seen": ms(3 * time.Minute)},
			{"client": "bob", "outcome": "authorized", "requests": "1", "last_seen": ms(4 * time.Minute)},
		}},
		{"without a client", withoutClient, []map[string]string{
			{"outcome": "invalid", "requests": "2"},
			{"outcome": "missing", "requests": "1"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := logsfake.Start(t)
			seed(s)
			rows, res := run(t, s.Client(), tt.query)
			if res.Status != types.QueryStatusComplete {
				t.Fatalf("status %s", res.Status)
			}
			if len(rows) != len(tt.want) {
				t.Fatalf("rows %v, want %v", rows, tt.want)
			}
			for i, w := range tt.want {
				for k, v := range w {
					if rows[i][k] != v {
						t.Errorf("row %d: %s = %q, want %q (%v)", i, k, rows[i][k], v, rows[i])
					}
				}
			}
			// 11 lines, 2 of them outside the window.
			if res.Statistics == nil || res.Statistics.RecordsScanned != 9 {
				t.Errorf("statistics %+v", res.Statistics)
			}
			q := s.Queries()
			if len(q) != 1 || !q[0].Start.Equal(t0) || !q[0].End.Equal(t0.Add(24*time.Hour)) || q[0].LogGroup != group {
				t.Errorf("recorded %+v", q)
			}
		})
	}
}

// The fake refuses what it cannot evaluate, rather than answer it with
// numbers it made up.
func TestRefusesQueriesItDoesNotUnderstand(t *testing.T) {
	for _, q := range []string{
		"fields @timestamp, @message | sort @timestamp desc | limit 20",
		`filter msg = "request" | stats count(*) as n by client`,
		`filter msg in ["request"] | stats avg(duration_ms) as d by client`,
		`filter msg in ["request"] or ispresent(client) | stats count(*) as n by client`,
		`filter msg in ["request"] | stats count(*) as n by client | sort n desc`,
		`filter msg in ["request"] | stats count(*) by client`,
		`filter not msg in ["request"] | stats count(*) as n by client`,
		`stats count(*) as n by client`,
	} {
		t.Run(q, func(t *testing.T) {
			s := logsfake.Start(t)
			seed(s)
			_, err := s.Client().StartQuery(context.Background(), &cloudwatchlogs.StartQueryInput{
				LogGroupName: aws.String(group), QueryString: aws.String(q),
				StartTime: aws.Int64(t0.Unix()), EndTime: aws.Int64(t0.Add(time.Hour).Unix()),
			})
			var mq *types.MalformedQueryException
			if !errors.As(err, &mq) {
				t.Fatalf("err %v, want MalformedQueryException", err)
			}
		})
	}
}

func TestFailures(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(*logsfake.Server)
		group  string
		status types.QueryStatus // with no error
		err    any               // a pointer to the SDK error type wanted
	}{
		{"no such log group", nil, "/aws/lambda/other", "", new(*types.ResourceNotFoundException)},
		{"access denied", func(s *logsfake.Server) { s.Fail("StartQuery", logsfake.AccessDeniedFault) }, group, "", new(*types.AccessDeniedException)},
		{"concurrency limit", func(s *logsfake.Server) { s.Fail("StartQuery", logsfake.LimitFault) }, group, "", new(*types.LimitExceededException)},
		{"results denied", func(s *logsfake.Server) { s.Fail("GetQueryResults", logsfake.AccessDeniedFault) }, group, "", new(*types.AccessDeniedException)},
		{"stays running", func(s *logsfake.Server) { s.Hold(true) }, group, types.QueryStatusRunning, nil},
		{"times out", func(s *logsfake.Server) { s.EndWith("Timeout") }, group, types.QueryStatusTimeout, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := logsfake.Start(t)
			seed(s)
			if tt.setup != nil {
				tt.setup(s)
			}
			c, ctx := s.Client(), context.Background()
			out, err := c.StartQuery(ctx, &cloudwatchlogs.StartQueryInput{
				LogGroupName: aws.String(tt.group), QueryString: aws.String(byClient),
				StartTime: aws.Int64(t0.Unix()), EndTime: aws.Int64(t0.Add(time.Hour).Unix()),
			})
			var res *cloudwatchlogs.GetQueryResultsOutput
			if err == nil {
				res, err = c.GetQueryResults(ctx, &cloudwatchlogs.GetQueryResultsInput{QueryId: out.QueryId})
			}
			if tt.err != nil {
				if err == nil || !errors.As(err, tt.err) {
					t.Fatalf("err %v, want %T", err, tt.err)
				}
				return
			}
			if err != nil || res.Status != tt.status || len(res.Results) != 0 {
				t.Fatalf("err %v, status %s, %d rows; want %s and no rows", err, res.Status, len(res.Results), tt.status)
			}
			s.Clear()
			if res, err = c.GetQueryResults(ctx, &cloudwatchlogs.GetQueryResultsInput{QueryId: out.QueryId}); err != nil || res.Status != types.QueryStatusComplete {
				t.Errorf("after Clear: %v, %v", err, res)
			}
		})
	}
}

func TestUnknownOperation(t *testing.T) {
	s := logsfake.Start(t)
	_, err := s.Client().DescribeLogGroups(context.Background(), &cloudwatchlogs.DescribeLogGroupsInput{})
	if err == nil || s.Calls("DescribeLogGroups") != 1 {
		t.Fatalf("DescribeLogGroups: %v", err)
	}
}
