package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate/test/internal/wait"

	"github.com/keygate/keygate/test/internal/repo"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/keygate/keygate/internal/apikey"
	"github.com/keygate/keygate/internal/keyadmin"
	"github.com/keygate/keygate/internal/rotation"
	"github.com/keygate/keygate/internal/testsupport/smfake"
	"github.com/keygate/keygate/test/rie"
)

const rotSecret = "keygate/rotated"

// Issue 4: the rotation function, built as `sam build` builds it, driven
// through its four steps (each retried, as Secrets Manager retries) under
// the Runtime Interface Emulator, against the fake Secrets Manager.
func TestRotationFunctionUnderRIE(t *testing.T) {
	sm := smfake.Start(t)
	alice := apikey.Generate()
	carolHash := apikey.HashEntry(apikey.Generate(), nil).SHA256
	secret := `{"api_keys":{"alice":"` + alice + `","carol":{"sha256":"` + carolHash + `"}}}`
	old := sm.Put(rotSecret, secret)
	token := sm.StartRotation(t, rotSecret)
	rot := rie.Start(t, rie.Build(t, "./cmd/rotate", false), rie.Options{Env: sm.Env()})

	// A token Secrets Manager did not stage fails the step, with the reason.
	out := rotInvoke(t, rot, "00000000-0000-4000-8000-000000000000", rotation.StepCreate)
	if !strings.Contains(out, "errorMessage") || !strings.Contains(out, "has no version") {
		t.Errorf("createSecret with a wrong token answered %s, want an error naming the cause", out)
	}
	for _, step := range []string{rotation.StepCreate, rotation.StepSet, rotation.StepTest, rotation.StepFinish} {
		for attempt := 0; attempt < 2; attempt++ {
			if out := rotInvoke(t, rot, token, step); out != "null" {
				t.Fatalf("%s: the function answered %s", step, out)
			}
		}
	}
	if got := sm.Stages(rotSecret); len(got) != 2 || strings.Join(got[token], ",") != "AWSCURRENT" || strings.Join(got[old], ",") != "AWSPREVIOUS" {
		t.Errorf("staging labels %v, want %s AWSCURRENT and %s AWSPREVIOUS only", got, token, old)
	}
	value, _ := sm.Value(rotSecret, "AWSCURRENT")
	doc, err := apikey.Parse(value)
	if err != nil {
		t.Fatalf("the rotated secret does not parse: %v", err)
	}
	if a, c := doc.Keys["alice"], doc.Keys["carol"]; len(doc.Keys) != 2 || !a.Bare || a.Key == alice || len(a.Key) != apikey.GeneratedLength || c.SHA256 != carolHash {
		t.Errorf("rotated entries: alice new bare key %v, carol's hash kept %v", a.Bare && a.Key != alice, c.SHA256 == carolHash)
	}

	rot.Stop()
	logs := rot.Logs()
	for _, step := range []string{"createSecret: wrote the pending version", "setSecret: nothing to configure", "testSecret: the pending version is a valid replacement", "finishSecret: removed AWSPENDING", "version already AWSCURRENT"} {
		if !strings.Contains(logs, step) {
			t.Errorf("no %q log line", step)
		}
	}
	rotCheckOutput(t, rot, alice, carolHash, doc.Keys["alice"].Key)
}

// Issue 4: a rotation while clients call the API with the old and the new
// key. The API (real bootstrap, multi-concurrency mode, KEY_REFRESH 1s,
// KEY_GRACE 6s) reads the fake; the rotation function under the emulator
// rotates the secret. Inside the grace period no request with either key
// fails; after it the old key gets 401, and keeps getting it.
func TestRotationWithoutDowntime(t *testing.T) {
	const grace = 6 * time.Second
	sm := smfake.Start(t)
	oldKey := apikey.Generate()
	oldVersion := sm.Put(rotSecret, oldKey)
	api := rie.Start(t, rie.Build(t, "./cmd/api", false), rie.Options{
		MaxConcurrency: 4,
		Env:            append(sm.Env(), "API_KEY_SECRET_ID="+rotSecret, "KEY_REFRESH=1s", "KEY_GRACE="+grace.String()),
	})
	rot := rie.Start(t, rie.Build(t, "./cmd/rotate", false), rie.Options{Env: sm.Env()})
	template := rotTemplate(t)

	var (
		mu    sync.Mutex
		calls []rotCall
		stop  = make(chan struct{})
		wg    sync.WaitGroup
	)
	client := func(which, key string) {
		defer wg.Done()
		payload := rotEvent(t, template, key)
		for {
			select {
			case <-stop:
				return
			default:
			}
			c := rotCall{which: which}
			c.sent = time.Now()
			c.status = rotStatus(t, api, payload)
			c.recv = time.Now()
			if c.status == 0 {
				return // the test failed already
			}
			mu.Lock()
			calls = append(calls, c)
			mu.Unlock()
		}
	}
	count := func(which string, ok func(rotCall) bool) int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, c := range calls {
			if c.which == which && ok(c) {
				n++
			}
		}
		return n
	}
	halt := sync.OnceFunc(func() {
		close(stop)
		wg.Wait()
	})
	defer halt()

	wg.Add(2)
	go client("old", oldKey)
	go client("old", oldKey)
	wait.Until(t, 30*time.Second, "the old key working before the rotation", func() (bool, string) {
		n := count("old", func(c rotCall) bool { return c.status == http.StatusOK })
		return n >= 4, strconv.Itoa(n) + " answers 200"
	})

	token := sm.StartRotation(t, rotSecret)
	rotRun(t, rot, token, rotation.StepCreate)
	// AWSPENDING never authorizes, even once the function has re-read
	// the secret with the pending version in it.
	pendingKey, ok := sm.Value(rotSecret, "AWSPENDING")
	if !ok {
		t.Fatal("createSecret wrote no AWSPENDING version")
	}
	loads := strings.Count(api.Logs(), `"msg":"key set loaded"`)
	wait.Until(t, 30*time.Second, "a key refresh after createSecret", func() (bool, string) {
		n := strings.Count(api.Logs(), `"msg":"key set loaded"`)
		return n > loads, strconv.Itoa(n) + " loads"
	})
	if st := rotStatus(t, api, rotEvent(t, template, pendingKey)); st != http.StatusUnauthorized {
		t.Errorf("the AWSPENDING key got %d, want 401", st)
	}
	for _, step := range []string{rotation.StepSet, rotation.StepTest, rotation.StepFinish} {
		rotRun(t, rot, token, step)
	}
	newKey, _ := sm.Value(rotSecret, "AWSCURRENT")
	if newKey != pendingKey || newKey == oldKey {
		t.Fatal("AWSCURRENT is not the pending version after finishSecret")
	}
	// The function counts the grace from the new version's CreatedDate,
	// as read through the SDK.
	v, err := sm.Client().GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(rotSecret), VersionId: &token})
	if err != nil || v.CreatedDate == nil {
		t.Fatalf("reading the new version: %v", err)
	}
	graceEnd := v.CreatedDate.Add(grace)

	// New-key clients start once the function has loaded the new version
	// (before that it cannot know the key: AWSPENDING never authorizes).
	if err := api.WaitLog(context.Background(), `"version_id":"`+token+`"`); err != nil {
		t.Fatal(err)
	}
	newStart := time.Now()
	if !newStart.Before(graceEnd) {
		t.Fatalf("the function loaded the new version %s after the grace period ended: nothing left to check (machine overloaded?)", newStart.Sub(graceEnd))
	}
	wg.Add(2)
	go client("new", newKey)
	go client("new", newKey)

	wait.Until(t, 30*time.Second+grace, "the old key rejected after the grace period", func() (bool, string) {
		n := count("old", func(c rotCall) bool { return c.status == http.StatusUnauthorized })
		return n > 0, "no 401 yet"
	})
	var first401 time.Time
	mu.Lock()
	for _, c := range calls {
		if c.which == "old" && c.status == http.StatusUnauthorized && (first401.IsZero() || c.recv.Before(first401)) {
			first401 = c.recv
		}
	}
	mu.Unlock()
	wait.Until(t, 30*time.Second, "traffic with both keys after the old key's end", func() (bool, string) {
		o := count("old", func(c rotCall) bool { return c.sent.After(first401) })
		n := count("new", func(c rotCall) bool { return c.sent.After(first401) })
		return o >= 4 && n >= 4, strconv.Itoa(o) + " old and " + strconv.Itoa(n) + " new calls"
	})
	halt()

	var oldInGrace, newInGrace, oldWithNew int
	for _, c := range calls {
		switch {
		case c.which == "new" && c.status != http.StatusOK:
			t.Errorf("a new-key call sent %s after the function loaded the new version got %d", c.sent.Sub(newStart), c.status)
		case c.which == "old" && c.recv.Before(graceEnd) && c.status != http.StatusOK:
			t.Errorf("an old-key call answered %s before the grace period ended got %d", graceEnd.Sub(c.recv), c.status)
		case c.which == "old" && c.sent.After(first401) && c.status != http.StatusUnauthorized:
			t.Errorf("an old-key call sent after the first 401 got %d", c.status)
		case c.status != http.StatusOK && c.status != http.StatusUnauthorized:
			t.Errorf("a %s-key call got %d", c.which, c.status)
		}
		if c.status == http.StatusOK && c.recv.Before(graceEnd) {
			switch c.which {
			case "old":
				oldInGrace++
				if c.sent.After(newStart) {
					oldWithNew++
				}
			case "new":
				newInGrace++
			}
		}
	}
	if oldWithNew == 0 || newInGrace == 0 {
		t.Errorf("no overlap seen: %d old-key and %d new-key calls succeeded inside the grace period, %d of the old ones while new-key clients ran", oldInGrace, newInGrace, oldWithNew)
	}
	t.Logf("%d calls; grace period ended %s after the new version was loaded; first old-key 401 %s after it ended; in grace: %d old-key, %d new-key calls succeeded",
		len(calls), graceEnd.Sub(newStart).Round(time.Millisecond), first401.Sub(graceEnd).Round(time.Millisecond), oldInGrace, newInGrace)
	if st := sm.Stages(rotSecret); strings.Join(st[oldVersion], ",") != "AWSPREVIOUS" || strings.Join(st[token], ",") != "AWSCURRENT" {
		t.Errorf("staging labels %v", st)
	}
	rotCheckOutput(t, api, oldKey, newKey)
	rotCheckOutput(t, rot, oldKey, newKey)
}

// Issue 4: a client revoked with the CLI's logic (keyadmin) is rejected
// from the function's first refresh after the change, although KEY_GRACE is
// a day: the CLI leaves no AWSPREVIOUS version to keep its key alive. The
// other client is never rejected.
func TestRotationRevokedClient(t *testing.T) {
	sm := smfake.Start(t)
	alice, bob := apikey.Generate(), apikey.Generate()
	sm.Put(rotSecret, `{"api_keys":{"alice":{"sha256":"`+apikey.HashEntry(alice, nil).SHA256+`"},"bob":{"sha256":"`+apikey.HashEntry(bob, nil).SHA256+`"}}}`)
	api := rie.Start(t, rie.Build(t, "./cmd/api", false), rie.Options{
		Env: append(sm.Env(), "API_KEY_SECRET_ID="+rotSecret, "KEY_REFRESH=1s", "KEY_GRACE=24h"),
	})
	template := rotTemplate(t)
	aliceEv, bobEv := rotEvent(t, template, alice), rotEvent(t, template, bob)
	for _, ev := range [][]byte{aliceEv, bobEv} {
		if st := rotStatus(t, api, ev); st != http.StatusOK {
			t.Fatalf("before the revocation: %d, want 200", st)
		}
	}

	admin := &keyadmin.Admin{Client: sm.Client(), SecretID: rotSecret, KeyGrace: 24 * time.Hour}
	r, err := admin.Revoke(context.Background(), "bob")
	if err != nil {
		t.Fatalf("revoke: %v", err)
	}
	// Until the function's next refresh bob may still pass; from the load
	// of the new version on, never. Alice always passes.
	loaded := false
	wait.Until(t, 30*time.Second, "the function loading the version without bob", func() (bool, string) {
		loaded = strings.Contains(api.Logs(), `"version_id":"`+r.VersionID+`"`)
		if st := rotStatus(t, api, aliceEv); st != http.StatusOK {
			t.Fatalf("alice got %d during the revocation", st)
		}
		rotStatus(t, api, bobEv)
		return loaded, "not loaded"
	})
	for i := 0; i < 5; i++ {
		if st := rotStatus(t, api, bobEv); st != http.StatusUnauthorized {
			t.Fatalf("bob got %d after the function loaded the revocation", st)
		}
		if st := rotStatus(t, api, aliceEv); st != http.StatusOK {
			t.Fatalf("alice got %d after bob's revocation", st)
		}
	}
	if !strings.Contains(api.Logs(), `"outcome":"invalid"`) {
		t.Error("no log line records the rejected key")
	}
	rotCheckOutput(t, api, alice, bob)
}

// A key rotated in works at the first request that presents it, long
// before the next scheduled refresh (KEY_REFRESH is an hour here): the
// unknown key makes the function load the secret again, once. Made-up
// keys right after that cause no further reads (one per 30 s at most).
func TestRotatedKeyWorksAtOnce(t *testing.T) {
	sm := smfake.Start(t)
	oldKey, newKey := apikey.Generate(), apikey.Generate()
	sm.Put(rotSecret, oldKey)
	api := rie.Start(t, rie.Build(t, "./cmd/api", false), rie.Options{
		Env: append(sm.Env(), "API_KEY_SECRET_ID="+rotSecret, "KEY_REFRESH=1h", "KEY_GRACE=24h"),
	})
	template := rotTemplate(t)
	oldEv, newEv := rotEvent(t, template, oldKey), rotEvent(t, template, newKey)
	if st := rotStatus(t, api, oldEv); st != http.StatusOK {
		t.Fatalf("before the rotation: %d, want 200", st)
	}
	sm.Put(rotSecret, newKey) // put-secret-value: the manual rotation
	reads := sm.Calls("GetSecretValue")
	if st := rotStatus(t, api, newEv); st != http.StatusOK {
		t.Fatalf("the new key at once: %d, want 200", st)
	}
	if st := rotStatus(t, api, oldEv); st != http.StatusOK {
		t.Errorf("the old key in its grace: %d, want 200", st)
	}
	afterReload := sm.Calls("GetSecretValue")
	if afterReload == reads {
		t.Fatal("the function did not read the secret again for the unknown key")
	}
	for i := 0; i < 5; i++ {
		if st := rotStatus(t, api, rotEvent(t, template, apikey.Generate())); st != http.StatusUnauthorized {
			t.Fatalf("a made-up key: %d, want 401", st)
		}
	}
	if n := sm.Calls("GetSecretValue"); n != afterReload {
		t.Errorf("made-up keys caused %d more reads within 30 s, want none", n-afterReload)
	}
	rotCheckOutput(t, api, oldKey, newKey)
}

// An emergency revoke inside a rotation's grace period: after a
// put-secret-value gave both clients new keys, revoking bob stops both his
// keys at the function's next refresh, while alice's old key keeps its
// grace (keyadmin carries it into the new version as alice.previous).
func TestRotationEmergencyRevokeInGrace(t *testing.T) {
	sm := smfake.Start(t)
	a1, b1, a2, b2 := apikey.Generate(), apikey.Generate(), apikey.Generate(), apikey.Generate()
	sm.Put(rotSecret, `{"api_keys":{"alice":"`+a1+`","bob":"`+b1+`"}}`)
	sm.Put(rotSecret, `{"api_keys":{"alice":"`+a2+`","bob":"`+b2+`"}}`)
	api := rie.Start(t, rie.Build(t, "./cmd/api", false), rie.Options{
		Env: append(sm.Env(), "API_KEY_SECRET_ID="+rotSecret, "KEY_REFRESH=1s", "KEY_GRACE=24h"),
	})
	template := rotTemplate(t)
	ev := map[string][]byte{}
	for name, k := range map[string]string{"a1": a1, "a2": a2, "b1": b1, "b2": b2} {
		ev[name] = rotEvent(t, template, k)
		if st := rotStatus(t, api, ev[name]); st != http.StatusOK {
			t.Fatalf("before the revocation, key %s: %d, want 200", name, st)
		}
	}

	admin := &keyadmin.Admin{Client: sm.Client(), SecretID: rotSecret, KeyGrace: 24 * time.Hour}
	r, err := admin.Revoke(context.Background(), "bob")
	if err != nil {
		t.Fatalf("revoke inside the grace period: %v", err)
	}
	if strings.Join(r.Carried.Entries, ",") != "alice.previous" {
		t.Fatalf("carried %v, want alice.previous", r.Carried.Entries)
	}
	wait.Until(t, 30*time.Second, "the function loading the version without bob", func() (bool, string) {
		for _, k := range []string{"a1", "a2"} {
			if st := rotStatus(t, api, ev[k]); st != http.StatusOK {
				t.Fatalf("alice's key %s got %d during the revocation", k, st)
			}
		}
		return strings.Contains(api.Logs(), `"version_id":"`+r.VersionID+`"`), "not loaded"
	})
	for name, want := range map[string]int{"a1": http.StatusOK, "a2": http.StatusOK, "b1": http.StatusUnauthorized, "b2": http.StatusUnauthorized} {
		if st := rotStatus(t, api, ev[name]); st != want {
			t.Errorf("after the revocation, key %s: %d, want %d", name, st, want)
		}
	}
	rotCheckOutput(t, api, a1, a2, b1, b2)
}

// Issue 4: the keygate binary itself (SDK default configuration) against
// the fake, with the API under the emulator: a key it adds works, a key it
// rotates keeps working during --grace next to the new one, a key it
// revokes stops.
func TestRotationKeygateCLI(t *testing.T) {
	sm := smfake.Start(t)
	seed := apikey.Generate()
	sm.Put(rotSecret, `{"api_keys":{"seed":{"sha256":"`+apikey.HashEntry(seed, nil).SHA256+`"}}}`)
	api := rie.Start(t, rie.Build(t, "./cmd/api", false), rie.Options{
		Env: append(sm.Env(), "API_KEY_SECRET_ID="+rotSecret, "KEY_REFRESH=1s"),
	})
	keygate := rie.Build(t, "./cmd/keygate", false) // a plain Linux build of the CLI
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (stdout, stderr string) {
		t.Helper()
		cmd := exec.Command(keygate, args...)
		cmd.Env = append(sm.Env(), "PATH="+os.Getenv("PATH"), "HOME="+dir,
			"AWS_CONFIG_FILE="+empty, "AWS_SHARED_CREDENTIALS_FILE="+empty, "AWS_EC2_METADATA_DISABLED=true",
			"API_KEY_SECRET_ID="+rotSecret)
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("keygate %s: %v\n%s", strings.Join(args, " "), err, errb.String())
		}
		return out.String(), errb.String()
	}
	template := rotTemplate(t)
	waitStatus := func(key string, want int) {
		t.Helper()
		ev := rotEvent(t, template, key)
		wait.Until(t, 30*time.Second, "a key's status after a keygate change", func() (bool, string) {
			st := rotStatus(t, api, ev)
			return st == want, "status " + strconv.Itoa(st)
		})
	}

	added, _ := run("keys", "add", "bob")
	bob := strings.TrimSpace(added)
	waitStatus(bob, http.StatusOK)

	rotated, msg := run("keys", "rotate", "bob", "--grace", "1h")
	bob2 := strings.TrimSpace(rotated)
	if !strings.Contains(msg, `"bob.previous"`) {
		t.Errorf("rotate did not say where the old key lives: %s", msg)
	}
	waitStatus(bob2, http.StatusOK)
	if st := rotStatus(t, api, rotEvent(t, template, bob)); st != http.StatusOK {
		t.Errorf("bob's old key got %d during --grace, want 200", st)
	}

	list, _ := run("keys", "list")
	for _, want := range []string{"bob ", "bob.previous ", "seed "} {
		if !strings.Contains(list, want) {
			t.Errorf("list lacks %q:\n%s", want, list)
		}
	}
	run("keys", "revoke", "bob")
	waitStatus(bob2, http.StatusUnauthorized)
	if st := rotStatus(t, api, rotEvent(t, template, bob)); st != http.StatusUnauthorized {
		t.Errorf("bob's old key got %d after revoke, want 401", st)
	}
	if st := rotStatus(t, api, rotEvent(t, template, seed)); st != http.StatusOK {
		t.Errorf("the untouched key got %d, want 200", st)
	}
	for _, k := range []string{bob, bob2, seed} {
		if strings.Contains(list, k) {
			t.Error("keys list printed a key")
		}
	}
	rotCheckOutput(t, api, bob, bob2, seed)
}

// rotCall is one API invocation of the downtime test.
type rotCall struct {
	which      string // "old" or "new" key
	sent, recv time.Time
	status     int
}

// rotTemplate is events/rest-valid-key.json, decoded.
func rotTemplate(t *testing.T) events.APIGatewayProxyRequest {
	t.Helper()
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(root, "events", "rest-valid-key.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	var ev events.APIGatewayProxyRequest
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return ev
}

// rotEvent is the template with its x-api-key header (in both header maps,
// whatever its case) set to key.
func rotEvent(t *testing.T, ev events.APIGatewayProxyRequest, key string) []byte {
	t.Helper()
	headers := map[string]string{}
	for k, v := range ev.Headers {
		if !strings.EqualFold(k, "x-api-key") {
			headers[k] = v
		}
	}
	headers["x-api-key"] = key
	multi := map[string][]string{}
	for k, v := range ev.MultiValueHeaders {
		if !strings.EqualFold(k, "x-api-key") {
			multi[k] = v
		}
	}
	multi["x-api-key"] = []string{key}
	ev.Headers, ev.MultiValueHeaders = headers, multi
	return rotMarshal(t, ev)
}

// rotStatus invokes the API and returns the answer's status. In the
// multi-concurrency mode the emulator, like Lambda, rejects an invocation
// when every runtime is busy: that is retried.
func rotStatus(t *testing.T, f *rie.Function, payload []byte) int {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		out, err := f.Invoke(ctx, payload)
		if err != nil && strings.Contains(err.Error(), "Runtime.Unavailable") && ctx.Err() == nil {
			time.Sleep(5 * time.Millisecond)
			continue
		}
		if err != nil {
			t.Errorf("invoke: %v", err)
			return 0
		}
		var r events.APIGatewayProxyResponse
		if err := json.Unmarshal(out, &r); err != nil {
			t.Errorf("answer %s: %v", out, err)
			return 0
		}
		return r.StatusCode
	}
}

// rotInvoke sends one rotation step to the rotation function.
func rotInvoke(t *testing.T, f *rie.Function, token, step string) string {
	t.Helper()
	payload := rotMarshal(t, events.SecretsManagerSecretRotationEvent{SecretID: rotSecret, ClientRequestToken: token, Step: step})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := f.Invoke(ctx, payload)
	if err != nil {
		t.Fatalf("%s: %v", step, err)
	}
	return strings.TrimSpace(string(out))
}

func rotRun(t *testing.T, f *rie.Function, token, step string) {
	t.Helper()
	if out := rotInvoke(t, f, token, step); out != "null" {
		t.Fatalf("%s: the rotation function answered %s", step, out)
	}
}

// rotCheckOutput stops f and checks its output: every line the function
// wrote is a JSON log record, and no line holds one of the keys.
func rotCheckOutput(t *testing.T, f *rie.Function, keys ...string) {
	t.Helper()
	f.Stop() // all output is in
	for _, line := range strings.Split(f.Logs(), "\n") {
		for _, k := range keys {
			if k != "" && strings.Contains(line, k) {
				t.Errorf("a line of the function's output holds a key")
			}
		}
		if line == "" || rotEmulatorLine.MatchString(line) {
			continue
		}
		var rec struct{ Level, Msg string }
		if err := json.Unmarshal([]byte(line), &rec); err != nil || rec.Level == "" || rec.Msg == "" {
			t.Errorf("the function wrote a line that is not a JSON log record: %q", line)
		}
	}
}

// rotEmulatorLine matches the emulator's own lines (its log in both
// formats; START, END and REPORT around each invocation).
var rotEmulatorLine = regexp.MustCompile(`^(\d{2} \w{3} \d{4} [\d:,]+ \[\w+\] \(rapid\) |time=\S+ level=\w+ |(START|END|REPORT) RequestId: )`)

func rotMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return b
}
