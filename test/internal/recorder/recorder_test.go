package recorder

import (
	"reflect"
	"testing"
)

func TestFailures(t *testing.T) {
	tests := []struct {
		name  string
		check func(testing.TB)
		want  []string
	}{
		{"passes", func(testing.TB) {}, nil},
		{"errors", func(tb testing.TB) { tb.Errorf("a %d", 1); tb.Error("b") }, []string{"a 1", "b"}},
		{"fatal stops the check", func(tb testing.TB) { tb.Fatalf("stop"); tb.Error("not reached") }, []string{"stop"}},
		{"failnow", func(tb testing.TB) { tb.FailNow() }, []string{"Fail"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Failures(t, tt.check); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Failures = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestOtherPanicsPropagate(t *testing.T) {
	defer func() {
		if v := recover(); v != "boom" {
			t.Errorf("recovered %v, want the check's own panic", v)
		}
	}()
	Failures(t, func(testing.TB) { panic("boom") })
}
