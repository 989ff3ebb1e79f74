package keyadmin

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/smithy-go"

	"github.com/keygate/keygate/internal/smapi"
)

// LogsClient is the part of the CloudWatch Logs API that `keys usage` and
// `keys list` use: a Logs Insights query of the function's log group. The
// SDK client satisfies it.
type LogsClient interface {
	StartQuery(ctx context.Context, in *cloudwatchlogs.StartQueryInput, optFns ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.StartQueryOutput, error)
	GetQueryResults(ctx context.Context, in *cloudwatchlogs.GetQueryResultsInput, optFns ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.GetQueryResultsOutput, error)
}

var _ LogsClient = (*cloudwatchlogs.Client)(nil)

// The queries, over the function's one JSON line per request ("request",
// or "authorization" in authorizer mode; docs/operating.md). client is
// there when a key matched an entry, whatever the outcome.
const (
	clientQuery = `filter msg in ["request", "authorization"] and ispresent(client)
| stats count(*) as requests, max(@timestamp) as last_seen by client, outcome`
	anonymousQuery = `filter msg in ["request", "authorization"] and not ispresent(client)
| stats count(*) as requests, max(@timestamp) as last_seen by outcome`
)

// maxRows is the most rows a query returns (StartQuery's limit, and what
// one GetQueryResults page holds): a row per client and outcome, so
// thousands of clients.
const maxRows = 10000

// DefaultSince and DefaultWait are the defaults of --since and --wait.
const (
	DefaultSince = 24 * time.Hour
	DefaultWait  = time.Minute
)

// LogGroup returns the log group of Lambda function fn (a name, an ARN or
// a partial ARN, with or without a version or alias): /aws/lambda/NAME,
// the group Lambda writes to unless the function's LoggingConfig names
// another, and the one the stack creates for it.
func LogGroup(fn string) string {
	name := strings.TrimSpace(fn)
	if _, after, ok := strings.Cut(name, ":function:"); ok {
		name = after
	}
	name, _, _ = strings.Cut(name, ":") // a version or alias
	return "/aws/lambda/" + name
}

// LogWindow is where and over what time the logs were read.
type LogWindow struct {
	Function string    `json:"function"`
	LogGroup string    `json:"log_group"`
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
	// Scanned is what Logs Insights read (and bills, by the byte).
	Scanned Scanned `json:"scanned"`
}

// Scanned is a query's statistics, summed over the queries run.
type Scanned struct {
	Records int64 `json:"records"`
	Bytes   int64 `json:"bytes"`
}

// insights runs Logs Insights queries over one log group and time range.
type insights struct {
	client LogsClient
	window *LogWindow
	region string
	// wait bounds the whole run, polls included.
	wait time.Duration
}

// newWindow is the log group of fn over the since before now.
func newWindow(fn string, now time.Time, since time.Duration) LogWindow {
	// StartQuery takes whole seconds, both ends inclusive.
	to := now.UTC().Truncate(time.Second)
	return LogWindow{Function: strings.TrimSpace(fn), LogGroup: LogGroup(fn), From: to.Add(-since), To: to}
}

func newInsights(lc LogsClient, w LogWindow, region string, wait time.Duration) *insights {
	return &insights{client: lc, region: region, wait: wait, window: &w}
}

// row is one result row: field name to value.
type row map[string]string

// run starts the queries together, then polls them until each is
// Complete, for at most q.wait, and returns their rows in order.
func (q *insights) run(ctx context.Context, queries ...string) ([][]row, error) {
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, q.wait)
	defer cancel()
	w := q.window
	ids := make([]string, 0, len(queries))
	for _, s := range queries {
		out, err := q.client.StartQuery(ctx, &cloudwatchlogs.StartQueryInput{
			LogGroupName: aws.String(w.LogGroup),
			StartTime:    aws.Int64(w.From.Unix()),
			EndTime:      aws.Int64(w.To.Unix()),
			QueryString:  aws.String(s),
			Limit:        aws.Int32(maxRows),
		})
		if err != nil && ctx.Err() != nil {
			return nil, q.unfinished(parent, ids)
		}
		if err != nil {
			return nil, q.explain("logs:StartQuery", err, ids)
		}
		ids = append(ids, aws.ToString(out.QueryId))
	}
	results := make([][]row, len(queries))
	pending := len(queries)
	// A query over a day of a small function's logs takes a second or
	// two, over weeks of a busy one up to minutes: poll often at first.
	delay := 100 * time.Millisecond
	for {
		for i, id := range ids {
			if results[i] != nil {
				continue
			}
			out, err := q.client.GetQueryResults(ctx, &cloudwatchlogs.GetQueryResultsInput{QueryId: aws.String(id)})
			if err != nil && ctx.Err() != nil {
				return nil, q.unfinished(parent, pendingIDs(ids, results))
			}
			if err != nil {
				return nil, q.explain("logs:GetQueryResults", err, pendingIDs(ids, results))
			}
			switch out.Status {
			case types.QueryStatusComplete:
				if len(out.Results) >= maxRows {
					return nil, fmt.Errorf("a Logs Insights query of log group %s returned %d rows, its limit, so its counts would be incomplete: shorten --since", w.LogGroup, len(out.Results))
				}
				results[i] = rowsOf(out.Results)
				if st := out.Statistics; st != nil {
					w.Scanned.Records += int64(st.RecordsScanned)
					w.Scanned.Bytes += int64(st.BytesScanned)
				}
				pending--
			case types.QueryStatusScheduled, types.QueryStatusRunning, "":
			default: // Failed, Cancelled, Timeout, Unknown
				results[i] = []row{} // not running any more
				return nil, fmt.Errorf("the Logs Insights query %s of log group %s over %s ended %s: a query runs at most 60 minutes (Timeout), and a Cancelled one was stopped by someone (aws logs stop-query); run the command again, with a shorter --since if it timed out.%s",
					id, w.LogGroup, q.span(), out.Status, q.stopHint(pendingIDs(ids, results)))
			}
		}
		if pending == 0 {
			return results, nil
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, q.unfinished(parent, pendingIDs(ids, results))
		case <-t.C:
		}
		delay = min(2*delay, 2*time.Second)
	}
}

// unfinished says why the run stopped before every query completed, and
// how to stop the queries still running: they go on in CloudWatch Logs
// (and scan, which is billed) until they finish, at most 60 minutes.
func (q *insights) unfinished(parent context.Context, running []string) error {
	why := fmt.Sprintf("did not complete within --wait %s: run the command again with a longer --wait, or a shorter --since", short(q.wait))
	if parent.Err() != nil {
		why = "was interrupted"
	}
	return fmt.Errorf("the Logs Insights query of log group %s over %s %s.%s", q.window.LogGroup, q.span(), why, q.stopHint(running))
}

// pendingIDs returns the IDs of the queries without results.
func pendingIDs(ids []string, results [][]row) []string {
	var out []string
	for i, id := range ids {
		if results[i] == nil {
			out = append(out, id)
		}
	}
	return out
}

// stopHint says how to stop the queries still running, with a leading
// space ("" for none).
func (q *insights) stopHint(running []string) string {
	if len(running) == 0 {
		return ""
	}
	region := ""
	if q.region != "" {
		region = " --region " + q.region
	}
	cmds := make([]string, len(running))
	for i, id := range running {
		cmds[i] = "aws logs stop-query" + region + " --query-id " + id
	}
	return " Queries still running in CloudWatch Logs go on until they finish (at most 60 minutes, billed by the data they scan); stop them with " + strings.Join(cmds, " and ")
}

func (q *insights) span() string {
	return fmt.Sprintf("%s (from %s to %s)", short(q.window.To.Sub(q.window.From)), stamp(q.window.From), stamp(q.window.To))
}

// explain turns an error of op into a message that names the cause and
// the fix; the SDK error stays wrapped for errors.As. running are the IDs
// of queries started and not finished.
func (q *insights) explain(op string, err error, running []string) error {
	w := q.window
	var hint string
	var api smithy.APIError
	code := ""
	if errors.As(err, &api) {
		code = api.ErrorCode()
	}
	msg := strings.ToLower(err.Error())
	switch {
	case code == "AccessDeniedException":
		hint = fmt.Sprintf("%s on log group %s was denied: your AWS identity needs logs:StartQuery and logs:GetQueryResults on that log group (arn:aws:logs:%s:ACCOUNT:log-group:%s); the stack's OperatorPolicyArn grants them (a stack deployed before keygate had keys usage lacks them: deploy it again)", op, w.LogGroup, q.regionOr("REGION"), w.LogGroup)
	case code == "ResourceNotFoundException" && op == "logs:StartQuery":
		hint = fmt.Sprintf("log group %s was not found in %s: check --function (or KEYGATE_FUNCTION: the stack's FunctionName output, whose own log group /aws/lambda/NAME this is) and the region (--region or AWS_REGION); a function that was never invoked has no log group unless its stack creates one", w.LogGroup, q.regionOr("the configured region"))
	case code == "ResourceNotFoundException":
		hint = fmt.Sprintf("the Logs Insights query of log group %s is gone (query results are kept 7 days): run the command again", w.LogGroup)
	case strings.Contains(msg, "retention") || strings.Contains(msg, "creation time"):
		hint = fmt.Sprintf("log group %s holds no events over %s: the time range lies before the log group was created or beyond its retention (the stack's LogRetentionDays; events older than that are deleted): use a shorter --since", w.LogGroup, q.span())
	case code == "LimitExceededException":
		hint = "CloudWatch Logs refused the query: too many Logs Insights queries are running in this account and region (dashboards' included): retry in a minute"
	case code == "MalformedQueryException" || code == "InvalidParameterException":
		hint = fmt.Sprintf("CloudWatch Logs rejected keygate's %s (a keygate bug: please report it with this message)", op)
	default:
		switch smapi.Diagnose(err) {
		case smapi.NoCredentials:
			hint = "no AWS credentials were found: sign in (aws sso login, aws configure), set AWS_PROFILE, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
		case smapi.BadCredentials:
			hint = "your AWS credentials were refused: sign in again (aws sso login) or check AWS_PROFILE"
		case smapi.Throttled:
			hint = fmt.Sprintf("%s was throttled: retry in a moment", op)
		case smapi.Untrusted:
			hint = fmt.Sprintf("%s failed: the endpoint's certificate is not trusted (a TLS-inspecting proxy? set AWS_CA_BUNDLE to its CA)", op)
		case smapi.Unreachable:
			hint = fmt.Sprintf("%s failed (is the CloudWatch Logs endpoint reachable?)", op)
		default:
			hint = fmt.Sprintf("%s on log group %s failed", op, w.LogGroup)
		}
	}
	if s := q.stopHint(running); s != "" {
		return fmt.Errorf("%s: %w.%s", hint, err, s)
	}
	return fmt.Errorf("%s: %w", hint, err)
}

func (q *insights) regionOr(s string) string {
	if q.region == "" {
		return s
	}
	return q.region
}

func rowsOf(results [][]types.ResultField) []row {
	rows := make([]row, 0, len(results))
	for _, r := range results {
		m := row{}
		for _, f := range r {
			m[aws.ToString(f.Field)] = aws.ToString(f.Value)
		}
		rows = append(rows, m)
	}
	return rows
}

// count reads a count(*) value.
func (r row) count(field string) (int64, error) {
	v, err := strconv.ParseInt(r[field], 10, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("Logs Insights answered %s %q, not a count", field, r[field])
	}
	return v, nil
}

// time reads a max(@timestamp) value: Logs Insights gives it in epoch
// milliseconds; @timestamp itself it shows as "2006-01-02 15:04:05.000"
// (UTC), taken too.
func (r row) time(field string) (time.Time, error) {
	v := r[field]
	if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.UnixMilli(ms).UTC(), nil
	}
	if t, err := time.Parse("2006-01-02 15:04:05.999", v); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("Logs Insights answered %s %q, not a time", field, v)
}
