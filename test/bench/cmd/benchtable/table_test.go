package main

import (
	"strings"
	"testing"
)

// The floor note says, for each floor, which side of its goal it is on.
func TestFloorNote(t *testing.T) {
	note := floorNote(1.19, 1.37, 1.18)
	for _, want := range []string{
		"1.19×, within the 1.20× goal with the key read over plain unsigned HTTP",
		"1.37×, above the 1.20× goal with the SDK client",
		"without a log line, is 1.18×, above the 1.10× goal",
	} {
		if !strings.Contains(note, want) {
			t.Errorf("note lacks %q:\n%s", want, note)
		}
	}
}

// A ratio that rounds to its goal shows enough digits to tell the side.
func TestFmtRatio(t *testing.T) {
	for _, tc := range []struct {
		ratio, goal float64
		want        string
	}{
		{1.3712, 1.20, "1.37×"},
		{1.2012, 1.20, "1.2012×"},
		{1.1996, 1.20, "1.1996×"},
		{1.20, 1.20, "1.20×"},
	} {
		if got := fmtRatio(tc.ratio, tc.goal); got != tc.want {
			t.Errorf("fmtRatio(%v, %v) = %q, want %q", tc.ratio, tc.goal, got, tc.want)
		}
	}
}
