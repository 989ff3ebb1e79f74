package e2e

import (
	"testing"

	"github.com/keygate/keygate/internal/samcheck"
)

// expectedStatus is the status the event must get, from the table the SAM
// checks share (samcheck.Expected). The event's own content must imply the
// same status, so that a fixture whose name and content disagree is caught.
func expectedStatus(t *testing.T, fx fixture) int {
	t.Helper()
	want, ok := samcheck.Expected[fx.Name]
	if !ok {
		t.Fatalf("%s has no entry in samcheck.Expected", fx.Name)
	}
	if implied := fx.impliedStatus(); implied != want {
		t.Errorf("%s: samcheck.Expected says %d, but the event's method, path and x-api-key imply %d", fx.Name, want, implied)
	}
	return want
}
