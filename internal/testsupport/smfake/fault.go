package smfake

import (
	"fmt"
	"maps"
	"net"
	"net/http"
	"slices"
	"time"
)

// AnyOperation, given to Fail or FailN, injects a fault into every
// operation that has no fault of its own.
const AnyOperation = "*"

// Fault is what the server does instead of (or before) answering a call.
// Delay happens first; then the first of Hang, ConnectionReset, NonJSON,
// Code/Status and TruncatedBody that is set decides the answer. A Fault with
// only Delay set answers normally after the delay.
type Fault struct {
	// Delay waits this long before going on, or stops without answering as
	// soon as the client gives up or the server closes.
	Delay time.Duration
	// Hang never answers: the call ends when the client gives up or the
	// server closes.
	Hang bool
	// ConnectionReset hijacks the connection and closes it with SO_LINGER 0,
	// so the client reads a TCP RST instead of a response.
	ConnectionReset bool
	// NonJSON answers 200 with an HTML page, as a captive portal or a
	// misrouted proxy would.
	NonJSON bool
	// Code answers with this AWS error code ({"__type": Code} and the
	// X-Amzn-ErrorType header) and Message, with Status or, when Status is
	// 0, the code's usual status (see StatusFor).
	Code    string
	Message string
	// Status without Code answers this status with an empty body, as a load
	// balancer's bare 503 does.
	Status int
	// TruncatedBody carries out the operation (its changes stay, as when a
	// response is lost in transit) and answers 200 with the full
	// Content-Length but only half of the JSON body, then closes.
	TruncatedBody bool
}

// Ready-made faults.
var (
	NotFoundFault        = Fault{Code: "ResourceNotFoundException", Message: "Secrets Manager can't find the specified secret."}
	AccessDeniedFault    = Fault{Code: "AccessDeniedException", Message: "User is not authorized to perform this operation (injected by smfake)."}
	ThrottlingFault      = Fault{Code: "ThrottlingException", Message: "Rate exceeded"}
	InternalErrorFault   = Fault{Code: "InternalServiceError", Message: "An error occurred on the server side."}
	UnavailableFault     = Fault{Status: http.StatusServiceUnavailable}
	HangFault            = Fault{Hang: true}
	TruncatedBodyFault   = Fault{TruncatedBody: true}
	NonJSONFault         = Fault{NonJSON: true}
	ConnectionResetFault = Fault{ConnectionReset: true}
)

// DelayFault delays the answer by d and then answers normally.
func DelayFault(d time.Duration) Fault { return Fault{Delay: d} }

// StatusFor returns the HTTP status the real service answers an error code
// with: 500 for InternalServiceError (and InternalFailure), 503 for
// ServiceUnavailable, 400 for every other code.
func StatusFor(code string) int {
	switch code {
	case "InternalServiceError", "InternalFailure":
		return http.StatusInternalServerError
	case "ServiceUnavailable", "ServiceUnavailableException":
		return http.StatusServiceUnavailable
	}
	return http.StatusBadRequest
}

type injected struct {
	fault     Fault
	remaining int // < 0: until cleared
}

// Fail injects the fault into every call of the operation (or of
// AnyOperation) until Clear. It panics on an operation the fake does not
// serve, as that is a typo in the test.
func (s *Server) Fail(op string, f Fault) { s.inject(op, f, -1) }

// FailN injects the fault into the next n calls of the operation (or of
// AnyOperation); later calls are answered normally.
func (s *Server) FailN(op string, n int, f Fault) {
	if n <= 0 {
		panic(fmt.Sprintf("smfake: FailN(%q, %d): n must be positive", op, n))
	}
	s.inject(op, f, n)
}

func (s *Server) inject(op string, f Fault, n int) {
	if op != AnyOperation && operations[op] == nil {
		panic(fmt.Sprintf("smfake: no operation %q (served: %v)", op, slices.Sorted(maps.Keys(operations))))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[op] = &injected{fault: f, remaining: n}
}

// Clear removes every injected fault.
func (s *Server) Clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.faults)
}

// takeFault returns the fault for this call of op, if any, and counts it
// against FailN. The caller holds s.mu.
func (s *Server) takeFault(op string) (Fault, bool) {
	in := s.faults[op]
	key := op
	if in == nil {
		in, key = s.faults[AnyOperation], AnyOperation
	}
	if in == nil {
		return Fault{}, false
	}
	if in.remaining > 0 {
		in.remaining--
		if in.remaining == 0 {
			delete(s.faults, key)
		}
	}
	return in.fault, true
}

// wait blocks for d, or until the client gives up or the server closes, and
// says whether the whole time passed. d < 0 waits forever.
func (s *Server) wait(r *http.Request, d time.Duration) bool {
	var timeout <-chan time.Time
	if d >= 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-timeout:
		return true
	case <-r.Context().Done():
	case <-s.closing:
	}
	return false
}

// reset closes the client's connection with an RST: SO_LINGER 0 makes the
// kernel drop the connection instead of the orderly FIN.
func reset(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// Cannot happen with HTTP/1.1; answer something that is visibly
		// not the API's.
		http.Error(w, "smfake: cannot hijack: "+err.Error(), http.StatusInternalServerError)
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}
