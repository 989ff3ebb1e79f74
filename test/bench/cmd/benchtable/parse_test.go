package main

import (
	"strings"
	"testing"
)

// A real emulator transcript, with the function's log lines interleaved
// mid-line as they can be (two processes writing to one pipe).
const transcript = `26 Nov 2026 20:40:13,399 [INFO] (rapid) INIT START(type: on-demand, phase: init)
26 Nov 2026 20:40:13,402 [INFO] (rapid) INIT REPORT(durationMs: 3.509000)
END RequestId: 34a16d82
REPORT RequestId: 34a16d82	Init Duration: 0.02 ms	Duration: 4.30 ms	Billed Duration: 5 ms	Memory Size: 128 MB	Max Memory Used: 128 MB	
START RequestId: 86fabb31 Version: $LATEST
{"level":"INFO","msg":"request","status":200}REPORT RequestId: 86fabb31	Duration: 0.38 ms	Billed Duration: 1 ms	Memory Size: 128 MB	Max Memory Used: 128 MB	
REPORT RequestId: c8c93259	Duration: 0.42 ms	Billed Duration: 1 ms	Memory Size: 128 MB	Max Memory Used: 128 MB	
`

func TestReports(t *testing.T) {
	m := initReport.FindStringSubmatch(transcript)
	if m == nil || m[1] != "3.509000" {
		t.Fatalf("INIT REPORT = %v, want 3.509000", m)
	}
	// The managed-instances emulator spells it with more fields first.
	if m := initReport.FindStringSubmatch("INIT REPORT(initType: on-demand, durationMs: 12.50, status: success)"); m == nil || m[1] != "12.50" {
		t.Errorf("managed-instances INIT REPORT = %v, want 12.50", m)
	}
	var got []string
	for _, r := range invokeReport.FindAllStringSubmatch(transcript, -1) {
		got = append(got, r[1])
	}
	if want := "4.30 0.38 0.42"; strings.Join(got, " ") != want {
		t.Errorf("REPORT durations = %v, want %s", got, want)
	}
}

func TestStatistics(t *testing.T) {
	tests := []struct {
		name string
		in   []float64
		want float64
	}{
		{"odd", []float64{3, 1, 2}, 2},
		{"even", []float64{4, 1, 3, 2}, 2.5},
		{"one", []float64{7}, 7},
		{"none", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := median(tt.in); got != tt.want {
				t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestGoalCheck(t *testing.T) {
	var tb table
	if r := tb.check(row{}, 1.19, goalInit, true); r.met != "ok" || r.goal != "≤ 1.20×" {
		t.Errorf("1.19 against ≤ 1.20: %+v", r)
	}
	if r := tb.check(row{}, 1.21, goalInit, true); r.met != missedLabel {
		t.Errorf("1.21 against ≤ 1.20: %+v", r)
	}
	if r := tb.check(row{}, 7.9, goalServer, false); r.met != missedLabel || r.goal != "≥ 8.00×" {
		t.Errorf("7.9 against ≥ 8: %+v", r)
	}
	if tb.missed != 2 {
		t.Errorf("missed = %d, want 2", tb.missed)
	}
}
