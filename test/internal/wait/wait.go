// Package wait polls a condition in the harness's tests: a guard against a
// hang, never a timing assertion (the bound is generous; only a condition
// that never comes true fails).
package wait

import (
	"testing"
	"time"
)

// Until calls check every 20 ms until it reports done, and fails t with
// the last state check reported if that takes longer than bound.
func Until(t testing.TB, bound time.Duration, what string, check func() (done bool, state string)) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for {
		done, state := check()
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %s after %s", what, state, bound)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
