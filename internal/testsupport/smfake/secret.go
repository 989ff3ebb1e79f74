package smfake

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"slices"
	"time"

	"github.com/keygate/keygate/internal/smapi"
)

// secret is one secret's state. The Server's mutex guards it.
type secret struct {
	name, arn   string
	description string
	kmsKeyID    string
	tags        []tag

	versions map[string]*version
	order    []string // version IDs, oldest first

	created, lastChanged, lastAccessed, lastRotated time.Time

	rotationEnabled bool
	rotationLambda  string
	rotationRules   *rotationRules
}

type version struct {
	id      string
	str     *string
	bin     []byte   // neither str nor bin: the value-less AWSPENDING of a rotation
	stages  []string // in the order they were attached
	created time.Time
}

type tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

type rotationRules struct {
	AutomaticallyAfterDays *int64  `json:"AutomaticallyAfterDays,omitempty"`
	Duration               *string `json:"Duration,omitempty"`
	ScheduleExpression     *string `json:"ScheduleExpression,omitempty"`
}

func newSecret(name, arn string, now time.Time) *secret {
	return &secret{name: name, arn: arn, versions: map[string]*version{}, created: now, lastChanged: now}
}

// holder returns the version that has the staging label, or nil.
func (s *secret) holder(label string) *version {
	for _, id := range s.order {
		if slices.Contains(s.versions[id].stages, label) {
			return s.versions[id]
		}
	}
	return nil
}

// valueless is the version ID a rotation creates, labelled AWSPENDING,
// before its createSecret step gives it a value.
func (v *version) valueless() bool { return v.str == nil && v.bin == nil }

// sameValue says whether a version holds exactly this value, which makes a
// repeated PutSecretValue with the same token a no-op.
func (v *version) sameValue(str *string, bin []byte) bool {
	if (v.str == nil) != (str == nil) || (v.str != nil && *v.str != *str) {
		return false
	}
	return bytes.Equal(v.bin, bin)
}

// addVersion creates a version and attaches labels to it as PutSecretValue
// does.
func (s *secret) addVersion(id string, str *string, bin []byte, labels []string, now time.Time) *version {
	v := &version{id: id, str: str, bin: bin, created: now}
	s.versions[id] = v
	s.order = append(s.order, id)
	for _, l := range labels {
		s.attach(l, v)
	}
	s.lastChanged = now
	return v
}

// attach moves the staging label to v, taking it from whichever version had
// it. Moving AWSCURRENT gives AWSPREVIOUS to the version that loses
// AWSCURRENT, as the real service does (and takes AWSPREVIOUS from whichever
// version had it, v included).
func (s *secret) attach(label string, v *version) {
	old := s.holder(label)
	if old == v {
		return
	}
	if old != nil {
		old.remove(label)
	}
	v.stages = append(v.stages, label)
	if label == smapi.StageCurrent && old != nil {
		if prev := s.holder(smapi.StagePrevious); prev != nil {
			prev.remove(smapi.StagePrevious)
		}
		old.stages = append(old.stages, smapi.StagePrevious)
	}
}

func (v *version) remove(label string) {
	v.stages = slices.DeleteFunc(v.stages, func(l string) bool { return l == label })
}

// stages maps each labelled version to its sorted labels.
func (s *secret) stages() map[string][]string {
	out := map[string][]string{}
	for id, v := range s.versions {
		if len(v.stages) > 0 {
			out[id] = slices.Sorted(slices.Values(v.stages))
		}
	}
	return out
}

// newUUID returns a random (version 4) UUID, the form of the version IDs and
// client request tokens the SDK makes.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
