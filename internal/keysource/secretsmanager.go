package keysource

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/keygate/keygate/internal/apikey"
	"github.com/keygate/keygate/internal/smapi"
)

// GetSecretValueAPI is the one call keygate makes; it mirrors the SDK
// client's method so tests can pass a fake and main the real client.
type GetSecretValueAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// SecretsManager reads keys from one secret: every key of the AWSCURRENT
// version, and when asked, those of AWSPREVIOUS until Grace after the
// current version was created, so callers holding the pre-rotation key are
// not cut off. AWSPENDING is never read: a rotation in progress authorizes
// nothing.
type SecretsManager struct {
	Client   GetSecretValueAPI
	SecretID string
	Region   string // for error messages only
	Grace    time.Duration
	Now      func() time.Time
}

// Load reads and parses the secret: AWSCURRENT, and AWSPREVIOUS too if
// withPrevious and its grace period is running. Secrets Manager has no
// call that reads two stages at once, so a change can land between the two
// reads: AWSPREVIOUS then holds the version just read as AWSCURRENT, and
// the new AWSCURRENT was missed. Load reads once more when it sees that,
// rather than leave the new keys out until the next refresh.
func (s *SecretsManager) Load(ctx context.Context, withPrevious bool) (Snapshot, error) {
	snap, overtaken, err := s.load(ctx, withPrevious)
	if err == nil && overtaken {
		snap, overtaken, err = s.load(ctx, withPrevious)
		if err == nil && overtaken {
			snap.Warnings = append(snap.Warnings, "the secret changed twice while it was read: its newest version comes with the next read")
		}
	}
	return snap, err
}

func (s *SecretsManager) load(ctx context.Context, withPrevious bool) (snap Snapshot, overtaken bool, err error) {
	cur, err := s.get(ctx, smapi.StageCurrent)
	if err != nil {
		return Snapshot{}, false, err
	}
	doc, err := s.parse(cur)
	if err != nil {
		return Snapshot{}, false, err
	}
	snap = Snapshot{Source: "secretsmanager", Version: aws.ToString(cur.VersionId)}
	entries := doc.Entries(smapi.StageCurrent)

	graceEnd := aws.ToTime(cur.CreatedDate).Add(s.Grace)
	snap.PreviousInGrace = s.Grace > 0 && s.now().Before(graceEnd)
	if snap.PreviousInGrace && withPrevious {
		prevEntries, prevVersion, warn, perr := s.previous(ctx, graceEnd)
		switch {
		case perr != nil:
			// Serve the current keys now and come back soon for the
			// rest, rather than refuse everyone.
			snap.Partial = true
			snap.Warnings = append(snap.Warnings, perr.Error())
		case warn != "":
			snap.Warnings = append(snap.Warnings, warn)
		}
		overtaken = prevVersion != "" && prevVersion == snap.Version
		entries = append(entries, prevEntries...)
	}
	snap.Set = apikey.NewSet(entries)
	return snap, overtaken, nil
}

// previous returns the AWSPREVIOUS keys, capped at graceEnd, and the
// version they came from. A missing previous version is normal (never
// rotated); an unparsable one is skipped with a warning because it can
// never become valid again.
func (s *SecretsManager) previous(ctx context.Context, graceEnd time.Time) ([]apikey.Entry, string, string, error) {
	out, err := s.get(ctx, smapi.StagePrevious)
	var nf *types.ResourceNotFoundException
	if errors.As(err, &nf) {
		return nil, "", "", nil
	}
	if err != nil {
		return nil, "", "", err
	}
	version := aws.ToString(out.VersionId)
	doc, err := s.parse(out)
	if err != nil {
		return nil, version, "ignoring the AWSPREVIOUS version: " + err.Error(), nil
	}
	entries := doc.Entries(smapi.StagePrevious)
	for i := range entries {
		if entries[i].Expires.IsZero() || entries[i].Expires.After(graceEnd) {
			entries[i].Expires = graceEnd
		}
	}
	return entries, version, "", nil
}

func (s *SecretsManager) get(ctx context.Context, stage string) (*secretsmanager.GetSecretValueOutput, error) {
	out, err := s.Client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{
		SecretId:     &s.SecretID,
		VersionStage: &stage,
	})
	if err != nil {
		return nil, s.explain(stage, err)
	}
	return out, nil
}

func (s *SecretsManager) parse(out *secretsmanager.GetSecretValueOutput) (apikey.Document, error) {
	if out.SecretString == nil {
		return apikey.Document{}, fmt.Errorf("secret %s version %s holds binary data: store the key as a secret string", s.name(), aws.ToString(out.VersionId))
	}
	doc, err := apikey.Parse(*out.SecretString)
	if err != nil {
		return apikey.Document{}, fmt.Errorf("secret %s version %s: %w", s.name(), aws.ToString(out.VersionId), err)
	}
	return doc, nil
}

// explain turns a failed read into a message that names the cause and the
// fix for the function's operator. The wrapped error keeps the SDK error
// for errors.As.
func (s *SecretsManager) explain(stage string, err error) error {
	what := fmt.Sprintf("secret %s (%s) in %s", s.name(), stage, s.region())
	const reach = ": check that Secrets Manager is reachable from the function (VPC endpoint or NAT)"
	var msg string
	switch smapi.Diagnose(err) {
	case smapi.NotFound:
		msg = fmt.Sprintf("API_KEY_SECRET_ID is set but the secret %s (%s) was not found in %s: check the name or region", s.name(), stage, s.region())
	case smapi.AccessDenied:
		msg = "access to " + what + " was denied: grant the function's role secretsmanager:GetSecretValue on it (and kms:Decrypt on its key if it uses a customer managed key)"
	case smapi.DecryptFailed:
		msg = what + " could not be decrypted: grant the function's role kms:Decrypt on the secret's KMS key"
	case smapi.Refused:
		msg = what + " cannot be read (is it scheduled for deletion? restore it with aws secretsmanager restore-secret)"
	case smapi.Throttled:
		msg = "reading " + what + " was throttled: the cache retries with backoff; lower the request rate to GetSecretValue or raise KEY_REFRESH"
	case smapi.BadCredentials:
		msg = "reading " + what + " was refused: the service does not accept the function's credentials (expired or unknown); in Lambda the runtime provides them, elsewhere check AWS_ACCESS_KEY_ID and AWS_SESSION_TOKEN"
	case smapi.NoCredentials:
		msg = "reading " + what + " failed: no AWS credentials were found; in Lambda the runtime provides them, elsewhere set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or AWS_PROFILE"
	case smapi.Untrusted:
		msg = "reading " + what + " failed: the endpoint's certificate is not one the function trusts (for AWS's own endpoints it trusts the Amazon Trust Services roots only; a TLS-inspecting proxy in the way?): set KEYGATE_TRUST_STORE=system to use the system's trust store, or AWS_CA_BUNDLE to name the CAs"
	case smapi.TimedOut:
		msg = "reading " + what + " timed out" + reach
	case smapi.Unreachable:
		msg = "reading " + what + " failed" + reach
	case smapi.ServerError:
		msg = "reading " + what + " failed: Secrets Manager answered with a server error; the cache retries with backoff and recovers when the service does"
	default:
		msg = "reading " + what + " failed"
	}
	return fmt.Errorf("%s: %w", msg, err)
}

// name is how messages name the secret: quoted, unless the ID looks like a
// key pasted into API_KEY_SECRET_ID rather than a name or ARN (no "arn:"
// or "/", 16 or more characters mixing upper case, lower case and digits),
// which must not reach a log.
func (s *SecretsManager) name() string {
	id := s.SecretID
	var upper, lower, digit bool
	for _, c := range id {
		upper = upper || 'A' <= c && c <= 'Z'
		lower = lower || 'a' <= c && c <= 'z'
		digit = digit || '0' <= c && c <= '9'
	}
	if len(id) >= 16 && upper && lower && digit && !strings.HasPrefix(id, "arn:") && !strings.Contains(id, "/") && apikey.CouldBeKey(id) {
		return fmt.Sprintf("named by API_KEY_SECRET_ID (%d characters, not shown: it looks like a key, not a secret's name or ARN)", len(id))
	}
	return strconv.Quote(id)
}

func (s *SecretsManager) region() string {
	if s.Region == "" {
		return "the configured region"
	}
	return s.Region
}

func (s *SecretsManager) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}
