package soak

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Check is one flatness rule applied to one process.
type Check struct {
	What     string  `json:"what"`
	Env      string  `json:"env"`
	First    float64 `json:"first_quarter"`
	Last     float64 `json:"last_quarter"`
	Limit    float64 `json:"limit"`
	Enforced bool    `json:"enforced"`
	Pass     bool    `json:"pass"`
}

func (c Check) String() string {
	state := "ok"
	switch {
	case !c.Pass && c.Enforced:
		state = "FAILED"
	case !c.Pass:
		state = "over (not enforced in a short run)"
	}
	return fmt.Sprintf("%s of %s: first quarter %.2f, last %.2f, limit %.2f: %s", c.What, c.Env, c.First, c.Last, c.Limit, state)
}

// A resource is flat when the mean of its samples over the last quarter of
// the run exceeds the mean over the first by at most
// max(tolerance × first, floor). Means, not single samples: a GC cycle or
// a fault's retries move one sample, a leak moves them all. Growth only: a
// process that gives memory back is not leaking. The floor is for small
// numbers, where 10 % is less than one unit: a process has about ten file
// descriptors and ten goroutines, and one more HTTP connection to the
// store (a descriptor, two goroutines) comes and goes with its faults.
//
// An hour (a run of 10 minutes or more) gets 10 %; a short run 50 % and
// twice the floor: its first quarter is half a minute of a young process.
// That still catches a descriptor or a goroutine kept by each failed load
// (dozens in two minutes of faults), not a slow leak of memory.
//
// The floors: 2 descriptors (a connection to the store is one, and when a
// fault resets it the next may open before the old one is closed), 3
// goroutines (such a connection has two; the load that logs the count is
// one), 1 MiB of memory (only for a process under 10 MiB: keygate's are
// 13 to 15).
type resourceRule struct {
	what  string
	floor float64
	value func(memSample) float64
}

var (
	rssRule = resourceRule{"rss_mb", 1, func(s memSample) float64 { return s.rssMB }}
	fdRule  = resourceRule{"fds", 2, func(s memSample) float64 { return s.fds }}
)

const goroutineFloor = 3

func limit(first, floor float64, long bool) float64 {
	tol := 0.10
	if !long {
		tol, floor = 0.50, 2*floor
	}
	return first + max(tol*first, floor)
}

// Latency is flat when the last quarter's p99 is at most latencyFactor
// times the first's (or of latencyFloor, whichever is more), a quarter's
// p99 being the median of its minutes' p99s. A factor, as latency on a
// shared 2-core machine moves with whatever else runs there, yet a drift
// (a cost that grows with the hours) crosses it. It is enforced in runs
// of 10 minutes or more only: a short run must never fail on a timing.
const (
	latencyFactor = 3
	latencyFloor  = 10 // ms
)

// quarters returns the means of the points in the first and the last
// quarter of [start, end] (NaN when a quarter has none).
func quarters(points []point, start, end time.Time) (first, last float64) {
	q := end.Sub(start) / 4
	var a, b []float64
	for _, p := range points {
		switch {
		case p.at.Before(start) || p.at.After(end):
		case p.at.Before(start.Add(q)):
			a = append(a, p.v)
		case !p.at.Before(end.Add(-q)):
			b = append(b, p.v)
		}
	}
	return mean(a), mean(b)
}

// point is one sample of one measure.
type point struct {
	at time.Time
	v  float64
}

func mean(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// percentile returns the p-th percentile (0 < p ≤ 1) of ms, nearest rank.
func percentile(ms []float64, p float64) float64 {
	if len(ms) == 0 {
		return math.NaN()
	}
	s := slices.Clone(ms)
	slices.Sort(s)
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return s[max(i, 0)]
}
