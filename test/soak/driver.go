package soak

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/keygate/keygate/internal/keyadmin"
	"github.com/keygate/keygate/internal/rotation"
	"github.com/keygate/keygate/internal/smapi"
	"github.com/keygate/keygate/internal/testsupport/smfake"
	"github.com/keygate/keygate/test/rie"
)

// secretID is the secret every process of the soak reads.
const secretID = "keygate/soak"

// driver changes the secret as operators and Secrets Manager do: the
// rotation function's four steps, and keygate keys (add, rotate, revoke,
// revoke --now) run in process with real SDK clients: smfake's Secrets
// Manager, and the fleet's stand-in for Lambda.
type driver struct {
	t     *testing.T
	sm    *smfake.Server
	o     *Oracle
	rot   *rie.Function // the rotation function's environment
	fleet *function
	r     *rand.Rand
	next  int // the next client's number

	mu     sync.Mutex
	done   map[string]int // changes made, by kind
	failed map[string]int // changes that failed (a fault, mostly), by kind
}

// schedule is how often the driver changes what.
type schedule struct {
	rotate, revokeNow     time.Duration
	faultGap, faultLength [2]time.Duration // each drawn between the two
	changeGap             [2]time.Duration
}

// An hour's: a rotation a minute, a revoke --now every ten, a fault every
// 20 to 50 s for 2 to 15 s, a client change every 4 to 8 s.
var longSchedule = schedule{time.Minute, 10 * time.Minute,
	[2]time.Duration{20 * time.Second, 50 * time.Second}, [2]time.Duration{2 * time.Second, 15 * time.Second},
	[2]time.Duration{4 * time.Second, 8 * time.Second}}

// shortSchedule squeezes a run of d under 10 minutes: rotations every
// 30 s, one revoke --now, faults every 6 to 12 s for 2 to 6 s.
func shortSchedule(d time.Duration) schedule {
	return schedule{30 * time.Second, d / 2,
		[2]time.Duration{6 * time.Second, 12 * time.Second}, [2]time.Duration{2 * time.Second, 6 * time.Second},
		longSchedule.changeGap}
}

// run drives from start to end (the first rotation and revoke --now half
// their period in), and calls news every five minutes.
func (d *driver) run(start, end time.Time, s schedule, news func(now time.Time)) {
	nextRotation, nextRevokeNow, nextChange := start.Add(s.rotate/2), start.Add(s.revokeNow/2), start
	nextNews := start.Add(5 * time.Minute)
	for now := time.Now(); now.Before(end); now = time.Now() {
		switch {
		case !now.Before(nextNews):
			news(now)
			nextNews = nextNews.Add(5 * time.Minute)
		case !now.Before(nextRotation):
			d.rotate()
			nextRotation = nextRotation.Add(s.rotate)
		case !now.Before(nextRevokeNow):
			d.revokeNow()
			nextRevokeNow = nextRevokeNow.Add(s.revokeNow)
		case !now.Before(nextChange):
			d.change()
			nextChange = time.Now().Add(s.changeGap[0] + time.Duration(d.r.Int64N(int64(s.changeGap[1]-s.changeGap[0]))))
		default:
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// keys runs `keygate keys args…` as the change kind; it returns what it
// printed (a new key) and its exit status.
func (d *driver) keys(kind string, args ...string) (string, int) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stdout, stderr strings.Builder
	code := -1
	shell := map[string]string{"API_KEY_SECRET_ID": secretID, "KEYGATE_FUNCTION": fleetName}
	d.o.Write(kind, strings.Join(args[2:], " "), func() error {
		code = keyadmin.Run(ctx, args, keyadmin.Env{
			Stdout: &stdout, Stderr: &stderr,
			Getenv:    func(k string) string { return shell[k] },
			NewClient: func(context.Context, string) (smapi.Client, string, error) { return d.sm.Client(), d.sm.Region, nil },
			NewLambda: func(context.Context, string) (keyadmin.LambdaClient, error) { return d.fleet, nil },
		})
		if key := strings.TrimSpace(stdout.String()); key != "" {
			d.o.Learn(key)
		}
		return nil
	})
	switch code {
	case keyadmin.ExitOK:
		d.count(d.done, kind)
	case keyadmin.ExitUsage:
		d.t.Errorf("keygate %s: usage error:\n%s", strings.Join(args, " "), stderr.String())
	default:
		d.count(d.failed, kind)
	}
	return strings.TrimSpace(stdout.String()), code
}

func (d *driver) count(m map[string]int, kind string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	m[kind]++
}

// change makes one client change, keeping 4 to 10 clients of its own:
// an add (a hash-only key, a stored one, one that expires, one with the
// readonly client's routes, one with the office client's networks), a
// rotate with a grace, or a revoke.
func (d *driver) change() {
	clients, live := d.clients(false), d.clients(true)
	p := d.r.Float64()
	switch {
	case len(clients) < 4 || len(clients) < 10 && p < 0.4 || len(live) == 0:
		d.next++
		name := "soak-" + strconv.Itoa(d.next)
		extra := [][]string{nil, {"--store-key"}, {"--ttl", "40s"},
			{"--allow", "GET /", "--allow", "HEAD /", "--meta", "tenant=t-42"},
			{"--source", "192.0.2.0/24", "--source", "2001:db8::/32"}}[d.next%5]
		d.keys("keys add", append([]string{"keys", "add", name}, extra...)...)
	case p < 0.7:
		d.keys("keys rotate", "keys", "rotate", live[d.r.IntN(len(live))], "--grace", "15s")
	default:
		d.keys("keys revoke", "keys", "revoke", clients[d.r.IntN(len(clients))])
	}
}

// revokeNow revokes a client with --now: Lambda (the stand-in) replaces
// the fleet's environments before the command returns.
func (d *driver) revokeNow() {
	if clients := d.clients(true); len(clients) > 0 {
		if _, code := d.keys("keys revoke --now", "keys", "revoke", clients[d.r.IntN(len(clients))], "--now"); code == keyadmin.ExitOK {
			d.o.Restarted(fleetName)
		}
	}
}

// clients lists the soak's own clients in AWSCURRENT (not their old
// keys); live leaves out those that expired (keygate keys refuses to
// rotate them).
func (d *driver) clients(live bool) []string {
	value, _ := d.sm.Value(secretID, smapi.StageCurrent)
	var doc struct {
		Keys map[string]json.RawMessage `json:"api_keys"`
	}
	json.Unmarshal([]byte(value), &doc)
	var out []string
	for name, raw := range doc.Keys {
		var e struct{ Expires *time.Time }
		json.Unmarshal(raw, &e)
		if strings.HasPrefix(name, "soak-") && !strings.Contains(name, ".previous") && (!live || e.Expires == nil || e.Expires.After(time.Now())) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// rotate rotates the secret as Secrets Manager does: RotateSecret makes
// the pending version, then the rotation function (cmd/rotate under the
// emulator) runs createSecret, setSecret, testSecret and finishSecret.
// Secrets Manager retries a failed step; so does this, through the
// faults, for up to two minutes.
func (d *driver) rotate() {
	deadline := time.Now().Add(2 * time.Minute)
	var token string
	try := func(what string, step func() error) bool {
		for {
			err := d.o.Write("rotation", what, step)
			if err == nil {
				return true
			}
			if time.Now().After(deadline) {
				d.t.Errorf("rotation: %s still failing after two minutes: %v", what, err)
				d.count(d.failed, "rotation")
				return false
			}
			time.Sleep(time.Duration(200+d.r.IntN(800)) * time.Millisecond)
		}
	}
	ok := try("RotateSecret", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := d.sm.Client().RotateSecret(ctx, &secretsmanager.RotateSecretInput{
			SecretId: aws.String(secretID), RotationLambdaARN: aws.String(smfake.RotationLambdaARN)})
		if err == nil {
			token = aws.ToString(out.VersionId)
		}
		return err
	})
	for _, step := range []string{rotation.StepCreate, rotation.StepSet, rotation.StepTest, rotation.StepFinish} {
		ok = ok && try(step, func() error {
			payload, _ := json.Marshal(events.SecretsManagerSecretRotationEvent{SecretID: secretID, ClientRequestToken: token, Step: step})
			ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
			defer cancel()
			out, err := d.rot.Invoke(ctx, payload)
			if err == nil && strings.TrimSpace(string(out)) != "null" {
				err = errors.New(string(out))
			}
			return err
		})
	}
	if ok {
		d.count(d.done, "rotation")
	}
}

// faultKinds are the store faults the soak injects, each into every
// operation: the functions' reads, and the driver's own changes, which
// fail (and are retried, or not made) like an operator's.
var faultKinds = []struct {
	name   string
	fault  smfake.Fault
	blip   bool // FailN: a few failures, not a time
	badDoc bool
}{
	{name: "down: connection reset", fault: smfake.ConnectionResetFault},
	{name: "down: bare 503", fault: smfake.UnavailableFault},
	{name: "slow: 1s", fault: smfake.DelayFault(time.Second)},
	{name: "slow: 4s, past KEY_LOAD_TIMEOUT", fault: smfake.DelayFault(4 * time.Second)},
	{name: "throttled", fault: smfake.ThrottlingFault},
	{name: "access denied", fault: smfake.AccessDeniedFault},
	{name: "blip: server errors", fault: smfake.InternalErrorFault, blip: true},
	{name: "bad document", badDoc: true},
}

// faults injects a fault every gap (at random within it), for a time
// within length, cycling through faultKinds in a shuffled order, until
// stop. Every third fault, Lambda recycles one of the fleet's
// environments while it is on: a cold start during a fault.
func (d *driver) faults(stop <-chan struct{}, gap, length [2]time.Duration, r *rand.Rand) {
	between := func(b [2]time.Duration) time.Duration { return b[0] + time.Duration(r.Int64N(int64(b[1]-b[0]))) }
	order := r.Perm(len(faultKinds))
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		case <-time.After(between(gap)):
		}
		k := faultKinds[order[i%len(order)]]
		f := d.o.FaultOn(k.name)
		const bad = `{"api_keys": {"half": "written`
		var good string
		switch {
		case k.badDoc:
			// An AWSCURRENT that does not parse, as a hand-made
			// put-secret-value can leave; the operator puts back the last
			// good value (unless a rotation's finishSecret already moved
			// AWSCURRENT on).
			d.o.Write("bad document", "", func() error {
				good, _ = d.sm.Value(secretID, smapi.StageCurrent)
				d.sm.Put(secretID, bad)
				return nil
			})
		case k.blip:
			d.sm.FailN(smfake.AnyOperation, 1+r.IntN(3), k.fault)
		default:
			d.sm.Fail(smfake.AnyOperation, k.fault)
		}
		if i%3 == 2 {
			d.fleet.replace(r.IntN(len(d.fleet.current())))
			d.count(d.done, "environment recycled in a fault")
		}
		select {
		case <-stop:
		case <-time.After(between(length)):
		}
		d.sm.Clear()
		if k.badDoc {
			d.o.Write("bad document fixed", "", func() error {
				if v, _ := d.sm.Value(secretID, smapi.StageCurrent); v == bad {
					d.sm.Put(secretID, good)
				}
				return nil
			})
		}
		d.o.FaultOff(f)
		d.count(d.done, "fault: "+k.name)
	}
}

// summary lists counts as "kind: n" lines, sorted.
func summary(m map[string]int) []string {
	var out []string
	for k, n := range m {
		out = append(out, fmt.Sprintf("%s: %d", k, n))
	}
	slices.Sort(out)
	return out
}
