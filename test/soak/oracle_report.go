package soak

import (
	"fmt"
	"strings"
	"time"
)

// What the oracle tells the report: a key's history for a wrong answer,
// whether a log line holds a key, the faults and restarts for the plot.

// history tells what the oracle knows of key, for a wrong answer's report:
// each state in which its standing changed, and the faults around sent.
func (o *Oracle) history(key string, start, sent time.Time) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var lines []string
	prev := ""
	for _, s := range o.states {
		now := describe(s, key)
		if now == prev {
			continue
		}
		prev = now
		lines = append(lines, fmt.Sprintf("    %s…%s  %s  (after %s)\n", since(s.from, start), since(s.to, start), now, s.what))
	}
	var b strings.Builder
	if len(lines) > 15 {
		fmt.Fprintf(&b, "    (%d earlier changes)\n", len(lines)-15)
		lines = lines[len(lines)-15:]
	}
	b.WriteString(strings.Join(lines, ""))
	for _, f := range o.faults {
		if f.begin.After(sent.Add(-2*time.Minute)) && f.begin.Before(sent.Add(time.Minute)) {
			fmt.Fprintf(&b, "    fault %q from %s to %s\n", f.kind, since(f.begin, start), since(f.end, start))
		}
	}
	return b.String()
}

func describe(s *state, key string) string {
	if !s.loadable() {
		return "AWSCURRENT does not parse"
	}
	var parts []string
	if e, ok := s.current[key]; ok {
		parts = append(parts, fmt.Sprintf("AWSCURRENT %s as %q%s", s.currentID[:8], e.client, expiry(e)))
	}
	if e, ok := s.previous[key]; ok {
		parts = append(parts, fmt.Sprintf("AWSPREVIOUS %s as %q%s, grace until %s", s.previousID[:8], e.client, expiry(e), s.graceHi.Format("15:04:05.000")))
	}
	if len(parts) == 0 {
		return "not in the secret"
	}
	return strings.Join(parts, "; ")
}

func expiry(e entry) string {
	if e.expires.IsZero() {
		return ""
	}
	return " expiring " + e.expires.Format("15:04:05")
}

// holds returns the start of a key the soak knows that line holds ("" if
// none): no log line may hold one.
func (o *Oracle) holds(line string) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	for key := range o.keys.keys {
		if strings.Contains(line, key) {
			return key[:8]
		}
	}
	if strings.Contains(line, fixtures[3].key) {
		return fixtures[3].key[:8]
	}
	return ""
}

// spans returns the faults and the revokes with --now, for the plot.
func (o *Oracle) spans(start time.Time) ([]span, []mark) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var faults []span
	for _, f := range o.faults {
		faults = append(faults, span{f.begin.Sub(start).Seconds(), f.end.Sub(start).Seconds()})
	}
	var marks []mark
	for _, s := range o.states {
		if s.kind == "keys revoke --now" {
			marks = append(marks, mark{s.to.Sub(start).Seconds(), s.what})
		}
	}
	return faults, marks
}
