// Package metrics writes keygate's CloudWatch metrics into the JSON log
// lines the function writes anyway, in the embedded metric format (EMF):
// CloudWatch Logs extracts them, so they cost no call, no agent and no
// dependency. A slog.Handler in front of the JSON handler (New) adds, to
// the lines that count something, the metric members and the `_aws`
// directive that names them; every other line passes untouched.
//
// The names are a contract (alarms and the dashboard are built on them):
//
//	line              metrics                           dimension sets
//	request,          Requests (Count)                  [outcome] [outcome door]
//	authorization     KeySetAge (Seconds), when a set   []
//	                  is in force
//	key set loaded    KeyLoads (Count)                  [trigger] []
//	key load failed   KeyLoadFailures (Count)           [trigger] []
//	                  KeysUnavailable (Count), when     []
//	                  no set is in force
//
// No dimension names a client: each client would multiply the custom
// metrics, which CloudWatch prices each. Per-client figures come from the
// log lines themselves (their client member).
//
// See https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
package metrics

import (
	"context"
	"strings"
)

// Metric names.
const (
	Requests        = "Requests"
	KeySetAge       = "KeySetAge"
	KeyLoads        = "KeyLoads"
	KeyLoadFailures = "KeyLoadFailures"
	KeysUnavailable = "KeysUnavailable"
)

// Members of a line that are dimensions: outcome and trigger are the
// lines' own; door is the one the handler adds, from the context.
const (
	Outcome = "outcome"
	Door    = "door"
	Trigger = "trigger"
)

// The messages of the lines that carry metrics (handler, authorizer,
// keycache).
const (
	msgRequest       = "request"
	msgAuthorization = "authorization"
	msgLoaded        = "key set loaded"
	msgLoadFailed    = "key load failed"
)

// staleMember is the key load failure's member that says a set is still
// in force.
const staleMember = "serving_stale"

type doorKey struct{}

// WithDoor returns ctx carrying the front door an event came through (a
// frontdoor.Kind), for the door dimension of the lines logged with it.
// Only the metrics read it: no input of the key decision travels in a
// context.
func WithDoor(ctx context.Context, door string) context.Context {
	return context.WithValue(ctx, doorKey{}, door)
}

// DoorOf returns the door WithDoor attached, or "".
func DoorOf(ctx context.Context) string {
	d, _ := ctx.Value(doorKey{}).(string)
	return d
}

// MaxNamespace is the longest namespace CloudWatch takes.
const MaxNamespace = 255

// CheckNamespace says why ns is not a namespace CloudWatch takes, or ""
// when it is: 1 to 255 characters of A–Z, a–z, 0–9, space and . - _ / # :
// (CloudWatch's documented set), at least one of them not a space, not
// starting with a colon (the API's pattern [^:].*) nor with AWS/ (AWS's
// own namespaces). The reason never repeats the value: it could hold a
// key pasted into the wrong variable.
func CheckNamespace(ns string) string {
	switch {
	case strings.TrimSpace(ns) == "":
		return "it has no character but spaces"
	case len(ns) > MaxNamespace:
		return "it is longer than 255 characters"
	case ns[0] == ':':
		return "it starts with a colon"
	case strings.HasPrefix(ns, "AWS/"):
		return "it starts with AWS/, which AWS keeps for its own services"
	}
	for i := 0; i < len(ns); i++ {
		if !namespaceByte(ns[i]) {
			return "it has a character other than A-Z, a-z, 0-9, space and . - _ / # :"
		}
	}
	return ""
}

func namespaceByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte(" .-_/#:", c) >= 0
}

// dimensionValue reports whether v can be a dimension's value: 1 to 1024
// printable ASCII characters, not all spaces (CloudWatch's Dimension).
func dimensionValue(v string) bool {
	if len(v) == 0 || len(v) > 1024 || strings.TrimSpace(v) == "" {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return false
		}
	}
	return true
}
