package e2e

import "testing"

// expectedStatus is the status the event must get.
func expectedStatus(t *testing.T, fx fixture) int {
	t.Helper()
	return fx.impliedStatus()
}
