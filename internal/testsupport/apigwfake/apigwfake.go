// Package apigwfake is an in-process fake of the part of the API Gateway
// REST API (the v1 control plane, REST-JSON) that keygate's key CLI calls:
// usage plans (GetUsagePlans), API keys (CreateApiKey, DeleteApiKey),
// usage plan keys (CreateUsagePlanKey, DeleteUsagePlanKey) and the flush of
// a stage's authorizer cache. It serves HTTP on 127.0.0.1 so that the real
// SDK client talks to it unchanged, as smfake does for Secrets Manager.
//
// It keeps what API Gateway keeps: a key's value is unique and at least 20
// characters, a key is in a plan at most once, deleting a key takes it out
// of every plan, and unknown IDs answer NotFoundException. Signatures are
// not checked; a route it does not serve answers 404
// UnknownOperationException.
package apigwfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
)

// Server is a running fake. Its methods are safe for concurrent use.
type Server struct {
	URL string

	mu      sync.Mutex
	plans   []*Plan
	keys    map[string]Key // by ID
	faults  map[string]Fault
	flushed []string
	calls   []string
	next    int
}

// Plan is a usage plan: its stages and tags, and the IDs of its keys.
type Plan struct {
	ID, Name string
	RestAPI  string
	Stage    string
	Tags     map[string]string
	Keys     []string
}

// Key is an API key as API Gateway holds it.
type Key struct {
	ID, Name, Value, Description string
	Enabled                      bool
	Tags                         map[string]string
}

// Fault is an error answer: Code (the X-Amzn-ErrorType), Status, Message.
type Fault struct {
	Code    string
	Status  int
	Message string
}

// Start runs a fake until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{keys: map[string]Key{}, faults: map[string]Fault{}}
	hs := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(hs.Close)
	s.URL = hs.URL
	return s
}

// Client is an SDK client for the fake, one attempt per call.
func (s *Server) Client() *apigateway.Client {
	return apigateway.New(apigateway.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(s.URL),
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		RetryMaxAttempts: 1,
	})
}

// AddPlan makes a usage plan on restAPI's stage, tagged tags; it returns
// its ID.
func (s *Server) AddPlan(name, restAPI, stage string, tags map[string]string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	p := &Plan{ID: fmt.Sprintf("plan%03d", s.next), Name: name, RestAPI: restAPI, Stage: stage, Tags: tags}
	s.plans = append(s.plans, p)
	return p.ID
}

// Fail makes every call of op (e.g. "CreateUsagePlanKey") answer f.
func (s *Server) Fail(op string, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[op] = f
}

// Keys is every API key, by ID.
func (s *Server) Keys() map[string]Key {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]Key, len(s.keys))
	for id, k := range s.keys {
		out[id] = k
	}
	return out
}

// PlanKeys is the IDs of the keys in the plan with ID id.
func (s *Server) PlanKeys(id string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.plans {
		if p.ID == id {
			return slices.Clone(p.Keys)
		}
	}
	return nil
}

// Calls is the operations served, in order.
func (s *Server) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// Flushed is the "restapi/stage" of each authorizer cache flush.
func (s *Server) Flushed() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.flushed)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	op, answer := s.route(r.Method, parts)
	if op == "" {
		writeError(w, Fault{"UnknownOperationException", 404, "no route " + r.Method + " " + r.URL.Path})
		return
	}
	s.calls = append(s.calls, op)
	if f, ok := s.faults[op]; ok {
		writeError(w, f)
		return
	}
	var body map[string]any
	if r.ContentLength > 0 {
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			writeError(w, Fault{"BadRequestException", 400, "body is not JSON: " + err.Error()})
			return
		}
	}
	status, out, f := answer(body)
	if f != nil {
		writeError(w, *f)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if out != nil {
		json.NewEncoder(w).Encode(out)
	}
}

type answer func(body map[string]any) (int, any, *Fault)

// route maps a request to its operation and answer ("" for none).
func (s *Server) route(method string, p []string) (string, answer) {
	switch {
	case method == "GET" && len(p) == 1 && p[0] == "usageplans":
		return "GetUsagePlans", s.getPlans
	case method == "POST" && len(p) == 1 && p[0] == "apikeys":
		return "CreateApiKey", s.createKey
	case method == "DELETE" && len(p) == 2 && p[0] == "apikeys":
		return "DeleteApiKey", func(map[string]any) (int, any, *Fault) { return s.deleteKey(p[1]) }
	case method == "POST" && len(p) == 3 && p[0] == "usageplans" && p[2] == "keys":
		return "CreateUsagePlanKey", func(b map[string]any) (int, any, *Fault) { return s.join(p[1], b) }
	case method == "DELETE" && len(p) == 4 && p[0] == "usageplans" && p[2] == "keys":
		return "DeleteUsagePlanKey", func(map[string]any) (int, any, *Fault) { return s.leave(p[1], p[3]) }
	case method == "DELETE" && len(p) == 6 && p[0] == "restapis" && p[2] == "stages" && p[4] == "cache" && p[5] == "authorizers":
		return "FlushStageAuthorizersCache", func(map[string]any) (int, any, *Fault) {
			s.flushed = append(s.flushed, p[1]+"/"+p[3])
			return http.StatusAccepted, nil, nil
		}
	}
	return "", nil
}

func (s *Server) getPlans(map[string]any) (int, any, *Fault) {
	items := []map[string]any{}
	for _, p := range s.plans {
		items = append(items, map[string]any{
			"id": p.ID, "name": p.Name, "tags": p.Tags,
			"apiStages": []map[string]string{{"apiId": p.RestAPI, "stage": p.Stage}},
		})
	}
	return http.StatusOK, map[string]any{"item": items}, nil
}

func (s *Server) createKey(b map[string]any) (int, any, *Fault) {
	str := func(k string) string { v, _ := b[k].(string); return v }
	k := Key{Name: str("name"), Value: str("value"), Description: str("description"), Tags: map[string]string{}}
	k.Enabled, _ = b["enabled"].(bool)
	if tags, ok := b["tags"].(map[string]any); ok {
		for n, v := range tags {
			k.Tags[n], _ = v.(string)
		}
	}
	if len(k.Value) < 20 {
		return 0, nil, &Fault{"BadRequestException", 400, "API Key value should be at least 20 characters"}
	}
	for _, o := range s.keys {
		if o.Value == k.Value {
			return 0, nil, &Fault{"ConflictException", 409, "API Key already exists"}
		}
	}
	s.next++
	k.ID = fmt.Sprintf("key%04d", s.next)
	s.keys[k.ID] = k
	return http.StatusCreated, map[string]any{"id": k.ID, "name": k.Name, "value": k.Value, "enabled": k.Enabled}, nil
}

func (s *Server) deleteKey(id string) (int, any, *Fault) {
	if _, ok := s.keys[id]; !ok {
		return 0, nil, &Fault{"NotFoundException", 404, "Invalid API Key identifier specified"}
	}
	delete(s.keys, id)
	for _, p := range s.plans {
		p.Keys = slices.DeleteFunc(p.Keys, func(k string) bool { return k == id })
	}
	return http.StatusAccepted, nil, nil
}

func (s *Server) plan(id string) *Plan {
	for _, p := range s.plans {
		if p.ID == id {
			return p
		}
	}
	return nil
}

func (s *Server) join(planID string, b map[string]any) (int, any, *Fault) {
	keyID, _ := b["keyId"].(string)
	p := s.plan(planID)
	k, ok := s.keys[keyID]
	switch {
	case p == nil:
		return 0, nil, &Fault{"NotFoundException", 404, "Invalid Usage Plan ID specified"}
	case !ok:
		return 0, nil, &Fault{"NotFoundException", 404, "Invalid API Key identifier specified"}
	case b["keyType"] != "API_KEY":
		return 0, nil, &Fault{"BadRequestException", 400, "keyType must be API_KEY"}
	case slices.Contains(p.Keys, keyID):
		return 0, nil, &Fault{"ConflictException", 409, "Usage Plan " + planID + " cannot be added because API Key " + keyID + " already exists in it"}
	}
	p.Keys = append(p.Keys, keyID)
	return http.StatusCreated, map[string]any{"id": keyID, "type": "API_KEY", "name": k.Name, "value": k.Value}, nil
}

func (s *Server) leave(planID, keyID string) (int, any, *Fault) {
	p := s.plan(planID)
	if p == nil || !slices.Contains(p.Keys, keyID) {
		return 0, nil, &Fault{"NotFoundException", 404, "Invalid Usage Plan Key identifier specified"}
	}
	p.Keys = slices.DeleteFunc(p.Keys, func(k string) bool { return k == keyID })
	return http.StatusAccepted, nil, nil
}

func writeError(w http.ResponseWriter, f Fault) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", f.Code)
	w.WriteHeader(f.Status)
	json.NewEncoder(w).Encode(map[string]string{"message": f.Message})
}
