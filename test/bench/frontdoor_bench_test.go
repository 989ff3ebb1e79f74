package bench_test

import (
	"testing"

	"github.com/keygate/keygate/internal/frontdoor"
	"github.com/keygate/keygate/test/bench"
)

// BenchmarkInvoke times the whole invocation path, from the raw event bytes
// the runtime hands over to the response bytes it sends back, for each
// front door: keygate (front door, proxy adapter, http.Handler, key cache,
// production logger) against the hand-written baseline (package
// bench/direct, aws-lambda-go's events and lambda.NewHandler, no proxy).
// `make bench` prints the same numbers in its table.
func BenchmarkInvoke(b *testing.B) {
	evs, err := bench.Events()
	if err != nil {
		b.Fatal(err)
	}
	for _, door := range bench.Doors {
		payload := evs[door].Payload
		b.Run(string(door)+"/keygate", func(b *testing.B) { bench.Run(b, bench.Keygate(nil), payload) })
		b.Run(string(door)+"/direct", func(b *testing.B) { bench.Run(b, bench.Direct(door, nil), payload) })
	}
}

// BenchmarkDetect times telling the front door from the event alone.
func BenchmarkDetect(b *testing.B) {
	evs, err := bench.Events()
	if err != nil {
		b.Fatal(err)
	}
	for _, door := range bench.Doors {
		payload := evs[door].Payload
		b.Run(string(door), func(b *testing.B) {
			if got := frontdoor.Detect(payload); got != door {
				b.Fatalf("Detect = %s, want %s", got, door)
			}
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				frontdoor.Detect(payload)
			}
		})
	}
}
