package soak

import (
	"fmt"
	"html"
	"maps"
	"math"
	"slices"
	"strings"
)

// span is a stretch of the run to shade (a store fault), in seconds.
type span struct{ from, to float64 }

// mark is a moment to draw a line at (a revoke --now), in seconds.
type mark struct {
	at    float64
	label string
}

// plot draws the series as an SVG: p50 (dashed) and p99 latency per
// environment on a log scale, then resident memory; faults shaded.
func plot(r *Results, faults []span, marks []mark) string {
	const w, left, right, panel, top, gap = 960.0, 70.0, 170.0, 230.0, 40.0, 60.0
	h := top + 2*panel + gap + 50
	total := r.DurationS
	x := func(s float64) float64 { return left + s/total*(w-left-right) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="sans-serif" font-size="12">`+"\n", w, h)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%.0f" y="22" font-size="15">keygate soak, %s: %s, %d requests, %d wrong</text>`+"\n",
		left, html.EscapeString(r.Date), html.EscapeString(r.Command), r.Requests, r.WrongAllows+r.WrongRefusals+r.WrongOther)
	names := slices.Sorted(maps.Keys(r.Series))
	colors := []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"}

	type line struct {
		name   string
		dashed bool
		get    func(Point) *float64
	}
	draw := func(y0 float64, title, unit string, logScale bool, lines []line) {
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, l := range lines {
			for _, p := range r.Series[l.name] {
				if v := l.get(p); v != nil && (!logScale || *v > 0) {
					lo, hi = min(lo, *v), max(hi, *v)
				}
			}
		}
		if math.IsInf(lo, 0) {
			lo, hi = 0, 1
		}
		if logScale {
			lo, hi = math.Pow(10, math.Floor(math.Log10(lo))), math.Pow(10, math.Ceil(math.Log10(hi)))
		} else {
			lo, hi = 0, math.Ceil(hi*1.1/niceStep(hi))*niceStep(hi)
		}
		y := func(v float64) float64 {
			if logScale {
				return y0 + panel - (math.Log10(v)-math.Log10(lo))/(math.Log10(hi)-math.Log10(lo))*panel
			}
			return y0 + panel - (v-lo)/(hi-lo)*panel
		}
		for _, f := range faults {
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#f4c7c3" opacity="0.6"/>`+"\n", x(f.from), y0, max(x(f.to)-x(f.from), 1), panel)
		}
		for _, m := range marks {
			fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#555" stroke-dasharray="2,3"/>`+"\n", x(m.at), x(m.at), y0, y0+panel)
		}
		fmt.Fprintf(&b, `<rect x="%.0f" y="%.1f" width="%.0f" height="%.0f" fill="none" stroke="#333"/>`+"\n", left, y0, w-left-right, panel)
		fmt.Fprintf(&b, `<text x="%.0f" y="%.1f">%s</text>`+"\n", left, y0-8, html.EscapeString(title))
		var ticks []float64
		for v := lo; !logScale && v <= hi; v += niceStep(hi) {
			ticks = append(ticks, v)
		}
		if logScale {
			ticks = nil
			for v := lo; v <= hi*1.001; v *= 10 {
				ticks = append(ticks, v)
			}
		}
		for _, v := range ticks {
			fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" text-anchor="end">%s %s</text>`+"\n", left-6, y(v)+4, trim(v), unit)
		}
		for _, l := range lines {
			var pts []string
			for _, p := range r.Series[l.name] {
				if v := l.get(p); v != nil && (!logScale || *v > 0) {
					pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(p.T+r.BucketS/2), y(*v)))
				}
			}
			row := slices.Index(names, l.name)
			c := colors[row%len(colors)]
			dash := ""
			if l.dashed {
				dash = ` stroke-dasharray="5,3"`
			}
			fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.5"%s points="%s"/>`+"\n", c, dash, strings.Join(pts, " "))
			if !l.dashed {
				fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" fill="%s">%s</text>`+"\n", w-right+10, y0+16+float64(row)*16, c, html.EscapeString(l.name))
			}
		}
	}
	var lat, mem []line
	for _, n := range names {
		lat = append(lat, line{n, true, func(p Point) *float64 { return p.P50MS }}, line{n, false, func(p Point) *float64 { return p.P99MS }})
		mem = append(mem, line{n, false, func(p Point) *float64 { return p.RSSMB }})
	}
	draw(top+20, "latency per environment: p99 (solid), p50 (dashed)", "ms", true, lat)
	draw(top+20+panel+gap, "resident memory per environment (a revoke --now, dotted, replaces the keygate function's)", "MB", false, mem)
	y := top + 20 + 2*panel + gap + 20
	for m := 0.0; m <= total; m += ticksEvery(total) {
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", x(m), y, axisLabel(m))
	}
	fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" fill="#b03a2e">shaded: store faults</text>`+"\n", w-right+10, top+20+panel+gap+panel-10)
	b.WriteString("</svg>\n")
	return b.String()
}

// niceStep is a round step (1, 2 or 5 times a power of ten) that cuts
// [0, hi] into about four.
func niceStep(hi float64) float64 {
	if hi <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(hi/4)))
	for _, m := range []float64{1, 2, 5, 10} {
		if hi/(m*p) <= 5 {
			return m * p
		}
	}
	return 10 * p
}

// trim formats an axis value briefly.
func trim(v float64) string {
	if v >= 10 || v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.2f", v), "0"), ".")
}

func ticksEvery(total float64) float64 {
	for _, t := range []float64{10, 30, 60, 300, 600} {
		if total/t <= 12 {
			return t
		}
	}
	return 1200
}

func axisLabel(s float64) string {
	if s < 120 {
		return fmt.Sprintf("%.0f s", s)
	}
	return fmt.Sprintf("%.0f min", s/60)
}
