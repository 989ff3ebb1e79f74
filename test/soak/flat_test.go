package soak

import (
	"encoding/xml"
	"io"
	"strings"
	"testing"
	"time"
)

// The flatness rules: 10 % or the floor in an hour, 50 % or twice the
// floor in a short run; growth fails, shrinking does not.
func TestFlatnessLimits(t *testing.T) {
	for _, tc := range []struct {
		first, last, floor float64
		long, pass         bool
	}{
		{14, 15.3, rssRule.floor, true, true},    // +9 %
		{14, 15.5, rssRule.floor, true, false},   // +11 %
		{11, 13, fdRule.floor, true, true},       // +2 descriptors: the floor
		{11, 14, fdRule.floor, true, false},      // +3
		{5, 8, goroutineFloor, true, true},       // +3 goroutines: the floor
		{5, 12, goroutineFloor, false, false},    // a goroutine per failed load, in two minutes
		{14, 20, rssRule.floor, false, true},     // a young process in a short run
		{14, 9, rssRule.floor, true, true},       // memory given back
		{1.5, 29, latencyFloor, true, true},      // p99 within 3 × 10 ms
		{1.5, 31, latencyFloor, true, false},     // and past it
		{20, 59, latencyFloor, true, true},       // 3 × its first quarter
		{20, 61, latencyFloor, true, false},      //
		{0.9, 0.8, latencyFloor, false, true},    // a short run is only reported
		{14, 14, rssRule.floor, false, true},     //
		{100, 149, goroutineFloor, false, true},  // 50 %
		{100, 151, goroutineFloor, false, false}, //
	} {
		lim := limit(tc.first, tc.floor, tc.long)
		if tc.floor == latencyFloor {
			lim = latencyFactor * max(tc.first, latencyFloor)
		}
		if got := tc.last <= lim; got != tc.pass {
			t.Errorf("first %.1f, last %.1f (floor %.0f, long %v): limit %.2f, pass %v; want %v", tc.first, tc.last, tc.floor, tc.long, lim, got, tc.pass)
		}
	}
}

// Quarters take the samples of the first and last quarter of the run only.
func TestQuarters(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var pts []point
	for s := -10; s < 110; s++ {
		pts = append(pts, point{start.Add(time.Duration(s) * time.Second), float64(s)})
	}
	first, last := quarters(pts, start, start.Add(100*time.Second))
	if first != 12 || last != 87.5 {
		t.Errorf("quarters: %v, %v; want 12 (0…24) and 87.5 (75…100)", first, last)
	}
}

// The plot is one well-formed SVG document, with a line per series.
func TestPlot(t *testing.T) {
	v := func(f float64) *float64 { return &f }
	r := &Results{Date: "2026-12-07", Command: "make soak <&>", DurationS: 120, BucketS: 60, Series: map[string][]Point{
		"local":          {{T: 0, P50MS: v(0.5), P99MS: v(1.2), RSSMB: v(15)}, {T: 60, P50MS: v(0.4), P99MS: v(1.1), RSSMB: v(15.2)}},
		"keygate-steady": {{T: 0, P50MS: v(0.6), P99MS: v(2), RSSMB: v(14)}, {T: 60}},
	}}
	svg := plot(r, []span{{10, 20}}, []mark{{60, "keys revoke --now soak-3"}})
	dec := xml.NewDecoder(strings.NewReader(svg))
	lines := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the SVG does not parse: %v\n%s", err, svg)
		}
		if el, ok := tok.(xml.StartElement); ok && el.Name.Local == "polyline" {
			lines++
		}
	}
	if lines != 6 {
		t.Errorf("%d lines, want 6 (p50, p99, memory for two environments)", lines)
	}
}
