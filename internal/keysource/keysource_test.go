package keysource_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"

	"github.com/keygate/keygate/internal/apikey"
	"github.com/keygate/keygate/internal/keycache"
	"github.com/keygate/keygate/internal/keysource"
	"github.com/keygate/keygate/internal/smapi"
	"github.com/keygate/keygate/internal/testsupport/smfake"
)

const (
	secretName = "prod/keygate/api-key"
	oldKey     = "kgOldKey0123456789abcdefABCDEF01"
	newKey     = "kgNewKey0123456789abcdefABCDEF02"
	pendingKey = "kgPendingKey456789abcdefABCDEF03"
)

// created is the CreatedDate the tests give the AWSCURRENT version.
var created = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func start(t *testing.T) *smfake.Server {
	t.Helper()
	srv := smfake.New()
	t.Cleanup(srv.Close)
	return srv
}

func source(srv *smfake.Server, client keysource.GetSecretValueAPI, now time.Time) *keysource.SecretsManager {
	return &keysource.SecretsManager{
		Client: client, SecretID: secretName, Region: srv.Region,
		Grace: 24 * time.Hour, Now: func() time.Time { return now },
	}
}

// rotate stores old then new (old becomes AWSPREVIOUS, as after a
// rotation) and dates the new version at created.
func rotate(t *testing.T, srv *smfake.Server, oldValue, newValue string) (oldID, newID string) {
	t.Helper()
	oldID = srv.Put(secretName, oldValue)
	srv.SetCreated(secretName, oldID, created.Add(-30*24*time.Hour))
	newID = srv.Put(secretName, newValue)
	srv.SetCreated(secretName, newID, created)
	return oldID, newID
}

// stagesRequested lists the VersionStage of every GetSecretValue call.
func stagesRequested(t *testing.T, srv *smfake.Server) []string {
	t.Helper()
	var out []string
	for _, r := range srv.Requests() {
		if r.Operation != "GetSecretValue" {
			continue
		}
		var in struct{ VersionStage *string }
		if err := json.Unmarshal(r.Body, &in); err != nil {
			t.Fatalf("request body: %v", err)
		}
		out = append(out, aws.ToString(in.VersionStage))
	}
	return out
}

func match(t *testing.T, snap keysource.Snapshot, key string, at time.Time) (apikey.Entry, apikey.Result) {
	t.Helper()
	if snap.Set == nil {
		t.Fatal("snapshot without a set")
	}
	return snap.Set.Match(key, at)
}

// loadWarm is a load that asks for the previous version too (every load
// but the cold start's), with the stages it requested.
func loadWarm(t *testing.T, srv *smfake.Server, s *keysource.SecretsManager) (keysource.Snapshot, string) {
	t.Helper()
	n := len(stagesRequested(t, srv))
	snap, err := s.Load(context.Background(), true)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return snap, fmt.Sprint(stagesRequested(t, srv)[n:])
}

// load is the cold start's load: the current version only.
func load(t *testing.T, s *keysource.SecretsManager) keysource.Snapshot {
	t.Helper()
	snap, err := s.Load(context.Background(), false)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return snap
}

func TestCurrentOnly(t *testing.T) {
	tests := []struct {
		name   string
		secret string
		keys   map[string]string // key → client
	}{
		{"plain", newKey, map[string]string{newKey: apikey.DefaultClient}},
		{"api_key", `{"api_key":"` + newKey + `"}`, map[string]string{newKey: apikey.DefaultClient}},
		{"api_keys", `{"api_keys":{"alice":"` + newKey + `","bob":{"key":"` + oldKey + `"}}}`, map[string]string{newKey: "alice", oldKey: "bob"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := start(t)
			id := srv.Put(secretName, tt.secret)
			srv.SetCreated(secretName, id, created.Add(-48*time.Hour))
			snap := load(t, source(srv, srv.Client(), created))
			if snap.Source != "secretsmanager" || snap.Version != id || snap.Partial || len(snap.Warnings) != 0 {
				t.Errorf("snapshot = %+v, want source secretsmanager, version %s, complete", snap, id)
			}
			if snap.Set.Len() != len(tt.keys) {
				t.Errorf("%d keys, want %d", snap.Set.Len(), len(tt.keys))
			}
			for k, client := range tt.keys {
				e, res := match(t, snap, k, created.AddDate(10, 0, 0))
				if res != apikey.OK || e.Client != client || e.Stage != smapi.StageCurrent || !e.Expires.IsZero() {
					t.Errorf("key of %s: %v %+v, want authorized forever from AWSCURRENT", client, res, e)
				}
			}
			if _, res := match(t, snap, pendingKey, created); res != apikey.Invalid {
				t.Errorf("an unknown key: %v", res)
			}
			// Created 48h ago with a 24h grace: no AWSPREVIOUS call.
			if got := stagesRequested(t, srv); fmt.Sprint(got) != "[AWSCURRENT]" {
				t.Errorf("stages requested %v, want [AWSCURRENT]", got)
			}
		})
	}
}

func TestSecretByARN(t *testing.T) {
	srv := start(t)
	srv.Put(secretName, newKey)
	s := source(srv, srv.Client(), created)
	s.SecretID = srv.ARN(secretName)
	if _, res := match(t, load(t, s), newKey, created); res != apikey.OK {
		t.Errorf("by ARN: %v", res)
	}
}

// TestGrace: after a rotation the previous key works until the current
// version's CreatedDate + Grace, and not from that instant on.
func TestGrace(t *testing.T) {
	grace := 24 * time.Hour
	end := created.Add(grace)
	tests := []struct {
		name        string
		now         time.Time // when the set is loaded
		at          time.Time // when the old key is presented
		want        apikey.Result
		wantStages  string
		wantExpires time.Time
	}{
		{"just after rotation", created.Add(time.Minute), created.Add(time.Minute), apikey.OK, "[AWSCURRENT AWSPREVIOUS]", end},
		{"last nanosecond of grace", end.Add(-time.Nanosecond), end.Add(-time.Nanosecond), apikey.OK, "[AWSCURRENT AWSPREVIOUS]", end},
		{"loaded in grace, used at its end", created.Add(time.Hour), end, apikey.Expired, "[AWSCURRENT AWSPREVIOUS]", end},
		{"loaded at the end of grace", end, end, apikey.Invalid, "[AWSCURRENT]", time.Time{}},
		{"loaded long after", end.Add(30 * 24 * time.Hour), end.Add(30 * 24 * time.Hour), apikey.Invalid, "[AWSCURRENT]", time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := start(t)
			_, newID := rotate(t, srv, oldKey, newKey)
			s := source(srv, srv.Client(), tt.now)
			s.Grace = grace
			snap, stages := loadWarm(t, srv, s)
			if snap.Version != newID || snap.Partial {
				t.Errorf("snapshot version %s partial %v, want %s complete", snap.Version, snap.Partial, newID)
			}
			e, res := match(t, snap, oldKey, tt.at)
			if res != tt.want {
				t.Errorf("old key: %v, want %v", res, tt.want)
			}
			if res != apikey.Invalid && (e.Stage != smapi.StagePrevious || !e.Expires.Equal(tt.wantExpires)) {
				t.Errorf("old key entry %+v, want AWSPREVIOUS expiring %v", e, tt.wantExpires)
			}
			if _, res := match(t, snap, newKey, tt.at.AddDate(1, 0, 0)); res != apikey.OK {
				t.Errorf("new key: %v", res)
			}
			if stages != tt.wantStages {
				t.Errorf("stages requested %s, want %s", stages, tt.wantStages)
			}
		})
	}
}

func TestGraceZeroNeverReadsPrevious(t *testing.T) {
	srv := start(t)
	rotate(t, srv, oldKey, newKey)
	s := source(srv, srv.Client(), created.Add(time.Second))
	s.Grace = 0
	snap := load(t, s)
	if _, res := match(t, snap, oldKey, created.Add(time.Second)); res != apikey.Invalid {
		t.Errorf("old key with no grace: %v", res)
	}
	if got := fmt.Sprint(stagesRequested(t, srv)); got != "[AWSCURRENT]" {
		t.Errorf("stages requested %s", got)
	}
}

// Previous entries keep an expiry earlier than the grace end, and a key
// present in both versions keeps the current version's (longer) life.
func TestPreviousEntries(t *testing.T) {
	srv := start(t)
	soon := created.Add(2 * time.Hour)
	rotate(t, srv,
		`{"api_keys":{"alice":"`+oldKey+`","bob":{"key":"`+pendingKey+`","expires":"`+soon.Format(time.RFC3339)+`"},"carol":"kgCarolKeptKey"}}`,
		`{"api_keys":{"alice":"`+newKey+`","carol":"kgCarolKeptKey"}}`)
	snap, _ := loadWarm(t, srv, source(srv, srv.Client(), created.Add(time.Minute)))
	tests := []struct {
		key  string
		at   time.Time
		want apikey.Result
	}{
		{oldKey, created.Add(23 * time.Hour), apikey.OK},
		{pendingKey, soon.Add(-time.Second), apikey.OK},
		{pendingKey, soon, apikey.Expired},
		{"kgCarolKeptKey", created.Add(48 * time.Hour), apikey.OK},
	}
	for _, tt := range tests {
		if _, res := match(t, snap, tt.key, tt.at); res != tt.want {
			t.Errorf("%s at %v: %v, want %v", tt.key, tt.at, res, tt.want)
		}
	}
}

func TestPreviousMissing(t *testing.T) {
	srv := start(t)
	id := srv.Put(secretName, newKey)
	srv.SetCreated(secretName, id, created)
	snap, stages := loadWarm(t, srv, source(srv, srv.Client(), created.Add(time.Minute)))
	if snap.Partial || len(snap.Warnings) != 0 {
		t.Errorf("a secret never rotated: partial %v warnings %v", snap.Partial, snap.Warnings)
	}
	if _, res := match(t, snap, newKey, created); res != apikey.OK {
		t.Errorf("current key: %v", res)
	}
	if stages != "[AWSCURRENT AWSPREVIOUS]" {
		t.Errorf("stages requested %s", stages)
	}
}

// changeBeforePrevious lets a change land between a load's two reads: it
// stores the next value before the AWSPREVIOUS call goes out, as a rotation
// that finishes at that moment would (the first times times).
type changeBeforePrevious struct {
	keysource.GetSecretValueAPI
	srv   *smfake.Server
	next  []string
	times int
}

func (c *changeBeforePrevious) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	if aws.ToString(in.VersionStage) == smapi.StagePrevious && c.times > 0 {
		c.times--
		id := c.srv.Put(secretName, c.next[0])
		c.srv.SetCreated(secretName, id, created.Add(time.Hour))
		c.next = c.next[1:]
	}
	return c.GetSecretValueAPI.GetSecretValue(ctx, in, optFns...)
}

func TestChangeBetweenTheTwoReads(t *testing.T) {
	const newerKey, newestKey = "kgNewerKey123456789abcdefABCDEF04", "kgNewestKey23456789abcdefABCDEF05"
	tests := []struct {
		name       string
		changes    int
		wantStages string
		wantOK     []string // keys the set holds
		wantWarn   bool
	}{
		// The first read saw newKey as AWSCURRENT, the second finds it
		// AWSPREVIOUS: the load reads again and finds newerKey.
		{"once", 1, "[AWSCURRENT AWSPREVIOUS AWSCURRENT AWSPREVIOUS]", []string{newKey, newerKey}, false},
		// A second change during the second load: serve what was read
		// and say so (newKey lost its label with the second change); the next
		// refresh brings newestKey.
		{"twice", 2, "[AWSCURRENT AWSPREVIOUS AWSCURRENT AWSPREVIOUS]", []string{newerKey}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := start(t)
			rotate(t, srv, oldKey, newKey)
			client := &changeBeforePrevious{GetSecretValueAPI: srv.Client(), srv: srv, next: []string{newerKey, newestKey}, times: tt.changes}
			snap, stages := loadWarm(t, srv, source(srv, client, created.Add(2*time.Hour)))
			if stages != tt.wantStages {
				t.Errorf("stages requested %s, want %s", stages, tt.wantStages)
			}
			for _, key := range tt.wantOK {
				if _, res := match(t, snap, key, created.Add(3*time.Hour)); res != apikey.OK {
					t.Errorf("%s: %v, want OK", key, res)
				}
			}
			if got := len(snap.Warnings) != 0; got != tt.wantWarn {
				t.Errorf("warnings %q, want some: %v", snap.Warnings, tt.wantWarn)
			}
			for _, w := range snap.Warnings {
				if strings.Contains(w, "kg") {
					t.Errorf("warning shows a key: %q", w)
				}
			}
		})
	}
}

// faultOnPrevious injects a wire fault into the AWSPREVIOUS call only.
type faultOnPrevious struct {
	srv    *smfake.Server
	client *secretsmanager.Client
	fault  smfake.Fault
}

func (f faultOnPrevious) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	if aws.ToString(in.VersionStage) == smapi.StagePrevious {
		f.srv.FailN("GetSecretValue", 1, f.fault)
	}
	return f.client.GetSecretValue(ctx, in, opts...)
}

func TestPreviousReadErrorIsPartial(t *testing.T) {
	for name, fault := range map[string]smfake.Fault{
		"throttled":      smfake.ThrottlingFault,
		"internal error": smfake.InternalErrorFault,
		"access denied":  smfake.AccessDeniedFault,
		"reset":          smfake.ConnectionResetFault,
	} {
		t.Run(name, func(t *testing.T) {
			srv := start(t)
			rotate(t, srv, oldKey, newKey)
			s := source(srv, faultOnPrevious{srv, srv.Client(), fault}, created.Add(time.Minute))
			snap, _ := loadWarm(t, srv, s)
			if !snap.Partial || len(snap.Warnings) != 1 {
				t.Fatalf("partial %v warnings %v, want a partial snapshot with one warning", snap.Partial, snap.Warnings)
			}
			// The warning must tell that only the previous version failed.
			for _, want := range []string{secretName, "(" + smapi.StagePrevious + ")", "us-east-1"} {
				if !strings.Contains(snap.Warnings[0], want) {
					t.Errorf("warning %q does not name %q", snap.Warnings[0], want)
				}
			}
			if _, res := match(t, snap, newKey, created); res != apikey.OK {
				t.Errorf("current key in a partial set: %v", res)
			}
			if _, res := match(t, snap, oldKey, created); res != apikey.Invalid {
				t.Errorf("previous key when unreadable: %v", res)
			}
			assertNoKey(t, strings.Join(snap.Warnings, " "))
		})
	}
}

func TestPreviousUnparsable(t *testing.T) {
	srv := start(t)
	bad := `{"api_keys":{"alice":"` + oldKey + ` with space"}}`
	oldID, _ := rotate(t, srv, bad, newKey)
	snap, _ := loadWarm(t, srv, source(srv, srv.Client(), created.Add(time.Minute)))
	if snap.Partial || len(snap.Warnings) != 1 {
		t.Fatalf("partial %v warnings %v, want one warning and a complete set", snap.Partial, snap.Warnings)
	}
	w := snap.Warnings[0]
	for _, s := range []string{"AWSPREVIOUS", secretName, oldID, `api_keys["alice"]`} {
		if !strings.Contains(w, s) {
			t.Errorf("warning %q does not name %q", w, s)
		}
	}
	assertNoKey(t, w)
	if _, res := match(t, snap, newKey, created); res != apikey.OK {
		t.Errorf("current key: %v", res)
	}
}

func TestPendingNeverAuthorizes(t *testing.T) {
	srv := start(t)
	rotate(t, srv, oldKey, newKey)
	_, err := srv.Client().PutSecretValue(context.Background(), &secretsmanager.PutSecretValueInput{
		SecretId: aws.String(secretName), SecretString: aws.String(pendingKey),
		VersionStages: []string{"AWSPENDING"}, ClientRequestToken: aws.String("dddddddd-dddd-4ddd-8ddd-dddddddddddd"),
	})
	if err != nil {
		t.Fatalf("PutSecretValue AWSPENDING: %v", err)
	}
	snap, _ := loadWarm(t, srv, source(srv, srv.Client(), created.Add(time.Minute)))
	if _, res := match(t, snap, pendingKey, created.Add(time.Minute)); res != apikey.Invalid {
		t.Errorf("pending key: %v, want invalid", res)
	}
	for _, k := range []string{oldKey, newKey} {
		if _, res := match(t, snap, k, created.Add(time.Minute)); res != apikey.OK {
			t.Errorf("%s during a rotation in progress: %v", k, res)
		}
	}
	for _, st := range stagesRequested(t, srv) {
		if st == "AWSPENDING" {
			t.Error("AWSPENDING was read")
		}
	}
}

// TestErrors: each failure names the cause, the fix, the secret and (for a
// missing secret) the region, keeps the SDK error for errors.As, and
// never holds a key.
func TestErrors(t *testing.T) {
	tests := []struct {
		name  string
		setup func(srv *smfake.Server)
		ctx   func() (context.Context, context.CancelFunc)
		says  []string
		code  string // the AWS error code errors.As finds, if any
	}{
		{"not found", func(srv *smfake.Server) {}, nil,
			[]string{"API_KEY_SECRET_ID is set but the secret", secretName, "was not found in us-east-1", "check the name or region"}, "ResourceNotFoundException"},
		{"deleted", func(srv *smfake.Server) { srv.Put(secretName, newKey); srv.Delete(secretName) }, nil,
			[]string{"was not found in us-east-1", secretName}, "ResourceNotFoundException"},
		{"access denied", func(srv *smfake.Server) { srv.Put(secretName, newKey); srv.Deny(secretName, true) }, nil,
			[]string{"access to secret", secretName, "denied", "secretsmanager:GetSecretValue", "kms:Decrypt"}, "AccessDeniedException"},
		{"decryption failure", func(srv *smfake.Server) {
			srv.Put(secretName, newKey)
			srv.Fail("GetSecretValue", smfake.Fault{Code: "DecryptionFailure", Message: "KMS says no"})
		}, nil, []string{secretName, "could not be decrypted", "kms:Decrypt"}, "DecryptionFailure"},
		{"scheduled for deletion", func(srv *smfake.Server) {
			srv.Put(secretName, newKey)
			srv.Fail("GetSecretValue", smfake.Fault{Code: "InvalidRequestException", Message: "marked for deletion"})
		}, nil, []string{secretName, "scheduled for deletion", "restore-secret"}, "InvalidRequestException"},
		{"throttling", func(srv *smfake.Server) {
			srv.Put(secretName, newKey)
			srv.Fail("GetSecretValue", smfake.ThrottlingFault)
		}, nil, []string{secretName, "throttled", "backoff", "KEY_REFRESH"}, "ThrottlingException"},
		{"timeout", func(srv *smfake.Server) {
			srv.Put(secretName, newKey)
			srv.Fail("GetSecretValue", smfake.HangFault)
		}, func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 200*time.Millisecond)
		},
			[]string{secretName, "timed out", "VPC endpoint or NAT"}, ""},
		{"internal error", func(srv *smfake.Server) {
			srv.Put(secretName, newKey)
			srv.Fail("GetSecretValue", smfake.InternalErrorFault)
		}, nil, []string{secretName, "failed", "server error", "retries with backoff"}, "InternalServiceError"},
		{"bare 503", func(srv *smfake.Server) {
			srv.Put(secretName, newKey)
			srv.Fail("GetSecretValue", smfake.UnavailableFault)
		}, nil, []string{secretName, "server error", "recovers"}, "UnknownError"},
		{"connection reset", func(srv *smfake.Server) {
			srv.Put(secretName, newKey)
			srv.Fail("GetSecretValue", smfake.ConnectionResetFault)
		}, nil, []string{secretName, "failed", "reachable", "VPC endpoint or NAT"}, ""},
		{"invalid secret", func(srv *smfake.Server) { srv.Put(secretName, `{"api_key":"`+newKey+` x"}`) }, nil,
			[]string{secretName, "api_key contains characters"}, ""},
		{"binary secret", func(srv *smfake.Server) {
			_, err := srv.Client().CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{
				Name: aws.String(secretName), SecretBinary: []byte(newKey),
			})
			if err != nil {
				panic(err)
			}
		}, nil, []string{secretName, "holds binary data", "store the key as a secret string"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := start(t)
			tt.setup(srv)
			ctx, cancel := context.Background(), context.CancelFunc(func() {})
			if tt.ctx != nil {
				ctx, cancel = tt.ctx()
			}
			defer cancel()
			snap, err := source(srv, srv.Client(), created).Load(ctx, true)
			if err == nil {
				t.Fatalf("Load succeeded: %+v", snap)
			}
			says := tt.says
			if tt.code != "" || tt.name == "timeout" {
				// A failed read names what it read and where.
				says = append(says, `"`+secretName+`" (AWSCURRENT)`, "us-east-1")
			}
			for _, s := range says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
			var api smithy.APIError
			if got := errors.As(err, &api); got != (tt.code != "") || (got && api.ErrorCode() != tt.code) {
				t.Errorf("errors.As APIError = %v (%v), want code %q", got, api, tt.code)
			}
			if tt.name == "timeout" && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("timeout error %v does not wrap context.DeadlineExceeded", err)
			}
			assertNoKey(t, err.Error())
		})
	}
}

// The cache over the real client: a hanging store is cut off by
// LoadTimeout, the function answers with ErrUnavailable, and recovers once
// the store answers.
func TestWithCache(t *testing.T) {
	srv := start(t)
	srv.Put(secretName, newKey)
	srv.Fail("GetSecretValue", smfake.HangFault)
	now := time.Now()
	var logs strings.Builder
	// LoadTimeout is also the budget of the recovery load: generous, so a
	// busy machine (-race, packages in parallel) cannot make it fail.
	c := keycache.New(source(srv, srv.Client(), now), keycache.Options{
		Refresh: time.Minute, LoadTimeout: 2 * time.Second, BackoffBase: time.Millisecond, BackoffMax: time.Millisecond,
		Now: func() time.Time { return now }, Log: slog.New(slog.NewJSONHandler(&logs, nil)),
	})
	if err := c.Load(context.Background()); err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("Load against a hanging store = %v, want a timeout", err)
	}
	if _, err := c.Keys(context.Background()); !errors.Is(err, keycache.ErrUnavailable) {
		t.Fatalf("Keys = %v, want ErrUnavailable", err)
	}
	srv.Clear()
	now = now.Add(time.Second)
	set, err := c.Keys(context.Background())
	if err != nil {
		t.Fatalf("Keys after recovery: %v\n%s", err, logs.String())
	}
	if _, res := set.Match(newKey, now); res != apikey.OK {
		t.Errorf("key after recovery: %v", res)
	}
}

func assertNoKey(t *testing.T, s string) {
	t.Helper()
	for _, k := range []string{oldKey, newKey, pendingKey} {
		if strings.Contains(s, k) {
			t.Fatalf("a key reached a message: %s", s)
		}
	}
}

func TestStatic(t *testing.T) {
	tests := []struct {
		name, value string
		keys        []string
	}{
		{"plain", newKey, []string{newKey}},
		{"plain with newline", newKey + "\n", []string{newKey}},
		{"api_key", `{"api_key":"` + newKey + `"}`, []string{newKey}},
		{"api_keys", `{"api_keys":{"a":"` + newKey + `","b":{"key":"` + oldKey + `"}}}`, []string{newKey, oldKey}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap, err := keysource.NewStatic("env", tt.value).Load(context.Background(), true)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if snap.Source != "env" || snap.Partial || snap.Set.Len() != len(tt.keys) {
				t.Errorf("snapshot %+v", snap)
			}
			for _, k := range tt.keys {
				if e, res := snap.Set.Match(k, created); res != apikey.OK || e.Stage != "" {
					t.Errorf("key: %v %+v", res, e)
				}
			}
		})
	}
	for _, bad := range []string{"", "  ", newKey + " " + oldKey, `{"api_key":""}`, `{"api_keys":{"a":"` + newKey + `","b":"` + newKey + `"}}`} {
		s := keysource.NewStatic("env", bad)
		for range 2 { // every load fails the same way
			snap, err := s.Load(context.Background(), true)
			if err == nil || snap.Set != nil {
				t.Fatalf("NewStatic(%q) loaded %+v", bad, snap)
			}
			if !errors.Is(err, apikey.ErrFormat) || !strings.HasPrefix(err.Error(), "API_KEY is set but") {
				t.Errorf("error %q: want an ErrFormat naming API_KEY", err)
			}
			assertNoKey(t, err.Error())
		}
	}
}

func TestFailing(t *testing.T) {
	cause := errors.New("neither API_KEY_SECRET_ID nor API_KEY is set")
	s := keysource.Failing(cause)
	for range 3 {
		snap, err := s.Load(context.Background(), true)
		if !errors.Is(err, cause) || snap.Set != nil {
			t.Fatalf("Failing.Load = %+v, %v; want no set and the cause", snap, err)
		}
	}
}

// A key pasted into API_KEY_SECRET_ID is not a secret's name: the error
// says so and which variable to fix, and never holds the value.
func TestKeyAsSecretIDNotShown(t *testing.T) {
	srv := start(t)
	const pasted = "kgPastedKey0123456789abcdefABCDEF"
	s := &keysource.SecretsManager{Client: srv.Client(), SecretID: pasted, Region: "us-east-1"}
	_, err := s.Load(context.Background(), true)
	if err == nil {
		t.Fatal("Load succeeded")
	}
	for _, want := range []string{"API_KEY_SECRET_ID", "not shown: it looks like a key", "was not found in us-east-1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), pasted) || strings.Contains(err.Error(), pasted[:12]) {
		t.Errorf("error %q holds the pasted key", err)
	}
	// Names and ARNs are shown as they are.
	for _, id := range []string{"prod/keygate/api-key", "arn:aws:secretsmanager:us-east-1:123456789012:secret:KeygateSecret0123-AbCdEf", "keygate-api-key"} {
		s.SecretID = id
		if _, err := s.Load(context.Background(), true); err == nil || !strings.Contains(err.Error(), `"`+id+`"`) {
			t.Errorf("secret %s: error %v does not name it", id, err)
		}
	}
}

// A client without credentials: the error says that credentials are
// missing and where they come from, not that the store is unreachable.
func TestNoCredentials(t *testing.T) {
	srv := start(t)
	srv.Put(secretName, newKey)
	client := srv.Client(func(o *secretsmanager.Options) {
		o.Credentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{}, errors.New("no EC2 IMDS role found")
		})
	})
	_, err := source(srv, client, created).Load(context.Background(), true)
	if err == nil {
		t.Fatal("Load succeeded without credentials")
	}
	for _, want := range []string{"no AWS credentials were found", "AWS_ACCESS_KEY_ID", secretName} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "reachable") {
		t.Errorf("error %q blames the network", err)
	}
}

// An endpoint whose certificate the client does not trust (a TLS-inspecting
// proxy, say): the error says so and how to choose the trust store.
func TestUntrustedEndpoint(t *testing.T) {
	tlsSrv := httptest.NewTLSServer(http.NotFoundHandler())
	defer tlsSrv.Close()
	client := secretsmanager.New(secretsmanager.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(tlsSrv.URL),
		Credentials:      aws.AnonymousCredentials{},
		HTTPClient:       &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: x509.NewCertPool()}}},
		RetryMaxAttempts: 1,
	})
	_, err := (&keysource.SecretsManager{Client: client, SecretID: secretName, Region: "us-east-1"}).Load(context.Background(), true)
	for _, want := range []string{"certificate is not one the function trusts", "KEYGATE_TRUST_STORE=system", "AWS_CA_BUNDLE"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not say %q", err, want)
		}
	}
}

// AWSPREVIOUS is read only when asked for (the cache leaves it out at cold
// start), and only in its grace period; the snapshot says whether that
// period is running, asked or not.
func TestPreviousOnlyWhenAsked(t *testing.T) {
	for _, tt := range []struct {
		name    string
		grace   time.Duration
		now     time.Time
		inGrace bool
	}{
		{"in a grace window", 24 * time.Hour, created.Add(time.Minute), true},
		{"after it", 24 * time.Hour, created.Add(25 * time.Hour), false},
		{"KEY_GRACE 0", 0, created.Add(time.Minute), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := start(t)
			rotate(t, srv, oldKey, newKey)
			s := source(srv, srv.Client(), tt.now)
			s.Grace = tt.grace
			n := len(stagesRequested(t, srv))
			snap := load(t, s)
			if got := fmt.Sprint(stagesRequested(t, srv)[n:]); snap.PreviousInGrace != tt.inGrace || got != "[AWSCURRENT]" {
				t.Errorf("not asked: in grace %v, stages %s; want %v, [AWSCURRENT]", snap.PreviousInGrace, got, tt.inGrace)
			}
			if _, res := match(t, snap, oldKey, tt.now); res != apikey.Invalid {
				t.Errorf("old key, not asked for: %v", res)
			}
			snap, got := loadWarm(t, srv, s)
			want := "[AWSCURRENT]"
			if tt.inGrace {
				want = "[AWSCURRENT AWSPREVIOUS]"
			}
			if snap.PreviousInGrace != tt.inGrace || got != want {
				t.Errorf("asked: in grace %v, stages %s; want %v, %s", snap.PreviousInGrace, got, tt.inGrace, want)
			}
			if _, res := match(t, snap, oldKey, tt.now); (res == apikey.OK) != tt.inGrace {
				t.Errorf("old key, asked for: %v", res)
			}
		})
	}
}
