// Package e2e holds keygate's end-to-end tests (test files only): the real
// Lambda bootstrap, built from ./cmd/api, runs under the real AWS Lambda
// Runtime Interface Emulator (test/rie) and answers the events in
// events/, with its key from the environment, from a wire-level fake
// Secrets Manager (internal/testsupport/smfake) and from moto (test/moto).
// Concurrent invocations are test/proof's.
package e2e
