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

// rulesResult is what a key's rules cost: the REST event's invocation with
// a governed key (routes, sources, meta) and with the same key plain, and
// one decision against a set of 500 governed clients and against one.
type rulesResult struct {
	plain, governed, one, many testing.BenchmarkResult
}

// rulesBench runs each pair rounds times, alternating, medians kept.
func rulesBench(evs map[frontdoor.Kind]samples.Event, rounds int) rulesResult {
	payload := evs[frontdoor.REST].Payload
	invoke := func(secret string) func(*testing.B) {
		h := bench.KeygateWith(secret)
		return func(b *testing.B) { bench.Run(b, h, payload) }
	}
	decide := func(n int) func(*testing.B) {
		d := bench.Decide(bench.ClientsSecret(n))
		return func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				d()
			}
		}
	}
	pair := func(a, b func(*testing.B)) (testing.BenchmarkResult, testing.BenchmarkResult) {
		var as, bs []testing.BenchmarkResult
		for range rounds {
			as = append(as, testing.Benchmark(a))
			bs = append(bs, testing.Benchmark(b))
		}
		return medianResult(as), medianResult(bs)
	}
	var r rulesResult
	r.plain, r.governed = pair(invoke(bench.PlainSecret), invoke(bench.GovernedSecret))
	r.one, r.many = pair(decide(1), decide(500))
	return r
}
