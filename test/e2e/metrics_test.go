package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	samples "github.com/keygate/keygate/events"
	"github.com/keygate/keygate/internal/testsupport/emftest"
	"github.com/keygate/keygate/internal/testsupport/smfake"
	"github.com/keygate/keygate/test/internal/wait"
	"github.com/keygate/keygate/test/rie"
)

// emitted is what CloudWatch would extract from the function's output so
// far: the sum of each datum's values by its key (Requests{door=rest,
// outcome=invalid}), the values of each metric, the decision lines (msg
// request or authorization) and how many of them carry metrics, and the
// namespaces named.
type emitted struct {
	sums       map[string]float64
	values     map[string][]float64
	decisions  int
	counted    int
	namespaces map[string]bool
}

// extract reads every line of f's output that is a JSON object (the
// emulator's own lines are not): each one with _aws must be a valid EMF
// document.
func extract(t *testing.T, f *rie.Function) emitted {
	t.Helper()
	e := emitted{sums: map[string]float64{}, values: map[string][]float64{}, namespaces: map[string]bool{}}
	for _, line := range strings.Split(f.Logs(), "\n") {
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var rec struct{ Msg string }
		if json.Unmarshal([]byte(line), &rec) != nil {
			continue // Unstructured (checkLogs) reports it
		}
		decision := rec.Msg == "request" || rec.Msg == "authorization"
		if decision {
			e.decisions++
		}
		doc, err := emftest.Parse([]byte(line))
		if errors.Is(err, emftest.ErrNoEMF) {
			continue
		}
		if err != nil {
			t.Errorf("not a valid EMF document: %v\n%s", err, line)
			continue
		}
		if decision {
			e.counted++
		}
		for _, d := range doc.Data {
			if err := alarmContract(t).fits(d); err != nil {
				t.Errorf("%v: the stack's alarms and dashboard (test/samcheck/testdata/metrics.json) would not see it\n%s", err, line)
			}
			e.namespaces[d.Namespace] = true
			for _, v := range d.Values {
				e.sums[d.Key()] += v
			}
			e.values[d.Metric] = append(e.values[d.Metric], d.Values...)
		}
	}
	return e
}

// contract is the metrics the stack's alarms and dashboard are built on
// (test/samcheck/testdata/metrics.json, which samcheck holds the template
// to): each metric's unit and dimension sets, each dimension's values.
type contract struct {
	Metrics map[string]struct {
		Unit       string
		Dimensions [][]string
	}
	Values map[string][]string
}

func alarmContract(t *testing.T) contract {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "samcheck", "testdata", "metrics.json"))
	if err != nil {
		t.Fatal(err)
	}
	var c contract
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatalf("metrics.json: %v", err)
	}
	return c
}

// fits says how a datum the function emitted breaks the contract.
func (c contract) fits(d emftest.Datum) error {
	m, ok := c.Metrics[d.Metric]
	if !ok {
		return fmt.Errorf("metric %s is not in the contract", d.Metric)
	}
	if d.Unit != m.Unit {
		return fmt.Errorf("%s has unit %s, the contract %s", d.Metric, d.Unit, m.Unit)
	}
	names := slices.Sorted(maps.Keys(d.Dimensions))
	if !slices.ContainsFunc(m.Dimensions, func(set []string) bool { return slices.Equal(slices.Sorted(slices.Values(set)), names) }) {
		return fmt.Errorf("%s has dimensions %v, the contract %v", d.Metric, names, m.Dimensions)
	}
	for n, v := range d.Dimensions {
		if !slices.Contains(c.Values[n], v) {
			return fmt.Errorf("%s has %s=%s, which the contract does not list (%v)", d.Metric, n, v, c.Values[n])
		}
	}
	return nil
}

// of returns the sums whose key names metric.
func (e emitted) of(metric string) map[string]float64 {
	out := map[string]float64{}
	for k, v := range e.sums {
		if strings.HasPrefix(k, metric+"{") {
			out[k] = v
		}
	}
	return out
}

// Every sample event of every door through the real bootstrap and
// emulator, with events/env.json's configuration (three clients in
// API_KEY) and METRICS_NAMESPACE unset (Keygate): every line with _aws is
// valid EMF; the Requests per outcome and per outcome and door add up to
// exactly what was sent (events/expected.json); the cold start's load is
// the one KeyLoads; every decision carries a KeySetAge, never negative.
func TestMetricsUnderEmulator(t *testing.T) {
	evs, err := samples.All()
	if err != nil {
		t.Fatal(err)
	}
	f := startFunction(t, envFile(t)...)
	want := map[string]float64{}
	for _, ev := range evs {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err := f.Invoke(ctx, ev.Payload)
		cancel()
		if err != nil {
			t.Fatalf("%s: %v", ev.Name, err)
		}
		want[fmt.Sprintf("Requests{outcome=%s}", ev.Want.Outcome)]++
		want[fmt.Sprintf("Requests{door=%s,outcome=%s}", ev.Door, ev.Want.Outcome)]++
	}
	var e emitted
	wait.Until(t, 10*time.Second, "decision lines", func() (bool, string) {
		e = extract(t, f)
		return e.decisions == len(evs), fmt.Sprintf("%d of %d", e.decisions, len(evs))
	})

	if e.counted != len(evs) {
		t.Errorf("%d of %d decision lines carry metrics", e.counted, len(evs))
	}
	if got := e.of("Requests"); !maps.Equal(got, want) {
		t.Errorf("Requests:\n%s\nwant (%d events):\n%s", show(got), len(evs), show(want))
	}
	if got := e.of("KeyLoads"); !maps.Equal(got, map[string]float64{"KeyLoads{trigger=init}": 1, "KeyLoads{}": 1}) {
		t.Errorf("KeyLoads %v, want one, for the cold start (trigger init)", got)
	}
	for _, m := range []string{"KeyLoadFailures", "KeysUnavailable"} {
		if got := e.of(m); len(got) > 0 {
			t.Errorf("%s %v, want none", m, got)
		}
	}
	ages := e.values["KeySetAge"]
	if len(ages) != len(evs) || slices.Min(ages) < 0 {
		t.Errorf("KeySetAge %v, want one per event (%d), none negative", ages, len(evs))
	}
	if want := map[string]bool{"Keygate": true}; !maps.Equal(e.namespaces, want) {
		t.Errorf("namespaces %v, want the default Keygate", e.namespaces)
	}
	if n := initCount(f); n != 1 {
		t.Errorf("%d cold starts, want 1", n)
	}
}

// METRICS_NAMESPACE as the bootstrap reads it through the emulator: set
// empty, no line carries metrics (the variable reaches the function empty,
// not unset); set, the metrics are in that namespace.
func TestMetricsNamespaceUnderEmulator(t *testing.T) {
	ev := pick(t, loadEvents(t), doorREST, 200, nil)
	for _, tc := range []struct {
		value string
		want  map[string]bool // namespaces
	}{
		{"", map[string]bool{}},
		{"MyTeam/Keygate e2e", map[string]bool{"MyTeam/Keygate e2e": true}},
	} {
		t.Run(fmt.Sprintf("%q", tc.value), func(t *testing.T) {
			f := startFunction(t, append(envFile(t), "METRICS_NAMESPACE="+tc.value)...)
			invoke(t, f, ev.Payload)
			var e emitted
			wait.Until(t, 10*time.Second, "the request line", func() (bool, string) {
				e = extract(t, f)
				return e.decisions == 1, fmt.Sprintf("%d lines", e.decisions)
			})
			if !maps.Equal(e.namespaces, tc.want) {
				t.Errorf("namespaces %v, want %v", e.namespaces, tc.want)
			}
			if off := len(tc.want) == 0; off && (e.counted > 0 || strings.Contains(f.Logs(), `"_aws"`)) {
				t.Errorf("metrics with METRICS_NAMESPACE empty:\n%s", f.Logs())
			}
		})
	}
}

func show(m map[string]float64) string {
	var lines []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		lines = append(lines, fmt.Sprintf("  %s %g", k, m[k]))
	}
	return strings.Join(lines, "\n")
}

// The outcomes no sample event has, through the real bootstrap: a key
// past its expiry (expired), and a cold start whose secret read fails
// (unavailable: KeyLoadFailures{trigger=init}, and KeysUnavailable, as no
// set is in force; no KeyLoads, no KeySetAge).
func TestMetricsOfExpiredAndUnavailable(t *testing.T) {
	rest := pick(t, loadEvents(t), doorREST, 200, nil)
	t.Run("expired", func(t *testing.T) {
		past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
		f := startFunction(t, `API_KEY={"api_keys":{"old":{"key":"`+rightKey+`","expires":"`+past+`"},"other":"`+wrongKey+`"}}`)
		invoke(t, f, rest.Payload)
		var e emitted
		wait.Until(t, 10*time.Second, "the request line", func() (bool, string) {
			e = extract(t, f)
			return e.decisions == 1, fmt.Sprintf("%d lines", e.decisions)
		})
		want := map[string]float64{"Requests{outcome=expired}": 1, "Requests{door=rest,outcome=expired}": 1}
		if got := e.of("Requests"); !maps.Equal(got, want) {
			t.Errorf("Requests %v, want %v", got, want)
		}
	})
	t.Run("unavailable", func(t *testing.T) {
		srv := newStore(t)
		srv.Put(secretName, rightKey)
		srv.Fail("GetSecretValue", smfake.UnavailableFault)
		f := startWithSecret(t, srv, secretName)
		invoke(t, f, rest.Payload)
		var e emitted
		wait.Until(t, 10*time.Second, "the request line", func() (bool, string) {
			e = extract(t, f)
			return e.decisions == 1, fmt.Sprintf("%d lines", e.decisions)
		})
		for metric, want := range map[string]map[string]float64{
			"Requests":        {"Requests{outcome=unavailable}": 1, "Requests{door=rest,outcome=unavailable}": 1},
			"KeyLoadFailures": {"KeyLoadFailures{trigger=init}": 1, "KeyLoadFailures{}": 1},
			"KeysUnavailable": {"KeysUnavailable{}": 1},
			"KeyLoads":        {},
		} {
			if got := e.of(metric); !maps.Equal(got, want) {
				t.Errorf("%s %v, want %v", metric, got, want)
			}
		}
		if ages := e.values["KeySetAge"]; len(ages) != 0 {
			t.Errorf("KeySetAge %v with no set in force, want none", ages)
		}
	})
}
