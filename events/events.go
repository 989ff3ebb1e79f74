// Package events holds keygate's sample Lambda events, the files that
// `sam local invoke -e` takes (one request to one front door each, named
// <door>-<case>.json), and expected.json, the answer each must get. Every
// test that replays the events reads them here, so there is one table.
package events

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

//go:embed *.json
var files embed.FS

// The keys the events carry: RightKey is the one env.json configures. Both
// are test fixtures, not secrets.
const (
	RightKey = "kgExampleLocalKey4f9d2c81b7e6a035"
	WrongKey = "kgWrongKey0000000000000000000000"
)

// The files in this directory that are not events.
const (
	// EnvFile holds the variables `sam local --env-vars` sets.
	EnvFile = "env.json"
	// ExpectedFile maps every event file to its Want.
	ExpectedFile = "expected.json"
)

// Want is what the function, configured with RightKey, must answer.
type Want struct {
	// Status is the HTTP status of a front door's event.
	Status int `json:"status,omitempty"`
	// Decision is an authorizer event's: allow or deny.
	Decision string `json:"decision,omitempty"`
	// Outcome is the log line's outcome (authorized, missing, invalid,
	// ambiguous).
	Outcome string `json:"outcome"`
}

// Event is one sample event.
type Event struct {
	Name string // file name, e.g. rest-valid-key.json
	// Door is the name's prefix, the front door's kind (frontdoor.Kind):
	// rest, httpapi, functionurl, alb, or an authorizer's
	// (tokenauthorizer, requestauthorizer, httpauthorizer).
	Door    string
	Payload []byte
	Want    Want
}

// All returns every event, sorted by name. It fails when an event file has
// no entry in expected.json or an entry has no file, so the table cannot
// drift from the directory.
func All() ([]Event, error) { return load(files) }

func load(dir fs.FS) ([]Event, error) {
	raw, err := fs.ReadFile(dir, ExpectedFile)
	if err != nil {
		return nil, err
	}
	want := map[string]Want{}
	if err := json.Unmarshal(raw, &want); err != nil {
		return nil, fmt.Errorf("events/%s: %w", ExpectedFile, err)
	}
	names, err := fs.Glob(dir, "*.json")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var out []Event
	for _, name := range names {
		if name == EnvFile || name == ExpectedFile {
			continue
		}
		w, ok := want[name]
		if !ok {
			return nil, fmt.Errorf("events/%s has no entry in events/%s: add the answer it must get", name, ExpectedFile)
		}
		delete(want, name)
		payload, err := fs.ReadFile(dir, name)
		if err != nil {
			return nil, err
		}
		door, _, _ := strings.Cut(name, "-")
		out = append(out, Event{Name: name, Door: door, Payload: payload, Want: w})
	}
	for name := range want {
		return nil, fmt.Errorf("events/%s names %s, which is not in events/: remove the entry or add the file", ExpectedFile, name)
	}
	return out, nil
}

// Env returns env.json: function logical ID → variable → value.
func Env() (map[string]map[string]string, error) {
	raw, err := files.ReadFile(EnvFile)
	if err != nil {
		return nil, err
	}
	var env map[string]map[string]string
	if err := json.Unmarshal(raw, &env); err != nil {
		return nil, fmt.Errorf("events/%s: %w", EnvFile, err)
	}
	return env, nil
}
