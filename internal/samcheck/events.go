// Package samcheck checks keygate's deployment files with the tools users
// run: template.yaml (parsed as a SAM template, and through `sam validate
// --lint` and `sam build`) and the sample events in events/ (against
// `sam local generate-event`). Its tests need the project's virtual
// environment (`make venv`).
//
// It also exports the status every sample event must get, so that the
// end-to-end tests and this package share one table.
package samcheck

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// EnvFile is the file in events/ that is not an event: the variables
// `sam local invoke --env-vars` and `sam local start-api --env-vars` set.
const EnvFile = "env.json"

// The keys the sample events carry: RightKey is the one events/env.json
// configures. Both are test fixtures, not secrets.
const (
	RightKey = "kgExampleLocalKey4f9d2c81b7e6a035"
	WrongKey = "kgWrongKey0000000000000000000000"
)

// Expected is the HTTP status each file in events/ must get from the
// function configured with RightKey. Every event file has an entry and
// every entry a file (TestExpectedMatchesFiles).
var Expected = map[string]int{
	"rest-valid-key.json":               200,
	"rest-wrong-key.json":               401,
	"rest-no-key.json":                  401,
	"rest-key-in-query.json":            401,
	"rest-key-in-authorization.json":    401,
	"rest-two-keys.json":                401,
	"rest-uppercase-header.json":        200,
	"rest-unknown-path.json":            404,
	"rest-unknown-path-no-key.json":     401,
	"rest-post-root.json":               405,
	"httpapi-valid-key.json":            200,
	"httpapi-wrong-key.json":            401,
	"httpapi-no-key.json":               401,
	"httpapi-key-in-query.json":         401,
	"httpapi-key-in-authorization.json": 401,
	"httpapi-two-keys.json":             401,
	"httpapi-uppercase-header.json":     200,
	"httpapi-unknown-path.json":         404,
	"httpapi-unknown-path-no-key.json":  401,
	"httpapi-post-root.json":            405,
	"functionurl-valid-key.json":        200,
	"functionurl-wrong-key.json":        401,
	"functionurl-no-key.json":           401,
	"alb-valid-key.json":                200,
	"alb-wrong-key.json":                401,
	"alb-no-key.json":                   401,
	"alb-multivalue-valid-key.json":     200,
	"alb-multivalue-two-keys.json":      401,
}

// EventFiles returns the paths of the event files in root/events (every
// *.json but EnvFile), sorted by name.
func EventFiles(root string) ([]string, error) {
	dir := filepath.Join(root, "events")
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, fmt.Errorf("listing the events in %s: %w", dir, err)
	}
	var out []string
	for _, p := range paths {
		if filepath.Base(p) != EnvFile {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no event files in %s", dir)
	}
	sort.Strings(out)
	return out, nil
}

// RepoRoot returns the directory holding go.mod, searched upwards from the
// working directory (a package directory under `go test`).
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding the repository root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("finding the repository root: no go.mod above the working directory")
		}
		dir = parent
	}
}
