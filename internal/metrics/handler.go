package metrics

import (
	"context"
	"log/slog"
	"math"
	"time"
)

// AgeFunc returns the age of the key set in force (since the cache last
// loaded it), and false while none is; keycache.Cache's Age is one.
type AgeFunc func() (time.Duration, bool)

// Handler adds EMF metrics to the lines that count something and hands
// every line on to the handler it wraps. Create it with New.
type Handler struct {
	inner slog.Handler
	age   AgeFunc
	d     *directives
}

var _ slog.Handler = (*Handler)(nil)

// New returns inner with the metrics of namespace added to its lines; age
// (nil: none) gives the KeySetAge of request and authorization lines. The
// empty namespace turns metrics off: New then returns inner itself.
// config.FromEnv checks the namespace (CheckNamespace).
//
// A line that carries a metric is written at every level: with LOG_LEVEL
// warn or error, a Requests count that dropped its authorized requests'
// lines would be wrong, not smaller. Other lines keep inner's level.
func New(inner slog.Handler, namespace string, age AgeFunc) slog.Handler {
	if namespace == "" {
		return inner
	}
	return &Handler{inner: inner, age: age, d: newDirectives(namespace)}
}

// Enabled: every line that can carry a metric (INFO and above) is built;
// Handle drops those of them that carry none and inner would not write.
func (h *Handler) Enabled(ctx context.Context, level slog.Level) bool {
	return level >= slog.LevelInfo || h.inner.Enabled(ctx, level)
}

// Handle adds the line's metrics, if it has any, and writes it.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	var aws slog.Value
	extra := make([]slog.Attr, 0, 5)
	switch r.Message {
	case msgRequest, msgAuthorization:
		outcome := stringAttr(r, Outcome)
		if !dimensionValue(outcome) {
			break
		}
		door := DoorOf(ctx)
		known := dimensionValue(door)
		if known {
			extra = append(extra, slog.String(Door, door))
		}
		extra = append(extra, slog.Int(Requests, 1))
		aged := false
		if h.age != nil {
			var age time.Duration
			if age, aged = h.age(); aged {
				extra = append(extra, slog.Float64(KeySetAge, seconds(age)))
			}
		}
		aws = h.d.decision[b2i(known)][b2i(aged)]
	case msgLoaded:
		extra = append(extra, slog.Int(KeyLoads, 1))
		aws = h.d.loaded[b2i(dimensionValue(stringAttr(r, Trigger)))]
	case msgLoadFailed:
		extra = append(extra, slog.Int(KeyLoadFailures, 1))
		// serving_stale false, or absent: nothing is in force.
		down := !boolAttr(r, staleMember)
		if down {
			extra = append(extra, slog.Int(KeysUnavailable, 1))
		}
		aws = h.d.failed[b2i(dimensionValue(stringAttr(r, Trigger)))][b2i(down)]
	}
	if len(extra) == 0 {
		if !h.inner.Enabled(ctx, r.Level) {
			return nil
		}
		return h.inner.Handle(ctx, r)
	}
	ts := r.Time
	if ts.IsZero() {
		ts = time.Now()
	}
	extra = append(extra, slog.Attr{Key: "_aws", Value: slog.GroupValue(
		slog.Int64("Timestamp", ts.UnixMilli()),
		slog.Attr{Key: "CloudWatchMetrics", Value: aws},
	)})
	// The caller's record is not used again (a Logger makes one per
	// line), but Clone keeps AddAttrs from writing into a shared array.
	r = r.Clone()
	r.AddAttrs(extra...)
	return h.inner.Handle(ctx, r)
}

// WithAttrs keeps the metrics: the attributes go to inner.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &Handler{inner: h.inner.WithAttrs(attrs), age: h.age, d: h.d}
}

// WithGroup drops the metrics: in a group, members are no longer at the
// root of the line, where EMF looks for them. (No keygate logger uses
// groups.)
func (h *Handler) WithGroup(name string) slog.Handler {
	return h.inner.WithGroup(name)
}

// stringAttr is the value of the line's string member key, or "".
func stringAttr(r slog.Record, key string) string {
	var v string
	r.Attrs(func(a slog.Attr) bool {
		if a.Key != key {
			return true
		}
		if a.Value.Kind() == slog.KindString {
			v = a.Value.String()
		}
		return false
	})
	return v
}

// boolAttr is the value of the line's boolean member key, or false.
func boolAttr(r slog.Record, key string) bool {
	var v bool
	r.Attrs(func(a slog.Attr) bool {
		if a.Key != key {
			return true
		}
		v = a.Value.Kind() == slog.KindBool && a.Value.Bool()
		return false
	})
	return v
}

// seconds is d in seconds, to the millisecond, never negative.
func seconds(d time.Duration) float64 {
	return math.Round(max(d, 0).Seconds()*1000) / 1000
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
