// Package proof holds keygate's tests under load, store faults and
// concurrency (cd test && go test -race ./proof/): the handler in process,
// the local server and `make run`, and the real bootstrap under the
// Runtime Interface Emulator (test/rie), in its multi-concurrency mode,
// against the wire-level Secrets Manager fake
// (internal/testsupport/smfake) and, for recovery at cold start, moto
// (test/moto). Its only non-test code, memory.go, reads a process's memory
// figures from /proc for the load test's report on the bootstrap.
package proof
