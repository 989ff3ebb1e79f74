package smfake

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxBody is larger than any request the API accepts (a secret value is at
// most 64 KiB), and keeps a runaway client from filling memory.
const maxBody = 1 << 20

// apiError is an error answer in the AWS JSON 1.1 protocol.
type apiError struct {
	code, message string
	status        int
}

func errorf(code, format string, args ...any) *apiError {
	return &apiError{code: code, message: fmt.Sprintf(format, args...), status: StatusFor(code)}
}

// serve answers one call: records it, applies an injected fault, then
// carries out the operation.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, "secretsmanager.")
	if !ok {
		op = target
	}

	s.mu.Lock()
	s.calls[op]++
	s.requests = append(s.requests, Request{Operation: op, Signed: r.Header.Get("Authorization") != "", Body: body})
	var f Fault
	var faulted bool
	if operations[op] != nil {
		f, faulted = s.takeFault(op)
	}
	s.mu.Unlock()

	switch {
	case err != nil || len(body) > maxBody:
		writeError(w, errorf("SerializationException", "smfake: cannot read the request body (at most %d bytes)", maxBody))
		return
	case r.Method != http.MethodPost || operations[op] == nil:
		writeError(w, errorf("UnknownOperationException", "smfake: %s %s with X-Amz-Target %q is not a Secrets Manager operation it serves", r.Method, r.URL.Path, target))
		return
	}

	if faulted {
		if f.Delay > 0 && !s.wait(r, f.Delay) {
			abort()
		}
		switch {
		case f.Hang:
			s.wait(r, -1)
			abort()
		case f.ConnectionReset:
			reset(w)
			return
		case f.NonJSON:
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = io.WriteString(w, "<!DOCTYPE html>\n<html><head><title>Gateway</title></head><body><h1>Please sign in</h1></body></html>\n")
			return
		case f.Code != "":
			e := &apiError{code: f.Code, message: f.Message, status: f.Status}
			if e.status == 0 {
				e.status = StatusFor(f.Code)
			}
			writeError(w, e)
			return
		case f.Status != 0:
			w.Header().Set("Content-Length", "0")
			w.WriteHeader(f.Status)
			return
		}
	}

	out, apiErr := s.call(op, body)
	if apiErr != nil {
		writeError(w, apiErr)
		return
	}
	payload, err := json.Marshal(out)
	if err != nil {
		writeError(w, errorf("InternalServiceError", "smfake: cannot encode the response: %v", err))
		return
	}
	if faulted && f.TruncatedBody {
		truncate(w, payload)
		return
	}
	writeJSON(w, http.StatusOK, payload)
}

// call carries out an operation under the lock, so each call sees and
// leaves a consistent state.
func (s *Server) call(op string, body []byte) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return operations[op](s, op, body)
}

// abort drops the connection without an answer: returning normally would
// make net/http send an empty 200, which a client could take for success.
func abort() {
	panic(http.ErrAbortHandler) // net/http's way to close without answering, and without logging
}

func writeJSON(w http.ResponseWriter, status int, payload []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/x-amz-json-1.1")
	h.Set("Content-Length", strconv.Itoa(len(payload)))
	h.Set("X-Amzn-Requestid", newUUID())
	w.WriteHeader(status)
	_, _ = w.Write(payload)
}

func writeError(w http.ResponseWriter, e *apiError) {
	w.Header().Set("X-Amzn-Errortype", e.code)
	payload, _ := json.Marshal(map[string]string{"__type": e.code, "message": e.message})
	writeJSON(w, e.status, payload)
}

// truncate sends a 200 that promises the whole payload and delivers half of
// it, then closes the connection, so the client's JSON decoder hits EOF
// mid-document.
func truncate(w http.ResponseWriter, payload []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/x-amz-json-1.1")
	h.Set("Content-Length", strconv.Itoa(len(payload)))
	h.Set("X-Amzn-Requestid", newUUID())
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(payload[:len(payload)/2])
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	if conn, _, err := rc.Hijack(); err == nil {
		_ = conn.Close()
	}
}

// epoch is a timestamp as AWS JSON 1.1 sends it: seconds since the epoch, a
// JSON number with a fraction.
type epoch time.Time

func (e epoch) MarshalJSON() ([]byte, error) {
	return strconv.AppendFloat(nil, float64(time.Time(e).UnixMilli())/1000, 'f', -1, 64), nil
}

// at returns t as an epoch, nil for the zero time so the field is left out.
func at(t time.Time) *epoch {
	if t.IsZero() {
		return nil
	}
	e := epoch(t)
	return &e
}
