package smfake

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/keygate/keygate/internal/smapi"
)

// operation carries out one call; the Server's mutex is held.
type operation func(s *Server, op string, body []byte) (any, *apiError)

// operations are the calls the fake serves, by X-Amz-Target suffix. Any
// other is answered UnknownOperationException.
var operations = map[string]operation{
	"CreateSecret":             (*Server).createSecret,
	"GetSecretValue":           (*Server).getSecretValue,
	"PutSecretValue":           (*Server).putSecretValue,
	"DescribeSecret":           (*Server).describeSecret,
	"UpdateSecretVersionStage": (*Server).updateSecretVersionStage,
	"RotateSecret":             (*Server).rotateSecret,
}

// Messages the real service answers with, kept word for word because
// callers (and people reading logs) match on them.
const (
	msgNotFound        = "Secrets Manager can't find the specified secret."
	msgExistingVersion = "You can't modify an existing version, you can only create a new version."
)

var validName = regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]{1,512}$`)

func decode(body []byte, v any) *apiError {
	if len(body) == 0 {
		body = []byte("{}")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return errorf("SerializationException", "smfake: the request body is not the expected JSON: %v", err)
	}
	return nil
}

// nameOf returns the secret name that a SecretId (a name, a full ARN or a
// partial ARN without the random suffix) stands for.
func (s *Server) nameOf(id string) (string, bool) {
	if !strings.HasPrefix(id, "arn:") {
		return id, true
	}
	rest, ok := strings.CutPrefix(id, s.arnPrefix())
	if !ok || rest == "" {
		return "", false
	}
	for name, sec := range s.secrets {
		if sec.arn == id {
			return name, true
		}
	}
	if n := len(rest) - 7; n > 0 && rest[n] == '-' && s.ARN(rest[:n]) == id {
		return rest[:n], true // a full ARN of a secret that does not exist (yet)
	}
	return rest, true // a partial ARN
}

// find resolves a SecretId, applying Deny.
func (s *Server) find(op string, id *string) (*secret, *apiError) {
	if id == nil || *id == "" {
		return nil, errorf("ValidationException", "1 validation error detected: Value null at 'secretId' failed to satisfy constraint: Member must not be null")
	}
	name, ok := s.nameOf(*id)
	if ok && s.denied[name] {
		return nil, denied(op, *id)
	}
	sec := s.secrets[name]
	if !ok || sec == nil {
		return nil, errorf("ResourceNotFoundException", msgNotFound)
	}
	return sec, nil
}

func denied(op, resource string) *apiError {
	return errorf("AccessDeniedException",
		"User: arn:aws:sts::%s:assumed-role/smfake/session is not authorized to perform: secretsmanager:%s on resource: %s because no identity-based policy allows the secretsmanager:%s action",
		Account, op, resource, op)
}

func checkToken(token *string) *apiError {
	if token != nil && (len(*token) < 32 || len(*token) > 64) {
		return errorf("ValidationException", "1 validation error detected: Value at 'clientRequestToken' failed to satisfy constraint: Member must have length between 32 and 64")
	}
	return nil
}

type nameOut struct {
	ARN  string `json:"ARN"`
	Name string `json:"Name"`
}

type versionOut struct {
	ARN           string   `json:"ARN"`
	Name          string   `json:"Name"`
	VersionId     string   `json:"VersionId,omitempty"`
	VersionStages []string `json:"VersionStages,omitempty"`
}

func (s *Server) createSecret(op string, body []byte) (any, *apiError) {
	var in struct {
		Name               *string
		ClientRequestToken *string
		SecretString       *string
		SecretBinary       []byte
		Description        string
		KmsKeyId           string
		Tags               []tag
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if in.Name == nil || !validName.MatchString(*in.Name) {
		return nil, errorf("InvalidParameterException", "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!")
	}
	if s.denied[*in.Name] {
		return nil, denied(op, *in.Name)
	}
	if e := checkToken(in.ClientRequestToken); e != nil {
		return nil, e
	}
	if in.SecretString != nil && in.SecretBinary != nil {
		return nil, errorf("InvalidParameterException", "You can't specify both a binary secret value and a string secret value in the same secret.")
	}
	hasValue := in.SecretString != nil || in.SecretBinary != nil
	token := newUUID()
	if in.ClientRequestToken != nil {
		token = *in.ClientRequestToken
	}
	now := time.Now()
	if sec := s.secrets[*in.Name]; sec != nil {
		// A retried CreateSecret (same token, same value) succeeds again.
		if v := sec.versions[token]; v != nil && hasValue && v.sameValue(in.SecretString, in.SecretBinary) {
			return versionOut{ARN: sec.arn, Name: sec.name, VersionId: v.id}, nil
		}
		return nil, errorf("ResourceExistsException", "The operation failed because the secret %s already exists.", *in.Name)
	}
	sec := newSecret(*in.Name, s.ARN(*in.Name), now)
	sec.description, sec.kmsKeyID, sec.tags = in.Description, in.KmsKeyId, in.Tags
	s.secrets[sec.name] = sec
	out := versionOut{ARN: sec.arn, Name: sec.name}
	if hasValue {
		out.VersionId = sec.addVersion(token, in.SecretString, in.SecretBinary, []string{smapi.StageCurrent}, now).id
	}
	return out, nil
}

func (s *Server) getSecretValue(op string, body []byte) (any, *apiError) {
	var in struct {
		SecretId, VersionId, VersionStage *string
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	sec, e := s.find(op, in.SecretId)
	if e != nil {
		return nil, e
	}
	var v *version
	switch {
	case in.VersionId != nil:
		v = sec.versions[*in.VersionId]
		if v == nil || v.valueless() || (in.VersionStage != nil && !slices.Contains(v.stages, *in.VersionStage)) {
			return nil, errorf("ResourceNotFoundException", "Secrets Manager can't find the specified secret value for VersionId: %s", *in.VersionId)
		}
	default:
		stage := smapi.StageCurrent
		if in.VersionStage != nil {
			stage = *in.VersionStage
		}
		if v = sec.holder(stage); v == nil || v.valueless() {
			return nil, errorf("ResourceNotFoundException", "Secrets Manager can't find the specified secret value for staging label: %s", stage)
		}
	}
	day := time.Now().UTC().Truncate(24 * time.Hour)
	sec.lastAccessed = day
	return struct {
		ARN           string   `json:"ARN"`
		Name          string   `json:"Name"`
		VersionId     string   `json:"VersionId"`
		SecretString  *string  `json:"SecretString,omitempty"`
		SecretBinary  []byte   `json:"SecretBinary,omitempty"`
		VersionStages []string `json:"VersionStages"`
		CreatedDate   *epoch   `json:"CreatedDate,omitempty"`
	}{sec.arn, sec.name, v.id, v.str, v.bin, slices.Clone(v.stages), at(v.created)}, nil
}

func (s *Server) putSecretValue(op string, body []byte) (any, *apiError) {
	var in struct {
		SecretId           *string
		ClientRequestToken *string
		SecretString       *string
		SecretBinary       []byte
		VersionStages      []string
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	sec, e := s.find(op, in.SecretId)
	if e != nil {
		return nil, e
	}
	if e := checkToken(in.ClientRequestToken); e != nil {
		return nil, e
	}
	if (in.SecretString == nil) == (in.SecretBinary == nil) {
		return nil, errorf("InvalidParameterException", "You must provide either SecretString or SecretBinary, but not both.")
	}
	token := newUUID()
	if in.ClientRequestToken != nil {
		token = *in.ClientRequestToken
	}
	if v := sec.versions[token]; v != nil && v.valueless() {
		// The rotation's createSecret step: the version exists, labelled
		// AWSPENDING, and now gets its value (and any labels asked for).
		v.str, v.bin, v.created = in.SecretString, in.SecretBinary, time.Now()
		for _, l := range in.VersionStages {
			sec.attach(l, v)
		}
		return versionOut{ARN: sec.arn, Name: sec.name, VersionId: v.id, VersionStages: slices.Clone(v.stages)}, nil
	}
	if v := sec.versions[token]; v != nil {
		if !v.sameValue(in.SecretString, in.SecretBinary) {
			return nil, errorf("ResourceExistsException", msgExistingVersion)
		}
		// The same token and value: the retry of a call that went through.
		return versionOut{ARN: sec.arn, Name: sec.name, VersionId: v.id, VersionStages: slices.Clone(v.stages)}, nil
	}
	stages := in.VersionStages
	if len(stages) == 0 {
		stages = []string{smapi.StageCurrent}
	}
	v := sec.addVersion(token, in.SecretString, in.SecretBinary, stages, time.Now())
	return versionOut{ARN: sec.arn, Name: sec.name, VersionId: v.id, VersionStages: slices.Clone(v.stages)}, nil
}

func (s *Server) describeSecret(op string, body []byte) (any, *apiError) {
	var in struct{ SecretId *string }
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	sec, e := s.find(op, in.SecretId)
	if e != nil {
		return nil, e
	}
	var next time.Time
	if sec.rotationEnabled && sec.rotationRules != nil && sec.rotationRules.AutomaticallyAfterDays != nil {
		from := sec.lastRotated
		if from.IsZero() {
			from = sec.created
		}
		next = from.AddDate(0, 0, int(*sec.rotationRules.AutomaticallyAfterDays))
	}
	return struct {
		ARN                string              `json:"ARN"`
		Name               string              `json:"Name"`
		Description        string              `json:"Description,omitempty"`
		KmsKeyId           string              `json:"KmsKeyId,omitempty"`
		RotationEnabled    bool                `json:"RotationEnabled"`
		RotationLambdaARN  string              `json:"RotationLambdaARN,omitempty"`
		RotationRules      *rotationRules      `json:"RotationRules,omitempty"`
		CreatedDate        *epoch              `json:"CreatedDate,omitempty"`
		LastChangedDate    *epoch              `json:"LastChangedDate,omitempty"`
		LastAccessedDate   *epoch              `json:"LastAccessedDate,omitempty"`
		LastRotatedDate    *epoch              `json:"LastRotatedDate,omitempty"`
		NextRotationDate   *epoch              `json:"NextRotationDate,omitempty"`
		Tags               []tag               `json:"Tags,omitempty"`
		VersionIdsToStages map[string][]string `json:"VersionIdsToStages,omitempty"`
	}{
		ARN: sec.arn, Name: sec.name, Description: sec.description, KmsKeyId: sec.kmsKeyID,
		RotationEnabled: sec.rotationEnabled, RotationLambdaARN: sec.rotationLambda, RotationRules: sec.rotationRules,
		CreatedDate: at(sec.created), LastChangedDate: at(sec.lastChanged), LastAccessedDate: at(sec.lastAccessed),
		LastRotatedDate: at(sec.lastRotated), NextRotationDate: at(next),
		Tags: sec.tags, VersionIdsToStages: sec.stages(),
	}, nil
}

func (s *Server) updateSecretVersionStage(op string, body []byte) (any, *apiError) {
	var in struct {
		SecretId                             *string
		VersionStage                         *string
		MoveToVersionId, RemoveFromVersionId *string
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	sec, e := s.find(op, in.SecretId)
	if e != nil {
		return nil, e
	}
	if in.VersionStage == nil || *in.VersionStage == "" {
		return nil, errorf("ValidationException", "1 validation error detected: Value null at 'versionStage' failed to satisfy constraint: Member must not be null")
	}
	label := *in.VersionStage
	holder := sec.holder(label)
	if in.RemoveFromVersionId != nil && (holder == nil || holder.id != *in.RemoveFromVersionId) {
		return nil, errorf("InvalidParameterException", "The staging label %s isn't attached to the version %s, so it can't be removed from it.", label, *in.RemoveFromVersionId)
	}
	now := time.Now()
	if in.MoveToVersionId == nil {
		if in.RemoveFromVersionId == nil {
			return nil, errorf("InvalidParameterException", "You must specify MoveToVersionId, RemoveFromVersionId, or both.")
		}
		if label == smapi.StageCurrent {
			// AWSCURRENT is never removed, only moved to another version.
			return nil, errorf("InvalidParameterException", "You can only move staging label AWSCURRENT to a different secret version. It can't be completely removed.")
		}
		holder.remove(label)
		sec.lastChanged = now
		return nameOut{ARN: sec.arn, Name: sec.name}, nil
	}
	to := sec.versions[*in.MoveToVersionId]
	if to == nil {
		return nil, errorf("ResourceNotFoundException", "Secrets Manager can't find the specified secret version: %s", *in.MoveToVersionId)
	}
	if holder != nil && holder != to && in.RemoveFromVersionId == nil {
		return nil, errorf("InvalidParameterException", "The parameter RemoveFromVersionId can't be empty. Staging label %s is currently attached to version %s, so you must explicitly reference that version in RemoveFromVersionId.", label, holder.id)
	}
	sec.attach(label, to)
	sec.lastChanged = now
	if label == smapi.StageCurrent && holder != to {
		// Moving AWSCURRENT is how a rotation finishes (finishSecret).
		sec.lastRotated = now
	}
	return nameOut{ARN: sec.arn, Name: sec.name}, nil
}

// rotateSecret records the rotation configuration and, when it rotates now,
// creates the new version ID without a value, labelled AWSPENDING, as the
// real service does before it invokes createSecret ("During rotation,
// Secrets Manager creates an AWSPENDING version ID before creating the new
// secret version"). It invokes nothing: tests drive the steps themselves.
func (s *Server) rotateSecret(op string, body []byte) (any, *apiError) {
	var in struct {
		SecretId           *string
		ClientRequestToken *string
		RotationLambdaARN  *string
		RotationRules      *rotationRules
		RotateImmediately  *bool
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	sec, e := s.find(op, in.SecretId)
	if e != nil {
		return nil, e
	}
	if e := checkToken(in.ClientRequestToken); e != nil {
		return nil, e
	}
	if in.RotationLambdaARN != nil {
		sec.rotationLambda = *in.RotationLambdaARN
	}
	if sec.rotationLambda == "" {
		return nil, errorf("InvalidRequestException", "No Lambda rotation function ARN is associated with this secret.")
	}
	if in.RotationRules != nil {
		sec.rotationRules = in.RotationRules
	}
	sec.rotationEnabled = true
	out := versionOut{ARN: sec.arn, Name: sec.name}
	if in.RotateImmediately == nil || *in.RotateImmediately {
		out.VersionId = newUUID()
		if in.ClientRequestToken != nil {
			out.VersionId = *in.ClientRequestToken
		}
		if sec.versions[out.VersionId] == nil {
			sec.addVersion(out.VersionId, nil, nil, []string{smapi.StagePending}, time.Now())
		}
	}
	return out, nil
}
