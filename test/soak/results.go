package soak

import (
	"encoding/json"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Results is bin/soak/results.json. The top-level resource figures are
// sums over the processes that lived the whole run (the ones the
// flatness rules judge); Processes has each one's.
type Results struct {
	Date     string            `json:"date"`
	Commit   string            `json:"commit"`
	Command  string            `json:"command"`
	Settings map[string]string `json:"settings"`

	DurationS        float64 `json:"duration_s"`
	Requests         int     `json:"requests"`
	WrongAllows      int     `json:"wrong_allows"`
	WrongRefusals    int     `json:"wrong_refusals"`
	WrongOther       int     `json:"wrong_other"`
	StraddledReads   int     `json:"straddled_reads"`
	HygieneFailures  int     `json:"hygiene_failures"`
	InvocationErrors int     `json:"invocation_errors"`
	KeyLeaks         int     `json:"key_leaks"`

	RSSMBFirstQuarter      float64 `json:"rss_mb_first_quarter"`
	RSSMBLastQuarter       float64 `json:"rss_mb_last_quarter"`
	GoroutinesFirstQuarter float64 `json:"goroutines_first_quarter"`
	GoroutinesLastQuarter  float64 `json:"goroutines_last_quarter"`
	FDsFirstQuarter        float64 `json:"fds_first_quarter"`
	FDsLastQuarter         float64 `json:"fds_last_quarter"`

	Checks  []Check         `json:"checks"`
	Windows []Window        `json:"windows"`
	Changes map[string]int  `json:"changes"`
	Failed  map[string]int  `json:"changes_failed"`
	Loads   map[string]Load `json:"key_loads"`

	// Series has, per environment (all its generations), one point a
	// BucketS seconds: a minute in an hour's run.
	BucketS float64            `json:"bucket_s"`
	Series  map[string][]Point `json:"series"`
}

// Load counts one environment's key-load log lines.
type Load struct {
	Loaded int `json:"loaded"`
	Failed int `json:"failed"`
}

// Point is one bucket of one environment; absent figures had no sample.
type Point struct {
	T          float64  `json:"t_s"`
	Requests   int      `json:"requests"`
	P50MS      *float64 `json:"p50_ms,omitempty"`
	P99MS      *float64 `json:"p99_ms,omitempty"`
	RSSMB      *float64 `json:"rss_mb,omitempty"`
	Goroutines *float64 `json:"goroutines,omitempty"`
	FDs        *float64 `json:"fds,omitempty"`
}

// measures is what a run leaves for its report.
type measures struct {
	start, end time.Time
	base       time.Time // what latency's at counts from
	long       bool
	steady     []string // the environments that lived the whole run
	latency    map[string][]latency
	mem        []memSample
	gor        []gorSample
}

// flatness applies the rules of flat.go to every steady environment and
// fills the top-level quarter figures.
func (m *measures) flatness(r *Results) {
	for _, name := range m.steady {
		var rss, fds, gor []point
		for _, s := range m.mem {
			if s.env == name {
				rss = append(rss, point{s.at, rssRule.value(s)})
				fds = append(fds, point{s.at, fdRule.value(s)})
			}
		}
		for _, s := range m.gor {
			if s.env == name {
				gor = append(gor, point{s.at, s.n})
			}
		}
		for _, c := range []struct {
			what       string
			points     []point
			floor      float64
			first, lst *float64
		}{
			{rssRule.what, rss, rssRule.floor, &r.RSSMBFirstQuarter, &r.RSSMBLastQuarter},
			{fdRule.what, fds, fdRule.floor, &r.FDsFirstQuarter, &r.FDsLastQuarter},
			{"goroutines", gor, goroutineFloor, &r.GoroutinesFirstQuarter, &r.GoroutinesLastQuarter},
		} {
			first, last := quarters(c.points, m.start, m.end)
			lim := limit(first, c.floor, m.long)
			r.Checks = append(r.Checks, check(c.what, name, first, last, lim, true))
			if !math.IsNaN(first) && !math.IsNaN(last) {
				*c.first += first
				*c.lst += last
			}
		}
	}
	// Latency: the median, over each quarter's buckets (minutes), of
	// their p99: one noisy minute moves a quarter's p99, not its median.
	for _, name := range slices.Sorted(maps.Keys(r.Series)) {
		var a, b []float64
		for _, p := range r.Series[name] {
			switch {
			case p.P99MS == nil:
			case p.T < r.DurationS/4:
				a = append(a, *p.P99MS)
			case p.T >= r.DurationS*3/4:
				b = append(b, *p.P99MS)
			}
		}
		first, last := percentile(a, 0.5), percentile(b, 0.5)
		lim := latencyFactor * max(first, latencyFloor)
		r.Checks = append(r.Checks, check("p99_ms", name, first, last, lim, m.long))
	}
}

// check makes a Check; a quarter without a sample fails it (-1).
func check(what, env string, first, last, lim float64, enforced bool) Check {
	c := Check{What: what, Env: env, First: first, Last: last, Limit: lim, Enforced: enforced, Pass: last <= lim}
	if math.IsNaN(first) || math.IsNaN(last) {
		c.First, c.Last, c.Limit, c.Pass = -1, -1, -1, false
	}
	return c
}

// series cuts the run into buckets.
func (m *measures) series(r *Results) {
	bucket := time.Minute
	if !m.long {
		bucket = m.end.Sub(m.start) / 12
	}
	r.BucketS = bucket.Seconds()
	n := int(math.Ceil(float64(m.end.Sub(m.start)) / float64(bucket)))
	idx := func(t time.Time) int {
		if t.Before(m.start) || !t.Before(m.end) {
			return -1
		}
		return int(t.Sub(m.start) / bucket)
	}
	r.Series = map[string][]Point{}
	for name, ls := range m.latency {
		lat := make([][]float64, n)
		for _, l := range ls {
			if i := idx(m.base.Add(time.Duration(float64(l.at) * float64(time.Second)))); i >= 0 {
				lat[i] = append(lat[i], float64(l.ms))
			}
		}
		rss, fds, gor := make([][]float64, n), make([][]float64, n), make([][]float64, n)
		for _, s := range m.mem {
			if i := idx(s.at); i >= 0 && s.env == name {
				rss[i], fds[i] = append(rss[i], s.rssMB), append(fds[i], s.fds)
			}
		}
		for _, s := range m.gor {
			if i := idx(s.at); i >= 0 && s.env == name {
				gor[i] = append(gor[i], s.n)
			}
		}
		pts := make([]Point, n)
		for i := range pts {
			pts[i] = Point{T: float64(i) * bucket.Seconds(), Requests: len(lat[i]),
				P50MS: some(percentile(lat[i], 0.5)), P99MS: some(percentile(lat[i], 0.99)),
				RSSMB: some(mean(rss[i])), FDs: some(mean(fds[i])), Goroutines: some(mean(gor[i]))}
		}
		r.Series[name] = pts
	}
}

func some(v float64) *float64 {
	if math.IsNaN(v) {
		return nil
	}
	v = math.Round(v*100) / 100
	return &v
}

// write saves r as dir/results.json.
func (r *Results) write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "results.json"), append(b, '\n'), 0o644)
}
