// Package samlocal runs keygate the way its users run it locally, with the
// pinned SAM CLI on a real Docker engine: `sam build`, `sam local invoke`
// on every sample event in events/ (compared with events/expected.json),
// `sam local start-api` over the README's behaviour table, and keygate as
// the Lambda authorizer of a REST API and of an HTTP API in front of a
// small Lambda backend (backend/, testdata/).
//
// The tests build with the tag samlocal and run through `make test-sam`
// (part of `make test`), never through a plain `go test ./...`: they
// install and start what they need (package engine: docker.io, dockerd,
// qemu for arm64, the Lambda base image), which needs root on a machine
// without a running engine. The deployed architecture, arm64, runs the
// valid-key and no-key events and every start-api check; the other events
// run on this machine's own architecture, which is faster.
package samlocal
