// Package soak runs keygate for a long time under fire (make soak: an
// hour; make soak-short, in make test: two minutes) and proves that
// nothing goes wrong and nothing grows: TestSoak.
//
// What runs: two functions of the real bootstrap (cmd/api) under the
// Runtime Interface Emulator, "keygate" (two environments, whose
// configuration lives in moto's Lambda API, so that keygate keys revoke
// --now replaces them) and "keygate-steady" (one environment, which lives
// the whole run), and the local server (cmd/local); all read one secret in
// smfake, the wire-level Secrets Manager fake. Each gets a steady mix of
// every sample event of events/ (every door and authorizer kind; the
// local server the REST ones as HTTP requests) with keys put into them:
// valid, wrong, expired, revoked, rotated away, ambiguous, malformed,
// scoped and source-limited.
//
// What changes (driver.go): the rotation function (cmd/rotate under the
// emulator) rotates the secret every minute through its four steps;
// keygate keys (internal/keyadmin's Run, with real SDK clients) adds,
// rotates and revokes clients every few seconds, and revokes one with
// --now every ten minutes; smfake fails at random: down, slow, throttled,
// access denied, server errors, a document that does not parse; Lambda
// recycles an environment during some faults.
//
// What is judged: every answer, by the oracle (oracle.go), against the key
// sets the environment may hold at that moment, given what
// docs/rotation.md and docs/operating.md promise; the time each change
// takes to show in each environment (windows.go); every process's memory,
// descriptors and goroutines, and the latency (flat.go). It writes
// bin/soak/results.json and a plot, bin/soak/soak.svg.
package soak
