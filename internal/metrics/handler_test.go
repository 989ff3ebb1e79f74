package metrics_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/internal/metrics"
	"github.com/keygate/keygate/internal/testsupport/emftest"
)

var fixed = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func record(level slog.Level, msg string, attrs ...slog.Attr) slog.Record {
	r := slog.NewRecord(fixed, level, msg, 0)
	r.AddAttrs(attrs...)
	return r
}

// through writes r with h, as a Logger would.
func through(t *testing.T, h slog.Handler, ctx context.Context, r slog.Record) {
	t.Helper()
	if !h.Enabled(ctx, r.Level) {
		return
	}
	if err := h.Handle(ctx, r); err != nil {
		t.Fatal(err)
	}
}

func jsonHandler(w io.Writer, level slog.Level) slog.Handler {
	return slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})
}

func noAge() (time.Duration, bool) { return 0, false }

// Lines that count nothing leave the metrics handler byte for byte as the
// JSON handler writes them, and so do the lines of the metrics' kinds that
// lack what a metric needs.
func TestUntouched(t *testing.T) {
	ctx := metrics.WithDoor(context.Background(), "rest")
	for _, r := range []slog.Record{
		record(slog.LevelWarn, "bad event", slog.String("kind", "rest"), slog.String("error", "x")),
		record(slog.LevelInfo, "aws sdk: retrying"),
		record(slog.LevelError, "runtime API client failed"),
		record(slog.LevelInfo, "request", slog.String("route", "/")),                          // no outcome
		record(slog.LevelInfo, "request", slog.String("outcome", "")),                         // empty
		record(slog.LevelInfo, "authorization", slog.Int("outcome", 3)),                       // not a string
		record(slog.LevelInfo, "request", slog.String("outcome", "caf\u00e9")),                // not ASCII
		record(slog.LevelInfo, "request", slog.Group("g", slog.String("outcome", "invalid"))), // not at the root
	} {
		var plain, with bytes.Buffer
		through(t, jsonHandler(&plain, slog.LevelInfo), ctx, r)
		through(t, metrics.New(jsonHandler(&with, slog.LevelInfo), "Keygate", noAge), ctx, r)
		if plain.String() != with.String() {
			t.Errorf("line changed:\n %s\nwant\n %s", with.String(), plain.String())
		}
	}
}

// The empty namespace turns the metrics off: New returns the JSON
// handler itself.
func TestOff(t *testing.T) {
	inner := jsonHandler(io.Discard, slog.LevelInfo)
	if h := metrics.New(inner, "", noAge); h != inner {
		t.Errorf("New with no namespace = %T, want the handler it was given", h)
	}
	var buf bytes.Buffer
	log := slog.New(metrics.New(jsonHandler(&buf, slog.LevelInfo), "", noAge))
	log.LogAttrs(metrics.WithDoor(context.Background(), "rest"), slog.LevelInfo, "request", slog.String("outcome", "authorized"))
	if strings.Contains(buf.String(), "_aws") || strings.Contains(buf.String(), "Requests") || strings.Contains(buf.String(), `"door"`) {
		t.Errorf("metrics written with no namespace: %s", buf.String())
	}
}

// A line that carries a metric is written whatever the level: at
// LOG_LEVEL=error the authorized requests' INFO lines still count. Other
// lines keep the level.
func TestLevel(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(metrics.New(jsonHandler(&buf, slog.LevelError), "Keygate", noAge))
	ctx := metrics.WithDoor(context.Background(), "alb")
	log.LogAttrs(ctx, slog.LevelInfo, "request", slog.String("outcome", "authorized"))
	log.LogAttrs(ctx, slog.LevelInfo, "key set loaded", slog.String("trigger", "refresh"))
	log.LogAttrs(ctx, slog.LevelWarn, "bad event")
	log.LogAttrs(ctx, slog.LevelInfo, "aws sdk: retrying")
	log.LogAttrs(ctx, slog.LevelDebug, "request", slog.String("outcome", "authorized"))
	log.LogAttrs(ctx, slog.LevelError, "key load failed", slog.String("trigger", "refresh"), slog.Bool("serving_stale", true))
	var msgs []string
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		doc, err := emftest.Parse([]byte(l))
		if err != nil {
			t.Errorf("%v: %s", err, l)
			continue
		}
		msgs = append(msgs, doc.Root["msg"].(string))
	}
	if strings.Join(msgs, "|") != "request|key set loaded|key load failed" {
		t.Errorf("lines %q, want the three that carry metrics", msgs)
	}
}

// The door comes from the context only, and only as a valid dimension
// value; the age from the function, rounded to the millisecond, never
// negative, and it is asked for on request and authorization lines only
// (the key cache logs its loads under its lock).
func TestDoorAndAge(t *testing.T) {
	tests := []struct {
		name      string
		ctx       context.Context
		age       time.Duration
		aged      bool
		wantDoor  any // nil: no door member
		wantAge   any // nil: no KeySetAge
		wantCalls int
	}{
		{"door and age", metrics.WithDoor(context.Background(), "functionurl"), 1234567890 * time.Nanosecond, true, "functionurl", 1.235, 1},
		{"no door", context.Background(), time.Hour, true, nil, 3600.0, 1},
		{"a door that is no dimension value", metrics.WithDoor(context.Background(), "r\u00e9st"), 0, true, nil, 0.0, 1},
		{"an empty door", metrics.WithDoor(context.Background(), ""), 0, false, nil, nil, 1},
		{"no set in force", metrics.WithDoor(context.Background(), "rest"), 0, false, "rest", nil, 1},
		{"a clock that went back", metrics.WithDoor(context.Background(), "rest"), -time.Second, true, "rest", 0.0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			age := func() (time.Duration, bool) { calls++; return tt.age, tt.aged }
			var buf bytes.Buffer
			log := slog.New(metrics.New(jsonHandler(&buf, slog.LevelInfo), "Keygate", age))
			// A door member the line named itself is not the dimension.
			log.LogAttrs(tt.ctx, slog.LevelInfo, "authorization", slog.String("outcome", "invalid"))
			log.LogAttrs(tt.ctx, slog.LevelInfo, "key set loaded", slog.String("trigger", "init"))
			log.LogAttrs(tt.ctx, slog.LevelError, "key load failed", slog.String("trigger", "refresh"), slog.Bool("serving_stale", false))
			if calls != tt.wantCalls {
				t.Errorf("age asked %d times, want %d (once, for the authorization line)", calls, tt.wantCalls)
			}
			line := strings.SplitN(buf.String(), "\n", 2)[0]
			doc, err := emftest.Parse([]byte(line))
			if err != nil {
				t.Fatalf("%v: %s", err, line)
			}
			if doc.Root["door"] != nil != (tt.wantDoor != nil) || tt.wantDoor != nil && doc.Root["door"] != tt.wantDoor {
				t.Errorf("door = %v, want %v: %s", doc.Root["door"], tt.wantDoor, line)
			}
			got, has := doc.Root["KeySetAge"].(json.Number)
			if has != (tt.wantAge != nil) {
				t.Fatalf("KeySetAge %v, want %v: %s", doc.Root["KeySetAge"], tt.wantAge, line)
			}
			if has {
				if f, _ := got.Float64(); f != tt.wantAge {
					t.Errorf("KeySetAge = %v, want %v", f, tt.wantAge)
				}
			}
		})
	}
}

// Attributes given with With stay; a group takes the metrics away (its
// members are not at the root, where EMF reads them) and the line is the
// JSON handler's.
func TestWithAttrsAndGroup(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(metrics.New(jsonHandler(&buf, slog.LevelInfo), "Keygate", noAge)).With("function", "keygate")
	log.Info("request", "outcome", "missing")
	doc, err := emftest.Parse(buf.Bytes())
	if err != nil || doc.Root["function"] != "keygate" || len(doc.Data) != 1 {
		t.Errorf("With: %v, %v: %s", doc, err, buf.String())
	}
	buf.Reset()
	log.WithGroup("g").Info("request", "outcome", "missing")
	if strings.Contains(buf.String(), "_aws") || !strings.Contains(buf.String(), `"g":{"outcome":"missing"}`) {
		t.Errorf("WithGroup: %s", buf.String())
	}
}

func TestCheckNamespace(t *testing.T) {
	for _, tc := range []struct {
		ns   string
		says string // "": valid
	}{
		{"Keygate", ""},
		{"MyTeam/Keygate prod", ""},
		{"a.b-c_d/e#f:g", ""},
		{strings.Repeat("k", 255), ""},
		{strings.Repeat("k", 256), "longer than 255"},
		{"", "no character but spaces"},
		{"   ", "no character but spaces"},
		{":Keygate", "colon"},
		{"AWS/Lambda", "AWS/"},
		{"Keygate!", "a character other than"},
		{"Zürich", "a character other than"},
		{"Key\tgate", "a character other than"},
	} {
		got := metrics.CheckNamespace(tc.ns)
		if tc.says == "" && got != "" || tc.says != "" && !strings.Contains(got, tc.says) {
			t.Errorf("CheckNamespace(%q) = %q, want %q", tc.ns, got, tc.says)
		}
		if got != "" && tc.ns != "" && strings.Contains(got, tc.ns) {
			t.Errorf("CheckNamespace(%q) repeats the value: %q", tc.ns, got)
		}
	}
}

// What a request line costs with the metrics and without (go test -bench).
func BenchmarkRequestLine(b *testing.B) {
	ctx := metrics.WithDoor(context.Background(), "rest")
	age := func() (time.Duration, bool) { return time.Minute, true }
	for _, bc := range []struct {
		name string
		ns   string
	}{{"metrics", "Keygate"}, {"none", ""}} {
		b.Run(bc.name, func(b *testing.B) {
			log := slog.New(metrics.New(jsonHandler(io.Discard, slog.LevelInfo), bc.ns, age))
			b.ReportAllocs()
			for b.Loop() {
				log.LogAttrs(ctx, slog.LevelInfo, "request",
					slog.String("request_id", "8f5e0c1a-2b3c-4d5e-9f60-718293a4b5c6"), slog.String("method", "GET"),
					slog.String("route", "/"), slog.Int("status", 200), slog.String("outcome", "authorized"),
					slog.String("client", "default"), slog.String("source_ip", "192.0.2.10"))
			}
		})
	}
}
