package requestid_test

import (
	"context"
	"regexp"
	"testing"

	"github.com/keygate/keygate/internal/requestid"
)

func TestWithFrom(t *testing.T) {
	if got := requestid.From(context.Background()); got != "" {
		t.Errorf("From(a bare context) = %q, want empty", got)
	}
	if got := requestid.From(requestid.With(context.Background(), "abc")); got != "abc" {
		t.Errorf("From = %q, want abc", got)
	}
}

func TestNew(t *testing.T) {
	a, b := requestid.New(), requestid.New()
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(a) || a == b {
		t.Errorf("New = %q then %q, want two different 32-digit hex IDs", a, b)
	}
}
