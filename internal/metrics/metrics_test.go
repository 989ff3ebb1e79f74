package metrics_test

import (
	"context"
	"encoding/json"
	"errors"
	"log"
	"log/slog"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	samples "github.com/keygate/keygate/events"
	"github.com/keygate/keygate/handler"
	"github.com/keygate/keygate/internal/apikey"
	"github.com/keygate/keygate/internal/config"
	"github.com/keygate/keygate/internal/decision"
	"github.com/keygate/keygate/internal/frontdoor"
	"github.com/keygate/keygate/internal/keycache"
	"github.com/keygate/keygate/internal/keysource"
	"github.com/keygate/keygate/internal/metrics"
	"github.com/keygate/keygate/internal/testsupport/emftest"
	"github.com/keygate/keygate/internal/testsupport/logtest"
)

// The CloudWatchMetrics each kind of line must carry, written out from the
// contract (docs/operating.md), not from the code.
const (
	requestsDoorAged = `[{"Namespace":"Keygate","Dimensions":[["outcome"],["outcome","door"]],"Metrics":[{"Name":"Requests","Unit":"Count"}]},` +
		`{"Namespace":"Keygate","Dimensions":[[]],"Metrics":[{"Name":"KeySetAge","Unit":"Seconds"}]}]`
	requestsDoor = `[{"Namespace":"Keygate","Dimensions":[["outcome"],["outcome","door"]],"Metrics":[{"Name":"Requests","Unit":"Count"}]}]`
	requestsAged = `[{"Namespace":"Keygate","Dimensions":[["outcome"]],"Metrics":[{"Name":"Requests","Unit":"Count"}]},` +
		`{"Namespace":"Keygate","Dimensions":[[]],"Metrics":[{"Name":"KeySetAge","Unit":"Seconds"}]}]`
	keyLoads        = `[{"Namespace":"Keygate","Dimensions":[["trigger"],[]],"Metrics":[{"Name":"KeyLoads","Unit":"Count"}]}]`
	keyLoadFailures = `[{"Namespace":"Keygate","Dimensions":[["trigger"],[]],"Metrics":[{"Name":"KeyLoadFailures","Unit":"Count"}]}]`
	keysUnavailable = `[{"Namespace":"Keygate","Dimensions":[["trigger"],[]],"Metrics":[{"Name":"KeyLoadFailures","Unit":"Count"}]},` +
		`{"Namespace":"Keygate","Dimensions":[[]],"Metrics":[{"Name":"KeysUnavailable","Unit":"Count"}]}]`
)

// added are the members the metrics may add to a line: a line carries
// exactly those its case lists.
var added = []string{"_aws", metrics.Door, metrics.Requests, metrics.KeySetAge, metrics.KeyLoads, metrics.KeyLoadFailures, metrics.KeysUnavailable}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// clock is the key cache's injected time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// source is a keycache.Source that answers with load.
type source func(call int) (keysource.Snapshot, error)

type counted struct {
	mu    sync.Mutex
	calls int
	load  source
}

func (c *counted) Load(context.Context, bool) (keysource.Snapshot, error) {
	c.mu.Lock()
	c.calls++
	n := c.calls
	c.mu.Unlock()
	return c.load(n)
}

// stack is the function as cmd/api wires it: the JSON logger behind the
// metrics handler, whose age is the key cache's, and the front door over
// the decision over that cache.
type stack struct {
	logs  *logtest.Buffer
	log   *slog.Logger
	clk   *clock
	cache *keycache.Cache
	door  *frontdoor.Adapter
}

func newStack(t *testing.T, src keycache.Source, refresh time.Duration) *stack {
	t.Helper()
	s := &stack{logs: &logtest.Buffer{}, clk: &clock{t: t0}}
	var keys *keycache.Cache
	age := func() (time.Duration, bool) {
		if keys == nil {
			return 0, false
		}
		return keys.Age()
	}
	s.log = slog.New(metrics.New(config.NewLogger(s.logs, slog.LevelInfo).Handler(), "Keygate", age))
	keys = keycache.New(src, keycache.Options{Refresh: refresh, Now: s.clk.Now, Rand: func() float64 { return 0 }, Log: s.log})
	s.cache = keys
	s.door = frontdoor.New(decision.New(keys), s.log)
	return s
}

// envSource is the key set of events/env.json (the sample events' keys).
func envSource(t *testing.T) keycache.Source {
	t.Helper()
	env, err := samples.Env()
	if err != nil {
		t.Fatal(err)
	}
	return keysource.NewStatic("env", env["KeygateFunction"]["API_KEY"])
}

func lambdaCtx() context.Context {
	return lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "lambda-req-42"})
}

// lineCase is one line the function writes and the metrics it must carry.
type lineCase struct {
	name  string
	write func(t *testing.T, s *stack) // writes the line (the last with msg)
	msg   string
	// cwm is the CloudWatchMetrics it must carry ("": none, untouched);
	// members, the members the metrics add, with their values.
	cwm     string
	members map[string]any
	// store is the key cache's source; nil: events/env.json's keys.
	store keycache.Source
}

func TestLines(t *testing.T) {
	evs, err := samples.All()
	if err != nil {
		t.Fatal(err)
	}
	var cases []lineCase
	// Every sample event through the front door, with a key set loaded
	// 90.5 s ago: the line of its door, its outcome, the set's age.
	for _, ev := range evs {
		msg := "request"
		if frontdoor.Kind(ev.Door).Authorizer() {
			msg = "authorization"
		}
		cases = append(cases, lineCase{
			name: ev.Name,
			write: func(t *testing.T, s *stack) {
				if err := s.cache.Load(context.Background()); err != nil {
					t.Fatal(err)
				}
				s.clk.Advance(90500 * time.Millisecond)
				_, _ = s.door.Invoke(lambdaCtx(), ev.Payload)
			},
			msg: msg, cwm: requestsDoorAged,
			members: map[string]any{"door": ev.Door, "outcome": ev.Want.Outcome, "Requests": 1.0, "KeySetAge": 90.5},
		})
	}
	restValid, restWrong := pick(t, evs, "rest-valid-key.json"), pick(t, evs, "rest-wrong-key.json")
	authValid := pick(t, evs, "tokenauthorizer-valid-key.json")
	failingStore := &counted{load: func(int) (keysource.Snapshot, error) { return keysource.Snapshot{}, errors.New("store down") }}
	cases = append(cases,
		lineCase{"no key set: unavailable, no age", func(t *testing.T, s *stack) {
			_, _ = s.door.Invoke(lambdaCtx(), restValid.Payload)
		}, "request", requestsDoor, map[string]any{"door": "rest", "outcome": "unavailable", "Requests": 1.0}, failingStore},
		lineCase{"no key set: an authorizer's, unavailable", func(t *testing.T, s *stack) {
			_, _ = s.door.Invoke(lambdaCtx(), authValid.Payload)
		}, "authorization", requestsDoor, map[string]any{"door": "tokenauthorizer", "outcome": "unavailable", "Requests": 1.0}, failingStore},
		lineCase{"the age of a set just loaded", func(t *testing.T, s *stack) {
			_ = s.cache.Load(context.Background())
			_, _ = s.door.Invoke(lambdaCtx(), restWrong.Payload)
		}, "request", requestsDoorAged, map[string]any{"door": "rest", "outcome": "invalid", "Requests": 1.0, "KeySetAge": 0.0}, nil},
		lineCase{"the handler without a front door: no door dimension", func(t *testing.T, s *stack) {
			_ = s.cache.Load(context.Background())
			s.clk.Advance(time.Second)
			handler.New(decision.New(s.cache), s.log).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
		}, "request", requestsAged, map[string]any{"outcome": "missing", "Requests": 1.0, "KeySetAge": 1.0}, nil},
		lineCase{"key set loaded at cold start", func(t *testing.T, s *stack) {
			_ = s.cache.Load(context.Background())
		}, "key set loaded", keyLoads, map[string]any{"trigger": "init", "KeyLoads": 1.0}, nil},
		lineCase{"key load failed at cold start: keys unavailable", func(t *testing.T, s *stack) {
			_ = s.cache.Load(context.Background())
		}, "key load failed", keysUnavailable, map[string]any{"trigger": "init", "KeyLoadFailures": 1.0, "KeysUnavailable": 1.0}, failingStore},
		lineCase{"bad event: untouched", func(t *testing.T, s *stack) {
			_, _ = s.door.Invoke(lambdaCtx(), []byte(`{"httpMethod": 7}`))
		}, "bad event", "", nil, nil},
		lineCase{"the API_KEY warning: untouched", func(t *testing.T, s *stack) {
			config.Config{APIKey: samples.RightKey}.Keys(context.Background(), nil, s.log)
		}, "using the key from API_KEY: fine for local development, but production should keep the key in Secrets Manager (set API_KEY_SECRET_ID)", "", nil, nil},
		lineCase{"a line of the standard logger: untouched", func(t *testing.T, s *stack) {
			flags, out := log.Flags(), log.Writer()
			defer func() { log.SetFlags(flags); log.SetOutput(out) }()
			config.RouteStdLog(s.log)
			log.Print("runtime API client failed")
		}, "runtime API client failed", "", nil, nil},
	)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := tc.store
			if src == nil {
				src = envSource(t)
			}
			s := newStack(t, src, 0)
			tc.write(t, s)
			checkLine(t, s.logs, tc)
		})
	}

	// The triggers of later loads, and a refresh that fails while a set
	// is in force: no KeysUnavailable.
	calls := &counted{load: func(n int) (keysource.Snapshot, error) {
		if n == 3 {
			return keysource.Snapshot{}, errors.New("store down")
		}
		return keysource.Snapshot{Set: apikey.NewSet([]apikey.Entry{{Client: "c", Digest: apikey.Digest(samples.RightKey)}}), Source: "test"}, nil
	}}
	s := newStack(t, calls, time.Minute)
	if err := s.cache.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.clk.Advance(time.Minute)
	_, _ = s.cache.Keys(context.Background()) // 2: refresh
	checkLine(t, s.logs, lineCase{name: "refresh", msg: "key set loaded", cwm: keyLoads, members: map[string]any{"trigger": "refresh", "KeyLoads": 1.0}})
	s.clk.Advance(time.Minute)
	_, _ = s.cache.Keys(context.Background()) // 3: fails, the set stays
	checkLine(t, s.logs, lineCase{name: "refresh failed, serving stale", msg: "key load failed", cwm: keyLoadFailures,
		members: map[string]any{"trigger": "refresh", "KeyLoadFailures": 1.0}})
	_, _, _ = s.cache.Match(context.Background(), samples.WrongKey) // 4: unknown_key
	checkLine(t, s.logs, lineCase{name: "re-read for an unknown key", msg: "key set loaded", cwm: keyLoads,
		members: map[string]any{"trigger": "unknown_key", "KeyLoads": 1.0}})
}

// checkLine checks the last line whose msg is tc.msg, and that every line
// with _aws is a valid EMF document.
func checkLine(t *testing.T, logs *logtest.Buffer, tc lineCase) {
	t.Helper()
	var line []byte
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec struct{ Msg string }
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("%s: not JSON: %q", tc.name, l)
		}
		if rec.Msg == tc.msg {
			line = []byte(l)
		}
		if _, err := emftest.Parse([]byte(l)); err != nil && !errors.Is(err, emftest.ErrNoEMF) {
			t.Errorf("%s: invalid EMF: %v\n%s", tc.name, err, l)
		}
	}
	if line == nil {
		t.Fatalf("%s: no %q line in:\n%s", tc.name, tc.msg, logs.String())
	}
	for _, k := range []string{samples.RightKey, samples.ScopedKey, samples.SourcedKey, samples.WrongKey} {
		if strings.Contains(logs.String(), k) {
			t.Errorf("%s: a key reached the log:\n%s", tc.name, logs.String())
		}
	}
	var rec map[string]any
	_ = json.Unmarshal(line, &rec)
	for _, k := range added {
		if _, want := tc.members[k]; !want && (k != "_aws" || tc.cwm == "") {
			if v, has := rec[k]; has {
				t.Errorf("%s: the line has %s = %v, want none: %s", tc.name, k, v, line)
			}
		}
	}
	for k, v := range tc.members {
		if rec[k] != v {
			t.Errorf("%s: %s = %v, want %v: %s", tc.name, k, rec[k], v, line)
		}
	}
	if tc.cwm == "" {
		return
	}
	doc, err := emftest.Parse(line)
	if err != nil {
		t.Fatalf("%s: %v\n%s", tc.name, err, line)
	}
	var got, want any
	aws := rec["_aws"].(map[string]any)
	_ = json.Unmarshal([]byte(tc.cwm), &want)
	got = aws["CloudWatchMetrics"]
	if !reflect.DeepEqual(got, want) {
		gb, _ := json.Marshal(got)
		t.Errorf("%s: CloudWatchMetrics\n %s\nwant\n %s", tc.name, gb, tc.cwm)
	}
	if ts, _ := time.Parse(time.RFC3339Nano, rec["time"].(string)); doc.Timestamp != ts.UnixMilli() {
		t.Errorf("%s: Timestamp %d, want the line's time %s", tc.name, doc.Timestamp, rec["time"])
	}
}

func pick(t *testing.T, evs []samples.Event, name string) samples.Event {
	t.Helper()
	for _, ev := range evs {
		if ev.Name == name {
			return ev
		}
	}
	t.Fatalf("no events/%s", name)
	return samples.Event{}
}
