package frontdoor

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
)

// An event can describe its request in more than one way: a JSON object
// may name a member twice, and REST and ALB events (and payload 2.0 events
// given a member that is not part of the format) can carry both a headers
// and a multiValueHeaders map. The proxy reads one of each and ignores the
// rest, so an event whose representations disagree would be decided by
// whichever the proxy happens to read. Exactly one x-api-key value, or
// 401, must hold for every event the function accepts, so:
//
//   - a member name used twice in one object is a malformed event (400):
//     no front door sends one (each serialises a map or a struct), and
//     JSON parsers disagree on which one wins, so the event has no single
//     meaning to answer;
//   - two header maps that disagree about x-api-key are an ambiguous key
//     (401, logged as ambiguous), the same as two x-api-key headers: each
//     map is well formed, and what they disagree about is the credential.

// duplicateName reports whether some object in payload, valid JSON, names
// a member twice. Names are compared as encoding/json matches them: after
// unescaping, and in the objects it decodes into structs (the event and
// its request context) without regard to case, since there "headers" and
// "Headers" fill the same field. Request data (header, query, path and
// stage-variable maps, an authorizer's context) is compared exactly: there
// "a" and "A" are two parameters.
func duplicateName(payload []byte) bool {
	var names [64][]byte // enough for the events AWS sends: no allocation
	s := scanner{b: payload, names: names[:0]}
	return s.value(levelEvent)
}

// Levels of the event's tree, as decoding treats their objects.
type level int

const (
	levelEvent   level = iota // the event: a struct
	levelContext              // requestContext and its objects but authorizer: structs
	levelData                 // maps of request data, and anything below them
)

// childLevel is the level of the value of member name in an object at l.
func childLevel(l level, name []byte) level {
	switch {
	case l == levelEvent && bytes.EqualFold(name, []byte("requestContext")):
		return levelContext
	case l == levelContext && !bytes.EqualFold(name, []byte("authorizer")):
		return levelContext
	}
	return levelData
}

type scanner struct {
	b []byte
	i int
	// names are the member names of the objects being scanned, innermost
	// last: one slice for the whole walk, so the scan allocates nothing
	// once it has grown.
	names [][]byte
}

func (s *scanner) space() {
	for s.i < len(s.b) && (s.b[s.i] == ' ' || s.b[s.i] == '\t' || s.b[s.i] == '\n' || s.b[s.i] == '\r') {
		s.i++
	}
}

// value scans the value at s.i and reports a duplicate name in it.
func (s *scanner) value(l level) bool {
	s.space()
	if s.i >= len(s.b) {
		return false
	}
	switch s.b[s.i] {
	case '{':
		return s.object(l)
	case '[':
		s.i++
		for {
			s.space()
			if s.i >= len(s.b) || s.b[s.i] == ']' {
				s.i++
				return false
			}
			if s.value(levelData) {
				return true
			}
			s.space()
			if s.i < len(s.b) && s.b[s.i] == ',' {
				s.i++
			}
		}
	case '"':
		s.str()
		return false
	}
	for s.i < len(s.b) && !strings.ContainsRune(",}] \t\n\r", rune(s.b[s.i])) {
		s.i++ // a number, true, false or null
	}
	return false
}

func (s *scanner) object(l level) bool {
	s.i++ // '{'
	first := len(s.names)
	defer func() { s.names = s.names[:first] }()
	for {
		s.space()
		if s.i >= len(s.b) || s.b[s.i] == '}' {
			s.i++
			return false
		}
		name := unquote(s.str())
		fold := l != levelData
		if slices.ContainsFunc(s.names[first:], func(n []byte) bool {
			return bytes.Equal(n, name) || fold && bytes.EqualFold(n, name)
		}) {
			return true
		}
		s.names = append(s.names, name)
		s.space()
		s.i++ // ':'
		if s.value(childLevel(l, name)) {
			return true
		}
		s.space()
		if s.i < len(s.b) && s.b[s.i] == ',' {
			s.i++
		}
	}
}

// str scans the string at s.i and returns it raw, quotes included.
func (s *scanner) str() []byte {
	start := s.i
	for s.i++; s.i < len(s.b); s.i++ {
		switch s.b[s.i] {
		case '\\':
			s.i++
		case '"':
			s.i++
			return s.b[start:s.i]
		}
	}
	return s.b[start:]
}

// unquote decodes a raw JSON string; only one with escapes costs a copy.
func unquote(raw []byte) []byte {
	if len(raw) < 2 {
		return raw
	}
	if bytes.IndexByte(raw, '\\') < 0 {
		return raw[1 : len(raw)-1]
	}
	var v string
	if json.Unmarshal(raw, &v) != nil {
		return raw
	}
	return []byte(v)
}

// keyValues returns every x-api-key value of one header map, trimmed of
// the optional whitespace HTTP ignores, in a stable order. Header names are
// ASCII tokens compared without case, as net/http does (two spellings of
// the name are two values).
func keyValues[V string | []string](m map[string]V) []string {
	var names []string
	for k := range m {
		if isKeyHeader(k) {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	var out []string
	for _, k := range names {
		switch v := any(m[k]).(type) {
		case string:
			out = append(out, strings.Trim(v, " \t"))
		case []string:
			for _, x := range v {
				out = append(out, strings.Trim(x, " \t"))
			}
		}
	}
	return out
}

// headersConflict reports whether an event's two header maps, when it
// carries both, disagree about x-api-key. API Gateway's REST API sends both,
// the single-value map holding the last value of each name; with more than
// one value the key is ambiguous whichever map is read, so only events with
// at most one can agree or disagree.
func headersConflict(single map[string]string, multi map[string][]string) bool {
	if single == nil || multi == nil {
		return false
	}
	h, m := keyValues(single), keyValues(multi)
	return len(m) <= 1 && !slices.Equal(h, m)
}

// isKeyHeader: header names are ASCII tokens compared without case
// (RFC 9110), as net/http's canonical form does; Unicode folding (the
// Kelvin sign) does not apply.
func isKeyHeader(name string) bool {
	const want = "x-api-key"
	if len(name) != len(want) {
		return false
	}
	for i := 0; i < len(want); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != want[i] {
			return false
		}
	}
	return true
}
