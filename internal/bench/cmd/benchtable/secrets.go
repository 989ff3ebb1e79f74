package main

import (
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// secretName is the secret the measured bootstrap reads at cold start.
const secretName = "keygate/bench"

// secretStore answers GetSecretValue on loopback in AWS JSON 1.1, as
// Secrets Manager does, so that keygate's cold start includes a real SDK
// call. The secret was created 30 days ago, the usual case: past the
// rotation grace period, so one call (AWSCURRENT) per cold start.
//
// TODO: replace with internal/smfake once it lands.
type secretStore struct {
	URL   string
	srv   *http.Server
	calls atomic.Int64
}

func newSecretStore(value string) (*secretStore, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &secretStore{URL: "http://" + ln.Addr().String()}
	created := float64(time.Now().Add(-30 * 24 * time.Hour).Unix())
	current, _ := json.Marshal(map[string]any{
		"ARN":           "arn:aws:secretsmanager:us-east-1:123456789012:secret:" + secretName + "-AbCdEf",
		"Name":          secretName,
		"SecretString":  value,
		"VersionId":     "00000000-0000-4000-8000-000000000001",
		"VersionStages": []string{"AWSCURRENT"},
		"CreatedDate":   created,
	})
	s.srv = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.calls.Add(1)
		var in struct{ SecretId, VersionStage string }
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		switch {
		case r.Header.Get("X-Amz-Target") != "secretsmanager.GetSecretValue" || !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 "):
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"__type":"InvalidRequestException","message":"only signed GetSecretValue calls are served"}`))
		case json.NewDecoder(r.Body).Decode(&in) != nil || in.SecretId != secretName || (in.VersionStage != "" && in.VersionStage != "AWSCURRENT"):
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"__type":"ResourceNotFoundException","message":"Secrets Manager can't find the specified secret."}`))
		default:
			w.Write(current)
		}
	})}
	go s.srv.Serve(ln)
	return s, nil
}

// Calls is how many requests the store answered.
func (s *secretStore) Calls() int64 { return s.calls.Load() }

func (s *secretStore) Close() error { return s.srv.Close() }
