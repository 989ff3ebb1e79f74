package frontdoor

import (
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// Detect tells which front door sent payload:
//   - ALB events carry requestContext.elb;
//   - payload 2.0 events (HTTP API and Function URL) carry version "2.0";
//     a Function URL's domain is <id>.lambda-url.<region>.on.aws;
//   - REST API (payload 1.0) events carry httpMethod and a requestContext.
//
// It answers exactly as decoding the event with encoding/json into a probe
// struct would (case-insensitive keys, the last duplicate winning, a type
// error in a field it reads making the event Unknown), but it only
// validates the JSON and scans it, without decoding: a probe decode cost
// as much as decoding the event itself, on every invocation.
// detect_ref_test.go holds it to the decoding version.
func Detect(payload []byte) Kind {
	if !json.Valid(payload) {
		return Unknown
	}
	return detect(payload)
}

// detect is Detect without validating the JSON first. On valid JSON it
// gives Detect's answer; on anything else it returns without panicking,
// but its answer means nothing. Invoke uses it because decoding the event
// validates the JSON anyway, and a syntax error then makes the event
// Unknown, as Detect would have.
func detect(payload []byte) Kind {
	var top fields
	if !top.scan(payload, topField, 0b0111) || top.raw[3] == nil {
		return Unknown
	}
	var rc fields
	if string(top.raw[3]) != "null" && !rc.scan(top.raw[3], contextField, 0b0100) {
		return Unknown
	}
	version, method := top.str[0], top.str[1]
	elb, http, domain := rc.raw[0], rc.raw[1], rc.str[2]
	switch {
	case elb != nil && string(elb) != "null":
		return ALB
	case version == "2.0" && http != nil:
		if strings.Contains(domain, ".lambda-url.") {
			return FunctionURL
		}
		return HTTPAPI
	case method != "":
		return REST
	}
	return Unknown
}

// topField and contextField number the members Detect reads at each
// level (-1: not read). Members 0..2 of the top level and 2 of the request
// context are strings (the strMask of fields.scan).
func topField(key []byte) int {
	switch {
	case keyIs(key, "version"):
		return 0
	case keyIs(key, "httpMethod"):
		return 1
	case keyIs(key, "rawPath"):
		return 2
	case keyIs(key, "requestContext"):
		return 3
	}
	return -1
}

func contextField(key []byte) int {
	switch {
	case keyIs(key, "elb"):
		return 0
	case keyIs(key, "http"):
		return 1
	case keyIs(key, "domainName"):
		return 2
	}
	return -1
}

// fields is what Detect read at one level: the last raw value and the
// decoded string of each field.
type fields struct {
	raw [4][]byte
	str [4]string
}

// scan reads the members of the JSON object b (valid JSON) that field
// numbers; those whose bit is set in strMask are decoded as into a string
// field. It reports false if b is not an object or a string field holds
// another JSON type (encoding/json's type error).
func (f *fields) scan(b []byte, field func([]byte) int, strMask uint8) bool {
	it, ok := members(b)
	for it.next() {
		i := field(it.key)
		if i < 0 {
			continue
		}
		f.raw[i] = it.val
		if strMask&(1<<i) != 0 {
			f.str[i], ok = setString(f.str[i], it.val, ok)
		}
	}
	return ok
}

// memberIter walks the members of a JSON object: key is the raw (quoted)
// key, val the raw value.
type memberIter struct {
	b        []byte
	i        int
	key, val []byte
}

// members starts walking the object b, which must be valid JSON; it
// reports whether b is an object.
func members(b []byte) (memberIter, bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return memberIter{}, false
	}
	return memberIter{b: b, i: skipSpace(b, i+1)}, true
}

func (it *memberIter) next() bool {
	b, i := it.b, it.i
	if i >= len(b) || b[i] != '"' {
		return false
	}
	kEnd := stringEnd(b, i)
	it.key = b[i:kEnd]
	i = skipSpace(b, kEnd)
	i = min(skipSpace(b, i+1), len(b)) // past ':'
	vEnd := valueEnd(b, i)
	it.val = b[i:vEnd]
	i = skipSpace(b, vEnd)
	if i < len(b) && b[i] == ',' {
		i = skipSpace(b, i+1)
	}
	it.i = i
	return true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index after the string starting at b[i] == '"'.
func stringEnd(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// valueEnd returns the index after the valid JSON value starting at b[i]
// (at most len(b), whatever b holds).
func valueEnd(b []byte, i int) int {
	if i >= len(b) {
		return len(b)
	}
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = stringEnd(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return len(b)
	}
	for ; i < len(b); i++ {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
	}
	return i
}

// keyIs matches a raw key against a field name as encoding/json does:
// escapes decoded, case folded (Unicode simple folding, so the Kelvin
// sign matches k).
func keyIs(raw []byte, name string) bool {
	if len(raw) < 2 || raw[len(raw)-1] != '"' {
		return false // unterminated: only in invalid JSON
	}
	inner := raw[1 : len(raw)-1]
	plain := true
	for _, c := range inner {
		if c == '\\' || c >= utf8.RuneSelf {
			plain = false
			break
		}
	}
	if plain {
		if len(inner) != len(name) {
			return false
		}
		// name is all letters, so equal with the 0x20 (case) bit set
		// means the same letter in either case.
		for i, c := range inner {
			if c|0x20 != name[i]|0x20 {
				return false
			}
		}
		return true
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return false
	}
	return strings.EqualFold(s, name)
}

// setString is what encoding/json does to a string field holding cur when
// it decodes val: null leaves it alone; anything but a string is a type
// error, which clears ok.
func setString(cur string, val []byte, ok bool) (string, bool) {
	if len(val) == 0 {
		return cur, false // only in invalid JSON
	}
	switch val[0] {
	case 'n':
		return cur, ok
	case '"':
	default:
		return cur, false
	}
	if len(val) < 2 || val[len(val)-1] != '"' {
		return cur, false // unterminated: only in invalid JSON
	}
	inner := val[1 : len(val)-1]
	for _, c := range inner {
		if c == '\\' || c >= utf8.RuneSelf {
			// Escapes, or UTF-8 to check: let encoding/json decode it.
			var s string
			if json.Unmarshal(val, &s) != nil {
				return cur, false
			}
			return s, ok
		}
	}
	return string(inner), ok
}
