package logsfake

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// operation carries out one call; the Server's mutex is held.
type operation func(s *Server, body []byte) (any, *Fault)

// operations are the calls the fake serves, by X-Amz-Target suffix.
var operations = map[string]operation{
	"StartQuery":      (*Server).startQuery,
	"GetQueryResults": (*Server).getQueryResults,
}

const targetPrefix = "Logs_20140328."

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	target := r.Header.Get("X-Amz-Target")
	op, _ := strings.CutPrefix(target, targetPrefix)

	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[op]++
	switch f, faulted := s.faults[op]; {
	case err != nil:
		writeError(w, &Fault{"SerializationException", "logsfake: cannot read the request body"})
	case r.Method != http.MethodPost || operations[op] == nil:
		writeError(w, &Fault{"UnknownOperationException", fmt.Sprintf("logsfake: %s with X-Amz-Target %q is not an operation it serves", r.Method, target)})
	case faulted:
		writeError(w, &f)
	default:
		out, f := operations[op](s, body)
		if f != nil {
			writeError(w, f)
			return
		}
		payload, _ := json.Marshal(out)
		writeJSON(w, http.StatusOK, payload)
	}
}

func (s *Server) startQuery(body []byte) (any, *Fault) {
	var in struct {
		LogGroupName        *string
		LogGroupNames       []string
		LogGroupIdentifiers []string
		StartTime, EndTime  *int64
		QueryString         *string
		Limit               *int32
		QueryLanguage       string
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, &Fault{"SerializationException", "logsfake: " + err.Error()}
	}
	switch {
	case in.LogGroupName == nil || len(in.LogGroupNames) > 0 || len(in.LogGroupIdentifiers) > 0:
		// The service takes the others too; keygate sends logGroupName.
		return nil, &Fault{"InvalidParameterException", "logsfake: give exactly logGroupName"}
	case in.StartTime == nil || in.EndTime == nil || in.QueryString == nil:
		return nil, &Fault{"InvalidParameterException", "startTime, endTime and queryString are required"}
	case *in.StartTime > *in.EndTime:
		return nil, &Fault{"InvalidParameterException", "End time should not be before the start time"}
	case in.QueryLanguage != "" && in.QueryLanguage != "CWLI":
		return nil, &Fault{"InvalidParameterException", "logsfake: only the Logs Insights query language (CWLI)"}
	}
	events, ok := s.groups[*in.LogGroupName]
	if !ok {
		return nil, &Fault{"ResourceNotFoundException", "The specified log group does not exist."}
	}
	q, err := parse(*in.QueryString)
	if err != nil {
		return nil, &Fault{"MalformedQueryException", "logsfake does not understand this query: " + err.Error()}
	}
	limit := int32(10000)
	if in.Limit != nil {
		limit = *in.Limit
	}
	start, end := time.Unix(*in.StartTime, 0).UTC(), time.Unix(*in.EndTime, 0).UTC()
	s.next++
	id := fmt.Sprintf("logsfake-query-%04d", s.next)
	// Evaluated now: events added later are not seen, as a query that
	// already ran would not see them.
	q.rows, q.stats = q.run(events, start, end, int(limit))
	s.queries[id] = q
	s.started = append(s.started, Query{ID: id, LogGroup: *in.LogGroupName, Start: start, End: end, String: *in.QueryString, Limit: limit})
	return map[string]string{"queryId": id}, nil
}

func (s *Server) getQueryResults(body []byte) (any, *Fault) {
	var in struct{ QueryId string }
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, &Fault{"SerializationException", "logsfake: " + err.Error()}
	}
	q := s.queries[in.QueryId]
	if q == nil {
		return nil, &Fault{"ResourceNotFoundException", "Query does not exist."}
	}
	status, rows := "Complete", q.rows
	switch {
	case s.hold:
		status, rows = "Running", nil
	case s.endWith != "":
		status, rows = s.endWith, nil
	}
	if rows == nil {
		rows = [][]field{}
	}
	return map[string]any{
		"status":  status,
		"results": rows,
		"statistics": map[string]float64{
			"recordsMatched": float64(q.stats.matched),
			"recordsScanned": float64(q.stats.scanned),
			"bytesScanned":   float64(q.stats.bytes),
		},
	}, nil
}

// field is one member of a result row.
type field struct {
	Field string `json:"field"`
	Value string `json:"value"`
}

func writeJSON(w http.ResponseWriter, status int, payload []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/x-amz-json-1.1")
	h.Set("Content-Length", strconv.Itoa(len(payload)))
	w.WriteHeader(status)
	_, _ = w.Write(payload)
}

func writeError(w http.ResponseWriter, f *Fault) {
	status := http.StatusBadRequest
	switch f.Code {
	case "InternalFailure":
		status = http.StatusInternalServerError
	case "ServiceUnavailableException":
		status = http.StatusServiceUnavailable
	}
	w.Header().Set("X-Amzn-Errortype", f.Code)
	payload, _ := json.Marshal(map[string]string{"__type": f.Code, "message": f.Message})
	writeJSON(w, status, payload)
}
