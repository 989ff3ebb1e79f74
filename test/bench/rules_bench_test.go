package bench_test

import (
	"testing"

	"github.com/keygate/keygate/internal/frontdoor"
	"github.com/keygate/keygate/test/bench"
)

// BenchmarkGoverned times the REST event's whole invocation with a key
// that has routes, sources and meta against the same key without them:
// what the rules cost (`make bench` prints the ratio).
func BenchmarkGoverned(b *testing.B) {
	evs, err := bench.Events()
	if err != nil {
		b.Fatal(err)
	}
	payload := evs[frontdoor.REST].Payload
	b.Run("plain", func(b *testing.B) { bench.Run(b, bench.KeygateWith(bench.PlainSecret), payload) })
	b.Run("governed", func(b *testing.B) { bench.Run(b, bench.KeygateWith(bench.GovernedSecret), payload) })
}

// BenchmarkDecideClients times one decision against a set of 1 and of
// 500 governed clients: the cost must not grow with the set.
func BenchmarkDecideClients(b *testing.B) {
	for _, n := range []int{1, 500} {
		decide := bench.Decide(bench.ClientsSecret(n))
		b.Run(map[int]string{1: "1", 500: "500"}[n], func(b *testing.B) {
			if !decide() {
				b.Fatal("the sample request is not allowed")
			}
			b.ReportAllocs()
			for b.Loop() {
				decide()
			}
		})
	}
}
