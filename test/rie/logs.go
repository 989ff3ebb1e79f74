package rie

import (
	"encoding/json"
	"regexp"
	"strings"
)

// emulatorLine matches the lines the emulator itself writes: its own log,
// in its classic and its multi-concurrency format, and the START, END and
// REPORT lines Lambda writes around each invocation.
var emulatorLine = regexp.MustCompile(`^(\d{2} \w{3} \d{4} [\d:,]+ \[\w+\] \(rapid\) |time=\S+ level=\w+ |(START|END|REPORT) RequestId: )`)

// Unstructured returns the lines of the output that the function wrote
// and that are not a JSON log record with a level and a message, which is
// all keygate's functions write (log/slog's JSON handler). Records that
// concurrent invocations wrote over each other land here too.
func (f *Function) Unstructured() []string { return unstructured(f.Logs()) }

func unstructured(logs string) []string {
	var out []string
	for _, line := range strings.Split(logs, "\n") {
		if line == "" || emulatorLine.MatchString(line) {
			continue
		}
		var rec struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil || rec.Level == "" || rec.Msg == "" {
			out = append(out, line)
		}
	}
	return out
}
