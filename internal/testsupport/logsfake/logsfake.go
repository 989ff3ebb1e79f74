// Package logsfake is an in-process fake of the CloudWatch Logs Insights
// API (StartQuery and GetQueryResults, AWS JSON 1.1, X-Amz-Target
// Logs_20140328.*), served over HTTP on 127.0.0.1 so that the real SDK
// client talks to it unchanged, as smfake does for Secrets Manager.
//
// A test gives it log lines (Add) and it answers queries computed from
// them. It evaluates only the query shape keygate sends (see query.go):
//
//	filter msg in ["request", "authorization"] and ispresent(client)
//	| stats count(*) as requests, max(@timestamp) as last_seen by client, outcome
//
// and answers MalformedQueryException to anything else, so a change of the
// query that the fake does not follow fails the tests instead of passing
// them with made-up numbers. It can fail: an error code per operation
// (Fail), a log group that does not exist (every group not made by
// CreateGroup or Add), queries that stay Running (Hold) or end Failed,
// Cancelled or Timeout (EndWith).
//
// Signatures are not checked; any operation it does not serve is
// UnknownOperationException.
package logsfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
)

// DefaultRegion is the region of a server made by New.
const DefaultRegion = "us-east-1"

// Server is a running fake. Its methods are safe for concurrent use.
type Server struct {
	// URL is the base endpoint, http://127.0.0.1:PORT.
	URL string
	// Region is the region of the client that Client builds.
	Region string

	hs *httptest.Server

	mu      sync.Mutex
	groups  map[string][]event // by log group name
	faults  map[string]Fault   // by operation
	queries map[string]*query  // by query ID
	started []Query            // in order
	calls   map[string]int
	hold    bool   // queries stay Running
	endWith string // the status queries end with ("": Complete)
	next    int
}

// event is one log event: its timestamp and message (a JSON line, as the
// function writes it).
type event struct {
	at      time.Time
	message string
}

// Query is a StartQuery call as the fake received it.
type Query struct {
	ID         string
	LogGroup   string
	Start, End time.Time // startTime and endTime, whole seconds
	String     string
	Limit      int32
}

// Fault is an error answer: Code ({"__type": Code}) and Message, with
// HTTP status 400 (500 for InternalFailure or ServiceUnavailableException).
type Fault struct{ Code, Message string }

// Ready-made faults, worded as the service words them.
var (
	AccessDeniedFault = Fault{Code: "AccessDeniedException", Message: "User: arn:aws:sts::123456789012:assumed-role/operator/me is not authorized to perform: logs:StartQuery (injected by logsfake)"}
	LimitFault        = Fault{Code: "LimitExceededException", Message: "Account maximum query concurrency limit of [30] reached."}
	ThrottlingFault   = Fault{Code: "ThrottlingException", Message: "Rate exceeded"}
)

// New starts a fake on a free 127.0.0.1 port. Stop it with Close.
func New() *Server {
	s := &Server{
		Region:  DefaultRegion,
		groups:  map[string][]event{},
		faults:  map[string]Fault{},
		queries: map[string]*query{},
		calls:   map[string]int{},
	}
	s.hs = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.hs.URL
	return s
}

// Start is New for a test: the server stops when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s := New()
	t.Cleanup(s.Close)
	return s
}

// Close stops the server.
func (s *Server) Close() { s.hs.Close() }

// Client returns a real SDK client for the fake: dummy credentials,
// Region, BaseEndpoint = URL, and one attempt per call so that an injected
// fault surfaces at once.
func (s *Server) Client() *cloudwatchlogs.Client {
	return cloudwatchlogs.New(cloudwatchlogs.Options{
		Region:       s.Region,
		BaseEndpoint: aws.String(s.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIALOGSFAKEEXAMPLE", "logsfake-dummy-secret", ""),
		Retryer:      retry.NewStandard(func(o *retry.StandardOptions) { o.MaxAttempts = 1 }),
	})
}

// CreateGroup makes an empty log group (Add makes one too).
func (s *Server) CreateGroup(group string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.groups[group] == nil {
		s.groups[group] = []event{}
	}
}

// Add appends a log event with timestamp at and message line to group,
// creating the group. line is what the function writes: one JSON object,
// whose top-level members are the fields a query sees (as Logs Insights
// discovers them in JSON log events).
func (s *Server) Add(group string, at time.Time, line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.groups[group] = append(s.groups[group], event{at: at, message: line})
}

// AddRecord is Add with the line encoded from record.
func (s *Server) AddRecord(group string, at time.Time, record map[string]any) {
	line, err := json.Marshal(record)
	if err != nil {
		panic(fmt.Sprintf("logsfake: AddRecord: %v", err))
	}
	s.Add(group, at, string(line))
}

// Fail answers every call of op ("StartQuery", "GetQueryResults") with f
// until Clear.
func (s *Server) Fail(op string, f Fault) {
	if operations[op] == nil {
		panic(fmt.Sprintf("logsfake: no operation %q", op))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[op] = f
}

// Hold makes queries report Running, with no results, while hold is true.
func (s *Server) Hold(hold bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hold = hold
}

// EndWith makes queries end with status (Failed, Cancelled, Timeout)
// instead of Complete; "" restores Complete.
func (s *Server) EndWith(status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.endWith = status
}

// Clear removes every fault, Hold and EndWith.
func (s *Server) Clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.faults)
	s.hold, s.endWith = false, ""
}

// Calls returns how many calls of op the server received, faulted ones
// included.
func (s *Server) Calls(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

// Queries returns the queries started so far, in order.
func (s *Server) Queries() []Query {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.started)
}
