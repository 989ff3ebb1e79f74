package samcheck

import (
	"strconv"
	"strings"
	"testing"

	"github.com/keygate/keygate/test/internal/recorder"
)

// A scenario value that does not parse fails the test and names itself:
// it once read as the default, so RotationDays "7d" expected no rotation
// and the checks asserted exactly that.
func TestScenarioValueTypoFails(t *testing.T) {
	read := func(sc scenario) func(testing.TB) {
		return func(tb testing.TB) {
			sc.expect(tb)
			throttling(tb, sc)
		}
	}
	for _, tc := range []struct{ param, value string }{
		{"RotationDays", "7d"},
		{"RotationDays", "7.0"},
		{"AuthorizerCacheTtl", "3O0"}, // a letter O
		{"ThrottlingRateLimit", "5x"},
		{"ThrottlingBurstLimit", "NaN"},
		{"KeySetMaxAge", "9OO"},
		{"InvalidKeyThreshold", "1e2"},
		{"BasicPlanRateLimit", "2/s"},
		{"GoldPlanDailyQuota", "NaN"},
	} {
		t.Run(tc.param+"="+tc.value, func(t *testing.T) {
			errs := recorder.Failures(t, read(scenario{"typo", map[string]string{tc.param: tc.value}}))
			if want := tc.param + "=" + strconv.Quote(tc.value); len(errs) != 1 || !strings.Contains(errs[0], want) {
				t.Errorf("failures %q, want one naming %s", errs, want)
			}
		})
	}
	for _, sc := range scenarios {
		if errs := recorder.Failures(t, read(sc)); len(errs) > 0 {
			t.Errorf("scenario %q as written: %q", sc.name, errs)
		}
	}
}

// A value in the template that is not a whole number never reads as one.
func TestNum(t *testing.T) {
	for _, tc := range []struct {
		in   any
		want int
	}{
		{300.0, 300}, {60, 60}, {"60", 60}, {"6O", -1}, {"", -1}, {true, -1}, {nil, -1},
	} {
		if got := num(tc.in); got != tc.want {
			t.Errorf("num(%#v) = %d, want %d", tc.in, got, tc.want)
		}
	}
}
