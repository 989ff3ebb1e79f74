package rotation_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/keygate/keygate/internal/testsupport/logtest"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/keygate/keygate/internal/apikey"
	"github.com/keygate/keygate/internal/rotation"
	"github.com/keygate/keygate/internal/smapi"
	"github.com/keygate/keygate/internal/testsupport/smfake"
)

const secretID = "keygate/rotation-test"

// Keys the secrets below hold. None may ever reach a log line or an error.
const (
	keyA = "kgRotationTestKeyAlpha000000000000000001"
	keyB = "kgRotationTestKeyBravo000000000000000002"
	keyC = "kgRotationTestKeyCharlie0000000000000003"
)

var hashC = apikey.HashEntry(keyC, nil).SHA256

// Every secret format and entry form; the rotation must keep each.
var formats = []struct {
	name   string
	secret string
}{
	{"plain", keyA},
	{"plain with trailing newline", keyA + "\n"},
	{"api_key", `{"api_key":"` + keyA + `"}`},
	{"api_key with other fields", `{"api_key":"` + keyA + `","owner":"team-x"}`},
	{"api_keys bare", `{"api_keys":{"alice":"` + keyA + `","bob":"` + keyB + `"}}`},
	{"api_keys objects with expiry", `{"api_keys":{"alice":{"key":"` + keyA + `","expires":"2099-01-02T03:04:05Z"},"bob":{"key":"` + keyB + `"}}}`},
	{"api_keys with hash-only", `{"api_keys":{"alice":"` + keyA + `","carol":{"sha256":"` + hashC + `","expires":"2098-01-01T00:00:00Z"}}}`},
	{"api_keys with other fields", `{"api_keys":{"alice":"` + keyA + `"},"owner":"team-x"}`},
	{"api_keys with rules", `{"api_keys":{"alice":{"key":"` + keyA + `","allow":["GET /reports/*"],"sources":["203.0.113.0/24"],"meta":{"tenant":"t-42"}},` +
		`"carol":{"sha256":"` + hashC + `","allow":[]}}}`},
}

// TestRotationFormats drives the four steps, retrying each (Secrets
// Manager retries a step whose invocation failed or timed out), then all of
// them again once the rotation is over.
func TestRotationFormats(t *testing.T) {
	for _, tt := range formats {
		t.Run(tt.name, func(t *testing.T) {
			sm := smfake.Start(t)
			oldVersion := sm.Put(secretID, tt.secret)
			token := sm.StartRotation(t, secretID)
			r, logs := newRotator(sm)
			ctx := context.Background()

			var pending string
			for _, step := range steps {
				for attempt := 1; attempt <= 2; attempt++ {
					if err := r.Handle(ctx, event(token, step)); err != nil {
						t.Fatalf("%s (attempt %d): %v", step, attempt, err)
					}
					switch step {
					case rotation.StepCreate:
						v := value(t, sm, token)
						if attempt == 2 && v != pending {
							t.Fatal("a retried createSecret changed the pending version")
						}
						pending = v
					case rotation.StepFinish:
						checkStages(t, sm.Stages(secretID), map[string][]string{
							token:      {smapi.StageCurrent},
							oldVersion: {smapi.StagePrevious},
						})
					}
				}
				if step == rotation.StepTest {
					// Until finishSecret, the old version stays current.
					checkStages(t, sm.Stages(secretID), map[string][]string{
						oldVersion: {smapi.StageCurrent},
						token:      {smapi.StagePending},
					})
				}
			}
			for _, step := range steps {
				if err := r.Handle(ctx, event(token, step)); err != nil {
					t.Fatalf("%s after finishSecret: %v", step, err)
				}
			}

			checkStages(t, sm.Stages(secretID), map[string][]string{
				token:      {smapi.StageCurrent},
				oldVersion: {smapi.StagePrevious},
			})
			after, ok := sm.Value(secretID, smapi.StageCurrent)
			if !ok || after != pending {
				t.Fatal("AWSCURRENT does not hold the value createSecret wrote")
			}
			checkRotated(t, parse(t, tt.secret), parse(t, after))
			if strings.Contains(tt.secret, "owner") && !strings.Contains(after, `"owner":"team-x"`) {
				t.Error("an unrelated top-level field was lost")
			}
			checkNoKeys(t, logs.String(), tt.secret, after)
			checkJSONLines(t, logs.String())
		})
	}
}

// checkRotated: same format, clients, forms and expiry; a fresh generated
// key for every entry that holds one; hash-only entries untouched.
func checkRotated(t *testing.T, before, after apikey.Document) {
	t.Helper()
	if before.Format != after.Format {
		t.Fatalf("format %s became %s", before.Format, after.Format)
	}
	if before.Format != apikey.FormatKeySet {
		if after.Key == before.Key || len(after.Key) != apikey.GeneratedLength {
			t.Error("the key was not replaced by a generated one")
		}
		return
	}
	if !slices.Equal(before.Names(), after.Names()) {
		t.Fatalf("clients %v became %v", before.Names(), after.Names())
	}
	seen := map[string]bool{}
	for _, name := range before.Names() {
		b, a := before.Keys[name], after.Keys[name]
		switch {
		case b.HashOnly() && (a.SHA256 != b.SHA256 || a.Key != ""):
			t.Errorf("hash-only entry %q changed", name)
		case !b.HashOnly() && (a.Key == b.Key || len(a.Key) != apikey.GeneratedLength || seen[a.Key]):
			t.Errorf("entry %q did not get a fresh generated key of its own", name)
		}
		seen[a.Key] = true
		if a.Bare != b.Bare {
			t.Errorf("entry %q changed form (bare %v → %v)", name, b.Bare, a.Bare)
		}
		if (a.Expires == nil) != (b.Expires == nil) || (a.Expires != nil && !a.Expires.Equal(*b.Expires)) {
			t.Errorf("entry %q changed expiry", name)
		}
		if !reflect.DeepEqual(a.Allow, b.Allow) || !reflect.DeepEqual(a.Sources, b.Sources) || !reflect.DeepEqual(a.Meta, b.Meta) {
			t.Errorf("entry %q changed rules: %+v → %+v", name, b, a)
		}
	}
}

func TestRotationNotStaged(t *testing.T) {
	const unknown = "00000000-0000-4000-8000-000000000000"
	tests := []struct {
		name  string
		setup func(t *testing.T, sm *smfake.Server) (token string)
		want  error // nil: nothing to do, and no error
	}{
		{"rotation not enabled", func(t *testing.T, sm *smfake.Server) string {
			sm.Put(secretID, keyA)
			sm.AddPending(secretID, unknown)
			return unknown
		}, rotation.ErrNotStaged},
		{"wrong token", func(t *testing.T, sm *smfake.Server) string {
			sm.Put(secretID, keyA)
			sm.StartRotation(t, secretID)
			return unknown
		}, rotation.ErrNotStaged},
		{"version not pending", func(t *testing.T, sm *smfake.Server) string {
			old := sm.Put(secretID, keyA)
			sm.Put(secretID, keyB) // the first becomes AWSPREVIOUS
			sm.StartRotation(t, secretID)
			return old
		}, rotation.ErrNotStaged},
		{"version already current", func(t *testing.T, sm *smfake.Server) string {
			cur := sm.Put(secretID, keyA)
			sm.StartRotation(t, secretID)
			return cur
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sm := smfake.Start(t)
			token := tt.setup(t, sm)
			before := sm.Stages(secretID)
			r, logs := newRotator(sm)
			for _, step := range steps {
				err := r.Handle(context.Background(), event(token, step))
				if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
					t.Errorf("%s: error %v, want %v", step, err, tt.want)
				}
			}
			checkStages(t, sm.Stages(secretID), before)
			if n := sm.Calls("PutSecretValue") + sm.Calls("UpdateSecretVersionStage"); n != 0 {
				t.Errorf("%d writes, want none", n)
			}
			checkNoKeys(t, logs.String(), keyA, keyB)
		})
	}
}

func TestRotationBadEvent(t *testing.T) {
	sm := smfake.Start(t)
	sm.Put(secretID, keyA)
	token := sm.StartRotation(t, secretID)
	r, _ := newRotator(sm)
	tests := []struct {
		name string
		ev   events.SecretsManagerSecretRotationEvent
	}{
		{"no secret", events.SecretsManagerSecretRotationEvent{Step: rotation.StepCreate, ClientRequestToken: token}},
		{"no token", events.SecretsManagerSecretRotationEvent{Step: rotation.StepCreate, SecretID: secretID}},
		{"unknown step", events.SecretsManagerSecretRotationEvent{Step: "deleteSecret", SecretID: secretID, ClientRequestToken: token}},
		{"no step", events.SecretsManagerSecretRotationEvent{SecretID: secretID, ClientRequestToken: token}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := r.Handle(context.Background(), tt.ev); !errors.Is(err, rotation.ErrBadEvent) {
				t.Errorf("error %v, want ErrBadEvent", err)
			}
		})
	}
	if n := sm.Calls("DescribeSecret"); n != 0 {
		t.Errorf("a malformed event reached Secrets Manager (%d calls)", n)
	}
}

// A secret with nothing but hash-only entries holds no key a rotation could
// hand out: createSecret fails and writes nothing.
func TestRotationHashOnlySecret(t *testing.T) {
	sm := smfake.Start(t)
	sm.Put(secretID, `{"api_keys":{"carol":{"sha256":"`+hashC+`"}}}`)
	token := sm.StartRotation(t, secretID)
	r, _ := newRotator(sm)
	err := r.Handle(context.Background(), event(token, rotation.StepCreate))
	if !errors.Is(err, rotation.ErrNothingToRotate) || !strings.Contains(err.Error(), "keygate keys rotate") {
		t.Fatalf("error %v, want ErrNothingToRotate naming the fix", err)
	}
	if n := sm.Calls("PutSecretValue"); n != 0 {
		t.Errorf("%d PutSecretValue calls, want none", n)
	}
}

// testSecret rejects a pending version that is not the rotation of the
// current one, whoever wrote it, and the rotation stops there.
func TestRotationTestSecretRejects(t *testing.T) {
	const notAKey = "not a key"
	tests := []struct {
		name, current, pending string
	}{
		{"unparsable", keyA, notAKey},
		{"same key", keyA, keyA},
		{"format changed", keyA, `{"api_key":"` + keyB + `"}`},
		{"clients changed (current edited during the rotation)", `{"api_keys":{"alice":"` + keyA + `"}}`, `{"api_keys":{"alice":"` + keyB + `","bob":"` + keyC + `"}}`},
		{"a key kept", `{"api_keys":{"alice":"` + keyA + `","bob":"` + keyB + `"}}`, `{"api_keys":{"alice":"` + keyC + `","bob":"` + keyB + `"}}`},
		{"hash-only entry changed", `{"api_keys":{"alice":"` + keyA + `","carol":{"sha256":"` + hashC + `"}}}`, `{"api_keys":{"alice":"` + keyB + `","carol":"` + keyC + `"}}`},
		{"key turned hash-only", `{"api_keys":{"alice":"` + keyA + `"}}`, `{"api_keys":{"alice":{"sha256":"` + hashC + `"}}}`},
		{"expiry changed", `{"api_keys":{"alice":"` + keyA + `"}}`, `{"api_keys":{"alice":{"key":"` + keyB + `","expires":"2099-01-01T00:00:00Z"}}}`},
		{"rules changed (current edited during the rotation)", `{"api_keys":{"alice":{"key":"` + keyA + `","allow":["GET /"]}}}`, `{"api_keys":{"alice":{"key":"` + keyB + `","allow":["GET /","POST /"]}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sm := smfake.Start(t)
			cur := sm.Put(secretID, tt.current)
			token := sm.StartRotation(t, secretID)
			putPending(t, sm, token, tt.pending)
			r, logs := newRotator(sm)
			ctx := context.Background()
			if err := r.Handle(ctx, event(token, rotation.StepCreate)); err != nil {
				t.Fatalf("createSecret with a pending value: %v", err)
			}
			if v := value(t, sm, token); v != tt.pending {
				t.Fatal("createSecret overwrote an existing pending value")
			}
			err := r.Handle(ctx, event(token, rotation.StepTest))
			if !errors.Is(err, rotation.ErrTestFailed) {
				t.Fatalf("error %v, want ErrTestFailed", err)
			}
			for _, k := range []string{keyA, keyB, keyC, hashC, notAKey} {
				if strings.Contains(err.Error(), k) {
					t.Errorf("the error holds a key: %v", err)
				}
			}
			checkNoKeys(t, logs.String(), tt.current, tt.pending)
			if strings.Contains(logs.String(), notAKey) {
				t.Error("a log line holds the pending value")
			}
			checkStages(t, sm.Stages(secretID), map[string][]string{
				cur:   {smapi.StageCurrent},
				token: {smapi.StagePending},
			})
		})
	}
}

// Faults at the wire make a step fail; the retry Secrets Manager makes
// then completes the rotation.
func TestRotationRetriesAfterFaults(t *testing.T) {
	tests := []struct {
		name  string
		step  string
		op    string
		fault smfake.Fault
		// wantCode: the step's error carries this AWS error code.
		wantCode string
	}{
		{"describe denied", rotation.StepCreate, "DescribeSecret", smfake.AccessDeniedFault, "AccessDeniedException"},
		{"current unreadable", rotation.StepCreate, "GetSecretValue", smfake.ThrottlingFault, "ThrottlingException"},
		{"put throttled", rotation.StepCreate, "PutSecretValue", smfake.ThrottlingFault, "ThrottlingException"},
		// The put goes through but its answer is lost: the retry finds
		// the pending value and keeps it.
		{"put answer lost", rotation.StepCreate, "PutSecretValue", smfake.TruncatedBodyFault, ""},
		{"test read fails", rotation.StepTest, "GetSecretValue", smfake.InternalErrorFault, "InternalServiceError"},
		{"finish move fails", rotation.StepFinish, "UpdateSecretVersionStage", smfake.ThrottlingFault, "ThrottlingException"},
		// AWSCURRENT moves but the answer is lost, so AWSPENDING is not
		// removed: the retry sees the version current and removes it.
		{"finish answer lost", rotation.StepFinish, "UpdateSecretVersionStage", smfake.TruncatedBodyFault, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sm := smfake.Start(t)
			old := sm.Put(secretID, `{"api_keys":{"alice":"`+keyA+`","carol":{"sha256":"`+hashC+`"}}}`)
			token := sm.StartRotation(t, secretID)
			r, logs := newRotator(sm)
			ctx := context.Background()
			for _, step := range steps {
				if step == tt.step {
					sm.FailN(tt.op, 1, tt.fault)
					err := r.Handle(ctx, event(token, step))
					if err == nil {
						t.Fatalf("%s with %s failing: no error", step, tt.op)
					}
					var api interface{ ErrorCode() string }
					if tt.wantCode != "" && (!errors.As(err, &api) || api.ErrorCode() != tt.wantCode) {
						t.Errorf("error %v, want code %s", err, tt.wantCode)
					}
				}
				if err := r.Handle(ctx, event(token, step)); err != nil {
					t.Fatalf("%s: %v", step, err)
				}
			}
			checkStages(t, sm.Stages(secretID), map[string][]string{
				token: {smapi.StageCurrent},
				old:   {smapi.StagePrevious},
			})
			if strings.Count(logs.String(), `"msg":"rotation step failed"`) != 1 {
				t.Errorf("want one logged failure:\n%s", logs)
			}
			after, _ := sm.Value(secretID, smapi.StageCurrent)
			checkNoKeys(t, logs.String(), keyA, after)
		})
	}
}

// The RotationToken of assumed-role and cross-account rotations goes to
// PutSecretValue, and never to a log.
func TestRotationToken(t *testing.T) {
	const rotationToken = "rotation-token-from-secrets-manager-0123456789"
	sm := smfake.Start(t)
	sm.Put(secretID, keyA)
	token := sm.StartRotation(t, secretID)
	r, logs := newRotator(sm)
	ev := event(token, rotation.StepCreate)
	ev.RotationToken = rotationToken
	if err := r.Handle(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	var sent bool
	for _, req := range sm.Requests() {
		if req.Operation == "PutSecretValue" {
			var in struct{ RotationToken string }
			sent = json.Unmarshal(req.Body, &in) == nil && in.RotationToken == rotationToken
		}
	}
	if !sent {
		t.Error("PutSecretValue did not carry the RotationToken")
	}
	if strings.Contains(logs.String(), rotationToken) {
		t.Error("a log line holds the RotationToken")
	}
}

func newRotator(sm *smfake.Server) (*rotation.Rotator, *logtest.Buffer) {
	logs := &logtest.Buffer{}
	return rotation.New(sm.Client(), slog.New(slog.NewJSONHandler(logs, nil))), logs
}

var steps = []string{rotation.StepCreate, rotation.StepSet, rotation.StepTest, rotation.StepFinish}

func event(token, step string) events.SecretsManagerSecretRotationEvent {
	return events.SecretsManagerSecretRotationEvent{SecretID: secretID, ClientRequestToken: token, Step: step}
}

// value reads one version's SecretString through the SDK.
func value(t *testing.T, sm *smfake.Server, versionID string) string {
	t.Helper()
	out, err := sm.Client().GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{
		SecretId: aws.String(secretID), VersionId: &versionID,
	})
	if err != nil {
		t.Fatalf("reading version %s: %v", versionID, err)
	}
	return aws.ToString(out.SecretString)
}

// putPending writes the pending version the way createSecret does.
func putPending(t *testing.T, sm *smfake.Server, token, v string) {
	t.Helper()
	_, err := sm.Client().PutSecretValue(context.Background(), &secretsmanager.PutSecretValueInput{
		SecretId: aws.String(secretID), ClientRequestToken: &token, SecretString: &v,
		VersionStages: []string{smapi.StagePending},
	})
	if err != nil {
		t.Fatalf("writing the pending version: %v", err)
	}
}

func parse(t *testing.T, s string) apikey.Document {
	t.Helper()
	doc, err := apikey.Parse(s)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return doc
}

// checkStages compares the labels of every version that has one.
func checkStages(t *testing.T, got, want map[string][]string) {
	t.Helper()
	norm := func(m map[string][]string) map[string][]string {
		out := map[string][]string{}
		for id, st := range m {
			if len(st) > 0 {
				out[id] = slices.Sorted(slices.Values(st))
			}
		}
		return out
	}
	if g, w := norm(got), norm(want); !reflect.DeepEqual(g, w) {
		t.Errorf("staging labels %v, want %v", g, w)
	}
}

// checkNoKeys fails if logs hold a key or hash of the given secrets.
func checkNoKeys(t *testing.T, logs string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		var keys []string
		doc, err := apikey.Parse(s)
		switch {
		case err != nil:
			keys = []string{strings.TrimSpace(s)}
		case doc.Format != apikey.FormatKeySet:
			keys = []string{doc.Key}
		}
		for _, e := range doc.Keys {
			keys = append(keys, e.Key, e.SHA256)
		}
		for _, k := range keys {
			if k != "" && strings.Contains(logs, k) {
				t.Errorf("a log line holds a key or hash:\n%s", logs)
				return
			}
		}
	}
}

func checkJSONLines(t *testing.T, logs string) {
	t.Helper()
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var rec struct{ Level, Msg, Step, SecretID string }
		if err := json.Unmarshal([]byte(line), &rec); err != nil || rec.Msg == "" {
			t.Errorf("not a JSON log record: %q", line)
		}
		if !strings.Contains(line, `"secret_id":"`+secretID+`"`) || !strings.Contains(line, `"step":"`) {
			t.Errorf("log record without step and secret_id: %s", line)
		}
	}
}
