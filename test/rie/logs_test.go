package rie

import (
	"slices"
	"strings"
	"testing"
)

// The emulator's own lines are passed over; of the function's, only JSON
// records with a level and a message count as structured.
func TestUnstructured(t *testing.T) {
	logs := strings.Join([]string{
		`02 Dec 2026 10:11:12,345 [INFO] (rapid) exec '/var/task/bootstrap' (cwd=/var/task, handler=)`,
		`time=2026-12-02T10:11:12.345Z level=INFO msg="Runtime API Server listening"`,
		`START RequestId: 5a1c Version: $LATEST`,
		`END RequestId: 5a1c`,
		`REPORT RequestId: 5a1c	Duration: 1.02 ms	Billed Duration: 2 ms`,
		`{"time":"2026-12-02T10:11:12Z","level":"INFO","msg":"request","status":200}`,
		``,
		`{"time":"2026-12-02T10:11:12Z","level":"INFO","status":200}`,
		`{"level":"INFO","msg":"request"}{"level":"INFO","msg":"request"}`,
		`panic: something`,
		`WARNING: DATA RACE`,
	}, "\n")
	want := []string{
		`{"time":"2026-12-02T10:11:12Z","level":"INFO","status":200}`,
		`{"level":"INFO","msg":"request"}{"level":"INFO","msg":"request"}`,
		`panic: something`,
		`WARNING: DATA RACE`,
	}
	if got := unstructured(logs); !slices.Equal(got, want) {
		t.Errorf("unstructured:\n%q\nwant:\n%q", got, want)
	}
}
