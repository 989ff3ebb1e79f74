package main

import (
	"flag"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/keygate/keygate/internal/bench"
	"github.com/keygate/keygate/internal/frontdoor"
)

// benchPair is one front door's in-process numbers: keygate and the
// hand-written baseline, the bodies of BenchmarkInvoke in
// internal/frontdoor.
type benchPair struct {
	door            frontdoor.Kind
	keygate, direct testing.BenchmarkResult
}

func inProcess(evs map[frontdoor.Kind]bench.Event, benchtime string) []benchPair {
	testing.Init()
	_ = flag.Set("test.benchtime", benchtime)
	var out []benchPair
	for _, door := range bench.Doors {
		payload := evs[door].Payload
		run := func(h lambda.Handler) testing.BenchmarkResult {
			return testing.Benchmark(func(b *testing.B) { bench.Run(b, h, payload) })
		}
		out = append(out, benchPair{door: door, keygate: run(bench.Keygate(nil)), direct: run(bench.Direct(door, nil))})
	}
	return out
}
