package main

import (
	"math"
	"slices"
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
	// INIT comes from the INIT REPORT line, not from the first REPORT's
	// "Init Duration" (which the emulator gets wrong).
	init, warm, err := parseReports(transcript, 3)
	if err != nil || init != 3.509 {
		t.Fatalf("parseReports = %v, %v, want INIT 3.509", init, err)
	}
	if !slices.Equal(warm, []float64{0.38, 0.42}) {
		t.Errorf("warm REPORT durations = %v, want [0.38 0.42]", warm)
	}
	if _, _, err := parseReports(transcript, 4); err == nil {
		t.Error("three REPORT lines passed for four invocations")
	}
	if _, _, err := parseReports("REPORT RequestId: x\tDuration: 1.00 ms\t", 1); err == nil {
		t.Error("a transcript without INIT REPORT passed")
	}
	// The managed-instances emulator spells it with more fields first.
	if m := initReport.FindStringSubmatch("INIT REPORT(initType: on-demand, durationMs: 12.50, status: success)"); m == nil || m[1] != "12.50" {
		t.Errorf("managed-instances INIT REPORT = %v, want 12.50", m)
	}
}

// /proc/PID/stat's command name may hold spaces and parentheses; fields
// are numbered as in proc(5).
func TestStatFields(t *testing.T) {
	stat := "4242 (node (worker) x) S 4200 4242 4200 0 -1 4194560 1234 0 7 0 11 3 0 0 20 0 11 0 99 1000 300"
	f, err := statFields(stat)
	if err != nil {
		t.Fatal(err)
	}
	for n, want := range map[int]string{1: "4242", 2: "(node (worker) x)", 3: "S", 4: "4200", 10: "1234", 12: "7", 14: "11", 15: "3"} {
		if f[n] != want {
			t.Errorf("field %d = %q, want %q", n, f[n], want)
		}
	}
	if _, err := statFields("4242 (short) S 1"); err == nil {
		t.Error("a short stat line passed")
	}
	if ns, err := schedstatRun("5391821 120334 17\n"); err != nil || ns != 5391821 {
		t.Errorf("schedstatRun = %d, %v, want 5391821", ns, err)
	}
}

func TestStatistics(t *testing.T) {
	tests := []struct {
		name    string
		in      []float64
		q, want float64
	}{
		{"odd median", []float64{3, 1, 2}, 0.5, 2},
		{"even median", []float64{4, 1, 3, 2}, 0.5, 2.5},
		{"one", []float64{7}, 0.25, 7},
		{"first quartile", []float64{1, 2, 3, 4, 5}, 0.25, 2},
		{"between ranks", []float64{10, 20}, 0.75, 17.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := quantile(tt.in, tt.q); got != tt.want {
				t.Errorf("quantile(%v, %v) = %v, want %v", tt.in, tt.q, got, tt.want)
			}
		})
	}
	if got := median(nil); !math.IsNaN(got) {
		t.Errorf("median(nil) = %v, want NaN", got)
	}
	in := []float64{3, 1, 2}
	median(in)
	if in[0] != 3 {
		t.Error("median sorted its argument")
	}
}

// The header names the Makefile's target and the program's own flags,
// without -command.
func TestCommandLine(t *testing.T) {
	for _, tc := range []struct {
		target string
		args   []string
		want   string
	}{
		{"make bench", []string{"-command", "make bench"}, "`make bench` (in test/: `go run ./bench/cmd/benchtable`)"},
		{"make bench-smoke", []string{"-smoke", "-command=make bench-smoke"}, "`make bench-smoke` (in test/: `go run ./bench/cmd/benchtable -smoke`)"},
		{"", []string{"-runs", "41"}, "`go run ./bench/cmd/benchtable -runs 41`, in test/"},
	} {
		if got := commandLine(tc.target, tc.args); got != tc.want {
			t.Errorf("commandLine(%q, %q) = %s, want %s", tc.target, tc.args, got, tc.want)
		}
	}
}
