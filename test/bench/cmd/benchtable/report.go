package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	samples "github.com/keygate/keygate/events"

	"github.com/keygate/keygate/internal/frontdoor"
)

// functions are the programs the model cold-starts, in table order, and
// the reason for each that cannot run (the Node.js port when its build
// failed).
func functions(o options, b binaries, trust *trustLayout, evs map[frontdoor.Kind]samples.Event, dir string) ([]function, map[string]string, error) {
	rest := evs[frontdoor.REST]
	authorizer, err := event("requestauthorizer-valid-key.json")
	if err != nil {
		return nil, nil, err
	}
	ats := "AWS_CA_BUNDLE=" + trust.ats
	fns := []function{
		{key: "keygate", label: "keygate", command: []string{b.keygate}, env: []string{ats}, warm: []samples.Event{rest, authorizer},
			what: "cmd/api; AWS_CA_BUNDLE is the 5 Amazon Trust Services roots + the test root"},
		{key: "grace", label: "keygate, grace window", command: []string{b.keygate}, env: []string{ats, "API_KEY_SECRET_ID=" + graceSecret},
			what: "the same, for a secret rotated an hour ago: AWSCURRENT, and AWSPREVIOUS within KEY_GRACE"},
		{key: "system", label: "keygate, system store", command: []string{b.keygate}, env: []string{"KEYGATE_TRUST_STORE=system"},
			what: "cmd/api with KEYGATE_TRUST_STORE=system: the AL2023 bundle"},
		{key: "nometrics", label: "keygate, no metrics", command: []string{b.keygate}, env: []string{ats, "METRICS_NAMESPACE="}, warm: []samples.Event{rest},
			what: "cmd/api with METRICS_NAMESPACE empty: its log lines carry no EMF metrics (keygate's rows run with the default, Keygate)"},
		{key: "naive", label: "naive floor", command: []string{b.naive}, warm: []samples.Event{rest},
			what: "test/bench/floor/naive: config.LoadDefaultConfig, one GetSecretValue, Go's default (system) trust store"},
		{key: "direct", label: "hand-written", command: []string{b.direct}, env: []string{ats}, warm: []samples.Event{rest},
			what: "test/bench/directfn: keygate's key fetch, a REST handler on aws-lambda-go's events; AWS_CA_BUNDLE as keygate's"},
	}
	for i := range fns {
		fns[i].dir, fns[i].first = dir, rest
	}
	skipped := map[string]string{}

	py, err := pythonPort(o.python, filepath.Join(o.root, "test", "bench", "python"), dir)
	if err != nil {
		return nil, nil, err
	}
	py.first, py.warm = rest, []samples.Event{rest}
	fns = append(fns, py)

	node, reason, err := nodePort(o.node, filepath.Join(o.root, "test", "bench", "node"), trust, dir)
	if err != nil {
		return nil, nil, err
	}
	if reason != "" {
		skipped["node"] = reason
	} else {
		node.first, node.warm = rest, []samples.Event{rest}
		fns = append(fns, node)
	}
	return fns, skipped, nil
}

// pythonPort is the Python port under awslambdaric, from the venv at venv
// (make bench installs it), its app copied from src into a task root of
// its own under dir.
func pythonPort(venv, src, dir string) (function, error) {
	python := filepath.Join(venv, "bin", "python3")
	version, err := exec.Command(python, "-c", "import sys, awslambdaric, boto3; print(sys.version.split()[0])").Output()
	if err != nil {
		return function{}, fmt.Errorf("the Python port's venv %s does not run awslambdaric and boto3 (%v): make bench installs it (pip install -r test/bench/python/requirements.txt)", venv, err)
	}
	task, err := taskRoot(dir, "python-task", filepath.Join(src, "app.py"))
	if err != nil {
		return function{}, err
	}
	pins := requirementPins(filepath.Join(src, "requirements.txt"))
	return function{
		key: "python", label: "Python port",
		command: []string{python, "-m", "awslambdaric", "app.handler"},
		dir:     task,
		// botocore trusts its own copy of the Mozilla roots unless told
		// otherwise: here the system bundle, which holds them and the
		// test root. Lambda's /var/task is read-only: no .pyc is written.
		env: []string{"AWS_CA_BUNDLE=" + al2023Bundle, "PYTHONDONTWRITEBYTECODE=1"},
		what: fmt.Sprintf("test/bench/python: Python %s, boto3 %s under awslambdaric %s; AWS_CA_BUNDLE is the AL2023 bundle (the system store with the test root in it)",
			strings.TrimSpace(string(version)), pins["boto3"], pins["awslambdaric"]),
	}, nil
}

// nodePort is the Node.js port under aws-lambda-ric, from npm ci's output
// at nodeDir, its handler copied from src into a task root of its own. A
// failed or missing install is a reason, not an error: the table says it.
func nodePort(nodeDir, src string, trust *trustLayout, dir string) (function, string, error) {
	ric := filepath.Join(nodeDir, "node_modules", "aws-lambda-ric", "bin", "index.mjs")
	if _, err := os.Stat(ric); err != nil {
		reason := "not installed (make bench runs npm ci into " + nodeDir + ")"
		if b, err := os.ReadFile(filepath.Join(nodeDir, "install-failed.txt")); err == nil {
			reason = "its install failed: " + strings.Join(strings.Fields(string(b)), " ")
		}
		return function{}, reason, nil
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return function{}, "no node on PATH", nil
	}
	version, err := exec.Command(node, "--version").Output()
	if err != nil {
		return function{}, fmt.Sprintf("%s --version: %v", node, err), nil
	}
	task, err := taskRoot(dir, "node-task", filepath.Join(src, "index.mjs"))
	if err != nil {
		return function{}, "", err
	}
	// The handler imports the SDK from node_modules beside it.
	if err := os.Symlink(filepath.Join(nodeDir, "node_modules"), filepath.Join(task, "node_modules")); err != nil {
		return function{}, "", err
	}
	var pkg struct{ Dependencies map[string]string }
	if b, err := os.ReadFile(filepath.Join(src, "package.json")); err == nil {
		_ = json.Unmarshal(b, &pkg)
	}
	return function{
		key: "node", label: "Node.js port",
		command: []string{node, ric, "index.handler"},
		dir:     task,
		// Node trusts its built-in copy of the Mozilla roots: with the
		// test root added, the same set as the system bundle.
		env: []string{"NODE_EXTRA_CA_CERTS=" + trust.testRoot},
		what: fmt.Sprintf("test/bench/node: Node.js %s, @aws-sdk/client-secrets-manager %s under aws-lambda-ric %s; Node's built-in roots + the test root (NODE_EXTRA_CA_CERTS)",
			strings.TrimSpace(string(version)), pkg.Dependencies["@aws-sdk/client-secrets-manager"], pkg.Dependencies["aws-lambda-ric"]),
	}, "", nil
}

// taskRoot makes dir/name holding a copy of file: a function's task root.
func taskRoot(dir, name, file string) (string, error) {
	task := filepath.Join(dir, name)
	b, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	return task, writeFile(filepath.Join(task, filepath.Base(file)), b)
}

// requirementPins reads name==version lines of a requirements file.
func requirementPins(path string) map[string]string {
	pins := map[string]string{}
	f, err := os.Open(path)
	if err != nil {
		return pins
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if name, version, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=="); ok && !strings.HasPrefix(name, "#") {
			pins[name] = version
		}
	}
	return pins
}

func (t *table) size(b binaries) {
	arches := []string{runtime.GOARCH}
	if runtime.GOARCH != deployArch {
		arches = append(arches, deployArch)
	}
	for _, arch := range arches {
		s := b.sizes[arch]
		label := "Bootstrap size, stripped, linux/" + arch
		if arch == deployArch {
			label += " (deployed)"
		} else {
			label += " (measured here)"
		}
		hello := num(float64(s[1])/mb, "MB")
		hello.who = "hello-world"
		t.add(row{measure: label, keygate: num(float64(s[0])/mb, "MB"), baseline: hello})
	}
}

func withWho(v value, who string) value {
	v.who = who
	return v
}

func atMost(v float64) *goal { return &goal{op: "≤", v: v, unit: "×"} }

// Figures of a sample.
var (
	initOf  = func(s sample) float64 { return s.init }
	cpuOf   = func(s sample) float64 { return s.cpu }
	fltOf   = func(s sample) float64 { return s.minflt }
	hwmOf   = func(s sample) float64 { return s.hwm }
	readsOf = func(s sample) float64 { return float64(s.endpoint.reads) }
)

// cold adds the model's rows, its per-function table and its notes.
func (t *table) cold(res map[string]*coldResult, fns []function, skipped map[string]string, m *model, o options) {
	k, n := res["keygate"], res["naive"]
	runs := len(k.samples)
	med := func(r *coldResult, figure func(sample) float64, unit string) value {
		return num(median(r.of(figure)), unit)
	}
	floor := func(figure func(sample) float64, unit string) value {
		return withWho(med(n, figure, unit), "naive floor")
	}
	initRow := fmt.Sprintf("Cold start (model): INIT, median of %d", runs)
	t.add(row{measure: initRow, name: "cold start INIT (model), against the naive floor",
		keygate: med(k, initOf, "ms"), baseline: floor(initOf, "ms"), goal: atMost(goalFloor)})
	t.add(row{measure: "  in a rotation's grace window", name: "cold start INIT (model) in a grace window, against the naive floor",
		keygate: med(res["grace"], initOf, "ms"), baseline: floor(initOf, "ms"), goal: atMost(goalFloor)})
	t.add(row{measure: "  with KEYGATE_TRUST_STORE=system", name: "cold start INIT (model) with the system trust store, against the naive floor",
		keygate: med(res["system"], initOf, "ms"), baseline: floor(initOf, "ms")})
	t.add(row{measure: "  against the hand-written function", name: "cold start INIT (model), against the hand-written function",
		keygate: med(k, initOf, "ms"), baseline: withWho(med(res["direct"], initOf, "ms"), "hand-written")})
	t.add(row{measure: "  against the Python port", name: "cold start INIT (model), against the Python port",
		keygate: med(k, initOf, "ms"), baseline: withWho(med(res["python"], initOf, "ms"), "Python"), goal: &goal{op: "≤", v: goalPython, unit: "×"}})
	nodeRow := row{measure: "  against the Node.js port", name: "cold start INIT (model), against the Node.js port", keygate: med(k, initOf, "ms")}
	if r, ok := res["node"]; ok {
		nodeRow.baseline = withWho(med(r, initOf, "ms"), "Node.js")
	} else {
		nodeRow.baseline, nodeRow.ratio = textValue("not measured: "+skipped["node"]), math.NaN()
	}
	t.add(nodeRow)
	t.add(row{measure: fmt.Sprintf("Cold start (model): CPU time to the first answer, median of %d", runs), name: "CPU time to the first answer (model), against the naive floor",
		keygate: med(k, cpuOf, "ms"), baseline: floor(cpuOf, "ms"), goal: atMost(goalFloor)})
	t.add(row{measure: "  in a rotation's grace window", name: "CPU time to the first answer (model) in a grace window, against the naive floor",
		keygate: med(res["grace"], cpuOf, "ms"), baseline: floor(cpuOf, "ms")})
	t.add(row{measure: fmt.Sprintf("Cold start (model): page faults to the first answer, median of %d", runs), name: "page faults (minflt) to the first answer (model), against the naive floor",
		keygate: med(k, fltOf, "faults"), baseline: floor(fltOf, "faults")})
	t.add(row{measure: fmt.Sprintf("Cold start (model): GetSecretValue calls in a grace window, most of %d", runs), name: "GetSecretValue calls at cold start (model) in a grace window, against the naive floor",
		keygate: num(slices.Max(res["grace"].of(readsOf)), "calls"), baseline: withWho(num(slices.Max(n.of(readsOf)), "calls"), "naive floor")})
	t.add(row{measure: fmt.Sprintf("Peak RSS (VmHWM), most of %d cold starts (model)", runs), name: "peak RSS (model), against the naive floor",
		keygate: num(slices.Max(k.of(hwmOf)), "MB"), baseline: withWho(num(slices.Max(n.of(hwmOf)), "MB"), "naive floor"), goal: &goal{op: "<", v: goalRSSMB, unit: "MB"}})

	d := res["direct"]
	restName := fns[0].first.Name
	authName := "requestauthorizer-valid-key.json"
	warmN := len(k.warm[restName])
	direct := func(v []float64) value { return withWho(num(median(v), "ms"), "hand-written") }
	t.add(row{measure: fmt.Sprintf("Warm invocation: REPORT Duration, REST event, median of %d", warmN), name: "warm invocation REPORT Duration, REST event, against the hand-written function",
		keygate: num(median(k.warm[restName]), "ms"), baseline: direct(d.warm[restName]), goal: atMost(goalWarm)})
	t.add(row{measure: "  REST REQUEST authorizer event (an uncached decision)", name: "warm invocation REPORT Duration, REST REQUEST authorizer event, against the hand-written function's REST event",
		keygate: num(median(k.warm[authName]), "ms"), baseline: direct(d.warm[restName])})
	t.add(row{measure: fmt.Sprintf("Warm invocation: client round trip, REST event, median of %d", warmN), name: "warm invocation client round trip, REST event, against the hand-written function",
		keygate: num(median(k.warmClient[restName]), "ms"), baseline: direct(d.warmClient[restName])})
	// The emulator's REPORT has 0.01 ms steps, 4% of a warm invocation:
	// a median of such steps cannot show 3%; the mean of the middle half
	// can, and drops the outliers as a median does.
	nm := res["nometrics"]
	t.add(row{measure: fmt.Sprintf("Warm invocation: REPORT Duration, REST event, with metrics, interquartile mean of %d", warmN), name: "warm invocation REPORT Duration, REST event, with metrics, against keygate without metrics",
		keygate: num(iqMean(k.warm[restName]), "ms"), baseline: withWho(num(iqMean(nm.warm[restName]), "ms"), "no metrics"), goal: atMost(goalMetrics)})

	t.extra = append(t.extra, modelTable(res, fns, skipped))
	t.notes = append(t.notes, modelNote(m, o.rtt), functionsNote(fns, skipped))
}

// modelTable is the model's numbers for every function.
func modelTable(res map[string]*coldResult, fns []function, skipped map[string]string) string {
	var b bytes.Buffer
	fmt.Fprint(&b, "The cold-start model, per function (medians; peak RSS: the most; GetSecretValue calls and TLS handshakes at the endpoint until the first answer, fewest–most):\n\n")
	head := []string{"Function", "INIT [p25–p75]", "CPU to first answer", "Page faults", "Peak RSS", "GetSecretValue", "TLS handshakes", "First answer round trip", "Warm REPORT"}
	var rows [][]string
	for _, f := range fns {
		r := res[f.key]
		q := func(figure func(sample) float64) string {
			v := r.of(figure)
			return fmt.Sprintf("%.1f ms [%.1f–%.1f]", median(v), quantile(v, 0.25), quantile(v, 0.75))
		}
		span := func(figure func(sample) float64) string {
			v := r.of(figure)
			lo, hi := slices.Min(v), slices.Max(v)
			if lo == hi {
				return fmt.Sprintf("%.0f", lo)
			}
			return fmt.Sprintf("%.0f–%.0f", lo, hi)
		}
		warm := "—"
		if len(f.warm) > 0 {
			warm = formatNum(median(r.warm[f.first.Name]), "ms")
		}
		rows = append(rows, []string{
			f.label, q(initOf), formatNum(median(r.of(cpuOf)), "ms"), fmt.Sprintf("%.0f", median(r.of(fltOf))),
			formatNum(slices.Max(r.of(hwmOf)), "MB"), span(readsOf), span(func(s sample) float64 { return float64(s.endpoint.handshakes) }),
			formatNum(median(r.of(func(s sample) float64 { return s.first })), "ms"), warm,
		})
	}
	if reason, ok := skipped["node"]; ok {
		rows = append(rows, []string{"Node.js port", "not measured: " + reason, "", "", "", "", "", "", ""})
	}
	markdownTable(&b, head, rows)
	return b.String()
}

func modelNote(m *model, rtt time.Duration) string {
	return fmt.Sprintf("The model (test/bench/cmd/benchtable/model.go), as Lambda pays a cold start: Secrets Manager (internal/testsupport/smfake behind TLS 1.3, "+
		"a generated root → intermediate → leaf chain, RSA-2048, for %s) in a network namespace of its own; the real Runtime Interface Emulator and the function in another, "+
		"%.2f ms of round trip away (median TCP connect of %d, for -rtt %s; a TUN device in each namespace and a fixed delay each way, as netem would add, less what the copying costs at no delay); "+
		"the function's /etc overlaid read-only in a private mount namespace with provided.al2023's trust store (one bundle of %d certificates, Debian's Mozilla roots + the test root, "+
		"linked as on Amazon Linux 2023, which Go reads three times: the bundle file, then /etc/ssl/certs and /etc/pki/tls/certs, one directory) "+
		"and a hosts entry that sends the SDKs' default endpoint name to the fake: no AWS_ENDPOINT_URL is set. "+
		"keygate's rows but the system one, and the hand-written function's, set AWS_CA_BUNDLE to the 5 Amazon Trust Services roots + the test root (6 certificates): "+
		"the parse work of keygate's embedded pool, which cannot verify the model's test chain. "+
		"INIT is the emulator's INIT REPORT; CPU time is the sum of the bootstrap's threads' schedstat run time at its first answer "+
		"(stat's utime and stime count 10 ms ticks); page faults and peak RSS are the bootstrap's, from /proc. Lambda's CPU is a fraction of these cores, so CPU time and page faults carry over better than milliseconds.",
		endpointHost, median(m.rtt), len(m.rtt), rtt, m.trust.certs)
}

func functionsNote(fns []function, skipped map[string]string) string {
	var parts []string
	for _, f := range fns {
		parts = append(parts, fmt.Sprintf("**%s**: %s", f.label, f.what))
	}
	if reason, ok := skipped["node"]; ok {
		parts = append(parts, "**Node.js port**: not measured, "+reason)
	}
	return "Functions in the model: " + strings.Join(parts, "; ") + "."
}

func (t *table) inProcess(pairs []benchPair) {
	for _, p := range pairs {
		r := row{
			measure:  fmt.Sprintf("In-process invoke, %s event → response bytes", p.door),
			keygate:  textValue(fmtBench(p.keygate)),
			baseline: value{num: math.NaN(), text: fmtBench(p.direct), who: "hand-written"},
			ratio:    math.NaN(),
		}
		if p.keygate.N > 0 && p.direct.N > 0 {
			r.keygate.num, r.keygate.unit = float64(p.keygate.NsPerOp()), "ns/op"
			r.baseline.num, r.baseline.unit = float64(p.direct.NsPerOp()), "ns/op"
			r.ratio = r.keygate.num / r.baseline.num
		}
		t.add(r)
	}
}

// rules: what a key's rules cost, against the same work without them.
func (t *table) rules(r rulesResult) {
	pair := func(measure string, k, base testing.BenchmarkResult, who string) {
		row := row{measure: measure, keygate: textValue(fmtBench(k)), baseline: value{num: math.NaN(), text: fmtBench(base), who: who},
			ratio: math.NaN(), goal: atMost(goalRules)}
		if k.N > 0 && base.N > 0 {
			row.keygate.num, row.keygate.unit = float64(k.NsPerOp()), "ns/op"
			row.baseline.num, row.baseline.unit = float64(base.NsPerOp()), "ns/op"
			row.ratio = row.keygate.num / row.baseline.num
		}
		t.add(row)
	}
	pair("In-process invoke, rest event, a key with allow, sources and meta", r.governed, r.plain, "the same key without them")
	pair("Decision, a set of 500 clients with allow and sources", r.many, r.one, "a set of 1")
}

func (t *table) throughput(r throughputResult) {
	flask := fmt.Sprintf("Flask (gunicorn, %d workers)", r.workers)
	t.add(row{measure: "Local server throughput", keygate: num(r.keygate.rps, "req/s"),
		baseline: withWho(num(r.flask.rps, "req/s"), flask), goal: &goal{op: "≥", v: goalServer, unit: "×"}})
	t.add(row{measure: "Local server latency p99 (p50)",
		keygate:  value{num: r.keygate.p99, unit: "ms", text: fmt.Sprintf("%s (%s)", formatNum(r.keygate.p99, "ms"), formatNum(r.keygate.p50, "ms"))},
		baseline: value{num: r.flask.p99, unit: "ms", text: fmt.Sprintf("%s (%s)", formatNum(r.flask.p99, "ms"), formatNum(r.flask.p50, "ms")), who: flask}})
}

// The lines between which -docs writes the report.
const (
	docsBegin = "<!-- bench:begin -->"
	docsEnd   = "<!-- bench:end -->"
)

// spliceDocs replaces what lies between the markers in the Markdown file
// at path with report; with check it only verifies that the markers are
// there, once each and in order.
func spliceDocs(path string, report []byte, check bool) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out, err := splice(b, report)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if check {
		return out, nil
	}
	return out, os.WriteFile(path, out, 0o644)
}

func splice(doc, report []byte) ([]byte, error) {
	begin, end := bytes.Count(doc, []byte(docsBegin)), bytes.Count(doc, []byte(docsEnd))
	if begin != 1 || end != 1 {
		return nil, fmt.Errorf("want the lines %s and %s once each, found %d and %d", docsBegin, docsEnd, begin, end)
	}
	i := bytes.Index(doc, []byte(docsBegin)) + len(docsBegin)
	j := bytes.Index(doc, []byte(docsEnd))
	if j < i {
		return nil, fmt.Errorf("%s comes before %s", docsEnd, docsBegin)
	}
	var out bytes.Buffer
	out.Write(doc[:i])
	out.WriteString("\n")
	out.Write(bytes.TrimSpace(report))
	out.WriteString("\n")
	out.Write(doc[j:])
	return out.Bytes(), nil
}
