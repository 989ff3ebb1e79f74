// Package recorder runs a test's checks against something deliberately
// broken and returns what they reported, so a test can assert that its
// checks would have failed (a broken event table, a broken template).
package recorder

import (
	"fmt"
	"sync"
	"testing"
)

// tb is a testing.TB that records failures instead of failing. Fatal
// and FailNow end the check with a panic that Failures recovers.
type tb struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

type fatal struct{}

func (r *tb) Helper() {}
func (r *tb) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}
func (r *tb) Error(args ...any)                 { r.Errorf("%s", fmt.Sprint(args...)) }
func (r *tb) Fatalf(format string, args ...any) { r.Errorf(format, args...); panic(fatal{}) }
func (r *tb) Fatal(args ...any)                 { r.Error(args...); panic(fatal{}) }
func (r *tb) Fail()                             { r.Errorf("Fail") }
func (r *tb) FailNow()                          { r.Fail(); panic(fatal{}) }
func (r *tb) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.errs) > 0
}

// Failures runs check on a recording testing.TB (logging, cleanup and
// the rest go to t) and returns the failures it reported, in order.
func Failures(t testing.TB, check func(testing.TB)) []string {
	r := &tb{TB: t}
	func() {
		defer func() {
			if v := recover(); v != nil {
				if _, ok := v.(fatal); !ok {
					panic(v)
				}
			}
		}()
		check(r)
	}()
	return r.errs
}
