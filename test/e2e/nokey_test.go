package e2e

import (
	"context"
	"testing"
)

// With neither API_KEY_SECRET_ID nor API_KEY the function fails closed:
// every request gets 503, and the log says what to set.
func TestNoKeyConfigured(t *testing.T) {
	fxs := apiEvents(t)
	f := startFunction(t)
	checkEvents(t, f, fxs, true)
	for _, want := range []string{"API_KEY_SECRET_ID", "API_KEY", "every request gets 503"} {
		if err := f.WaitLog(context.Background(), want); err != nil {
			t.Errorf("the log does not say what to set: %v", err)
		}
	}
}
