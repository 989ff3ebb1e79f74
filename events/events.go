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

// The keys the events carry, test fixtures, not secrets. env.json
// configures three clients: "default" holds RightKey and may do anything;
// "readonly" holds ScopedKey and may call GET / and HEAD / only (its meta:
// tenant t-42, plan gold), and is in the usage plan gold as UsageKey;
// "office" holds SourcedKey and may be used from 192.0.2.0/24 and
// 2001:db8::/32 only. WrongKey is none of them.
const (
	RightKey   = "kgExampleLocalKey4f9d2c81b7e6a035"
	ScopedKey  = "kg_YdvvgYeGev0xfxBIlPQ44NrmPV0KZ40Hihvf"
	SourcedKey = "kg_MxNXIpGSgaQ9ixHRBzpCNq4sj7mL024UhJyM"
	WrongKey   = "kgWrongKey0000000000000000000000"
	// UsageKey is the API Gateway API key value that stands for
	// "readonly" in its usage plan: a REST authorizer's Allow for it
	// carries it as usageIdentifierKey.
	UsageKey = "ExampleUsagePlanKeyNotAKeygateKey01"
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
	// ambiguous, forbidden).
	Outcome string `json:"outcome"`
	// Reason is a forbidden request's: route or source.
	Reason string `json:"reason,omitempty"`
	// Client is the client a matching key names; "" means env.json's
	// "default" (see ClientName).
	Client string `json:"client,omitempty"`
	// Routes are the routes ("METHOD /path") an authorizer's Allow lists;
	// none means the whole stage.
	Routes []string `json:"routes,omitempty"`
}

// ClientName is the client the event's key names: Client, or "default".
func (w Want) ClientName() string {
	if w.Client == "" {
		return "default"
	}
	return w.Client
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

// Request returns the method of a front door event's request (REST's and
// ALB's httpMethod, payload 2.0's requestContext.http.method), and whether
// it carries multiValueHeaders (for an ALB: multi-value headers enabled,
// which its answer must mirror).
func (e Event) Request() (method string, multiValue bool, err error) {
	var probe struct {
		HTTPMethod        string              `json:"httpMethod"`
		MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
		RequestContext    struct {
			HTTP struct {
				Method string `json:"method"`
			} `json:"http"`
		} `json:"requestContext"`
	}
	if err := json.Unmarshal(e.Payload, &probe); err != nil {
		return "", false, fmt.Errorf("%s: %w", e.Name, err)
	}
	method = probe.HTTPMethod
	if method == "" {
		method = probe.RequestContext.HTTP.Method
	}
	return method, probe.MultiValueHeaders != nil, nil
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
