package soak

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	samples "github.com/keygate/keygate/events"
	"github.com/keygate/keygate/internal/frontdoor"
	"github.com/keygate/keygate/internal/testsupport/doortest"
	"github.com/keygate/keygate/test/internal/recorder"
)

// request is one request the load sends: a slot and the key it carries.
type request struct {
	slot *slot
	key  string
}

// answer is a request's answer, as the oracle judges it.
type answer struct {
	env        *env
	req        request
	sent, recv time.Time
	verdict    string   // the status, or the authorizer's decision (see expect)
	raw        string   // what came back, for a report
	hygiene    []string // what doortest found wrong with its shape
}

// classify reads a function's answer to s: its verdict, and what the
// doortest checks of its shape reported (run on a recording testing.TB:
// the load's goroutines must not end the test).
func classify(t testing.TB, s *slot, out []byte) (string, []string) {
	kind := frontdoor.Kind(s.door)
	if !kind.Authorizer() {
		var a doortest.Answer
		if err := json.Unmarshal(out, &a); err != nil {
			return "not a response", []string{err.Error()}
		}
		json.Unmarshal(out, &a.Fields)
		a.Raw = string(out)
		return strconv.Itoa(a.StatusCode), recorder.Failures(t, func(tb testing.TB) {
			if s.malformed {
				doortest.CheckHygiene(tb, a.StatusCode, a.Merged(), a.Body, false)
				return
			}
			doortest.Check(tb, s.door, s.multiValue, s.method, a, a.StatusCode)
		})
	}
	var r struct {
		ErrorMessage   *string                                       `json:"errorMessage"`
		IsAuthorized   *bool                                         `json:"isAuthorized"`
		PrincipalID    string                                        `json:"principalId"`
		PolicyDocument struct{ Statement []struct{ Effect string } } `json:"policyDocument"`
		Context        map[string]any                                `json:"context"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return "not a decision", []string{err.Error()}
	}
	var v, failure string
	switch {
	case r.ErrorMessage != nil && *r.ErrorMessage == "Unauthorized":
		v, failure = unauthorized, *r.ErrorMessage
	case r.ErrorMessage != nil && strings.Contains(*r.ErrorMessage, "no API key set is loaded"):
		return unavailable, nil
	case r.ErrorMessage != nil:
		return "failed: " + *r.ErrorMessage, nil
	case r.IsAuthorized != nil && *r.IsAuthorized:
		client, _ := r.Context["client"].(string)
		v = allowFor(client)
	case r.IsAuthorized != nil:
		v = notAllowed
	case len(r.PolicyDocument.Statement) == 1 && r.PolicyDocument.Statement[0].Effect == "Allow":
		v = allowFor(r.PrincipalID)
	case len(r.PolicyDocument.Statement) == 1 && r.PolicyDocument.Statement[0].Effect == "Deny":
		v = denyFor(r.PrincipalID)
	default:
		return "not a decision", nil
	}
	// doortest.Decision checks the shape against the decision made.
	ev := s.ev
	_, client, _ := strings.Cut(v, ":")
	switch {
	case strings.HasPrefix(v, "allow:"):
		ev.Want = samples.Want{Decision: "allow", Outcome: "authorized", Client: client, Routes: s.ev.Want.Routes}
	case strings.HasPrefix(v, "deny:"):
		ev.Want = samples.Want{Decision: "deny", Outcome: "forbidden", Client: client}
	default:
		ev.Want = samples.Want{Decision: "deny", Outcome: "invalid"}
	}
	if failure != "" {
		out = nil // the invocation failed: no answer, only its message
	}
	return v, recorder.Failures(t, func(tb testing.TB) { doortest.Decision(tb, ev, out, failure) })
}

// classifyLocal reads the local server's answer.
func classifyLocal(t testing.TB, s *slot, res *http.Response, body []byte) (string, []string) {
	return strconv.Itoa(res.StatusCode), recorder.Failures(t, func(tb testing.TB) {
		doortest.CheckHygiene(tb, res.StatusCode, res.Header, string(body), s.local.Method == http.MethodHead)
	})
}
