package main

import (
	"testing"

	"github.com/keygate/keygate/internal/bench"
)

func BenchmarkProbe(b *testing.B) {
	evs, err := bench.Events("/tmp/kb/root/events")
	if err != nil {
		b.Fatal(err)
	}
	for _, door := range bench.Doors {
		p := evs[door].Payload
		b.Run(string(door)+"/keygate", func(b *testing.B) { bench.Run(b, bench.Keygate(nil), p) })
		b.Run(string(door)+"/direct", func(b *testing.B) { bench.Run(b, bench.Direct(door, nil), p) })
	}
}
