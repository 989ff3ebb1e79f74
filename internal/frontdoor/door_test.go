package frontdoor_test

import (
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/lambdacontext"

	samples "github.com/keygate/keygate/events"
	"github.com/keygate/keygate/internal/apikey"
	"github.com/keygate/keygate/internal/decision"
	"github.com/keygate/keygate/internal/frontdoor"
	"github.com/keygate/keygate/internal/metrics"
)

// seen is a slog.Handler that records, for every line, its message, the
// door its context carries and its source_ip member.
type seen struct {
	mu    sync.Mutex
	lines []seenLine
}

type seenLine struct{ msg, door, source string }

func (s *seen) Enabled(context.Context, slog.Level) bool { return true }
func (s *seen) WithAttrs([]slog.Attr) slog.Handler       { return s }
func (s *seen) WithGroup(string) slog.Handler            { return s }
func (s *seen) Handle(ctx context.Context, r slog.Record) error {
	l := seenLine{msg: r.Message, door: metrics.DoorOf(ctx)}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "source_ip" {
			l.source = a.Value.String()
		}
		return true
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lines = append(s.lines, l)
	return nil
}

// Every sample event's line (request or authorization) is logged with its
// door in the context, for the metrics' door dimension, and names the
// caller's address when the event gives a valid one: some events of every
// door but a TOKEN authorizer's, whose event carries none.
func TestDoorInContext(t *testing.T) {
	evs, err := samples.All()
	if err != nil {
		t.Fatal(err)
	}
	env, err := samples.Env()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := apikey.Parse(env["KeygateFunction"]["API_KEY"])
	if err != nil {
		t.Fatal(err)
	}
	keys := keys{apikey.NewSet(doc.Entries(""))}
	sourced := map[string]bool{} // door → some line named its source_ip
	for _, ev := range evs {
		t.Run(ev.Name, func(t *testing.T) {
			rec := &seen{}
			ad := frontdoor.New(decision.New(keys), slog.New(rec))
			ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "lambda-req-42"})
			_, _ = ad.Invoke(ctx, ev.Payload)
			want := "request"
			if frontdoor.Kind(ev.Door).Authorizer() {
				want = "authorization"
			}
			if len(rec.lines) != 1 || rec.lines[0].msg != want {
				t.Fatalf("lines %+v, want one %s line", rec.lines, want)
			}
			l := rec.lines[0]
			if l.door != ev.Door {
				t.Errorf("the line's context carries door %q, want %q", l.door, ev.Door)
			}
			if a, err := netip.ParseAddr(l.source); l.source != "" && (err != nil || a.String() != l.source) {
				t.Errorf("source_ip %q is not an address", l.source)
			}
			if l.source != "" {
				sourced[ev.Door] = true
			}
		})
	}
	for _, door := range []frontdoor.Kind{frontdoor.REST, frontdoor.HTTPAPI, frontdoor.FunctionURL, frontdoor.ALB,
		frontdoor.RequestAuthorizer, frontdoor.HTTPAuthorizer} {
		if !sourced[string(door)] {
			t.Errorf("no %s event's line names its source_ip", door)
		}
	}
	if sourced[string(frontdoor.TokenAuthorizer)] {
		t.Error("a TOKEN authorizer's line names a source_ip: its event carries none")
	}
	// An event of no door carries none.
	rec := &seen{}
	_, _ = frontdoor.New(decision.New(keys), slog.New(rec)).Invoke(context.Background(), []byte(`{}`))
	if len(rec.lines) != 1 || rec.lines[0].msg != "bad event" || rec.lines[0].door != "" {
		t.Errorf("lines %+v, want one bad event line without a door", rec.lines)
	}
}
