package main

import (
	"cmp"
	"flag"
	"slices"
	"testing"

	samples "github.com/keygate/keygate/events"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/keygate/keygate/internal/frontdoor"
	"github.com/keygate/keygate/test/bench"
)

// benchPair is one front door's in-process numbers: keygate and the
// hand-written baseline, the bodies of BenchmarkInvoke in
// internal/frontdoor.
type benchPair struct {
	door            frontdoor.Kind
	keygate, direct testing.BenchmarkResult
}

// inProcess runs each pair rounds times, alternating keygate and direct,
// and keeps each one's median run (by ns/op): a burst of load from another
// process then spoils one run, not the result.
func inProcess(evs map[frontdoor.Kind]samples.Event, benchtime string, rounds int) []benchPair {
	testing.Init()
	_ = flag.Set("test.benchtime", benchtime)
	var out []benchPair
	for _, door := range bench.Doors {
		payload := evs[door].Payload
		run := func(h lambda.Handler) testing.BenchmarkResult {
			return testing.Benchmark(func(b *testing.B) { bench.Run(b, h, payload) })
		}
		var k, d []testing.BenchmarkResult
		for range rounds {
			k = append(k, run(bench.Keygate(nil)))
			d = append(d, run(bench.Direct(door, nil)))
		}
		out = append(out, benchPair{door: door, keygate: medianResult(k), direct: medianResult(d)})
	}
	return out
}

func medianResult(rs []testing.BenchmarkResult) testing.BenchmarkResult {
	slices.SortFunc(rs, func(a, b testing.BenchmarkResult) int { return cmp.Compare(a.NsPerOp(), b.NsPerOp()) })
	return rs[len(rs)/2]
}
