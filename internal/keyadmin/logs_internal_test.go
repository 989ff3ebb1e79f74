package keyadmin

import (
	"testing"
	"time"
)

// Logs Insights gives max(@timestamp) in epoch milliseconds; the form it
// shows @timestamp in is read too, and anything else is an error.
func TestRowTime(t *testing.T) {
	want := time.Date(2026, 12, 7, 9, 59, 12, 345e6, time.UTC)
	for _, v := range []string{"1796637552345", "2026-12-07 09:59:12.345"} {
		got, err := row{"last_seen": v}.time("last_seen")
		if err != nil || !got.Equal(want) {
			t.Errorf("%q: %v, %v; want %v", v, got, err, want)
		}
	}
	for _, v := range []string{"", "yesterday", "2026-12-07T09:59:12Z"} {
		if _, err := (row{"last_seen": v}).time("last_seen"); err == nil {
			t.Errorf("%q read as a time", v)
		}
	}
	for _, v := range []string{"", "-1", "1.5", "many"} {
		if _, err := (row{"requests": v}).count("requests"); err == nil {
			t.Errorf("%q read as a count", v)
		}
	}
}
