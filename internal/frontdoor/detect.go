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
	var (
		version, method string
		rc              []byte // the last requestContext value
		ok              = true // false: not an object, or a field read has the wrong JSON type
	)
	it, isObject := members(payload)
	for it.next() {
		switch {
		case keyIs(it.key, "version"):
			version, ok = setString(version, it.val, ok)
		case keyIs(it.key, "httpMethod"):
			method, ok = setString(method, it.val, ok)
		case keyIs(it.key, "rawPath"):
			_, ok = setString("", it.val, ok)
		case keyIs(it.key, "requestContext"):
			rc = it.val
		}
	}
	if !isObject || !ok || rc == nil {
		return Unknown
	}
	var elb, http []byte
	var domain string
	if string(rc) != "null" {
		it, isObject = members(rc)
		for it.next() {
			switch {
			case keyIs(it.key, "elb"):
				elb = it.val
			case keyIs(it.key, "http"):
				http = it.val
			case keyIs(it.key, "domainName"):
				domain, ok = setString(domain, it.val, ok)
			}
		}
		if !isObject || !ok {
			return Unknown
		}
	}
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
	i = skipSpace(b, i+1) // past ':'
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

// valueEnd returns the index after the valid JSON value starting at b[i].
func valueEnd(b []byte, i int) int {
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
	for i < len(b) && !strings.ContainsRune(",}] \t\n\r", rune(b[i])) {
		i++
	}
	return i
}

// keyIs matches a raw key against a field name as encoding/json does:
// escapes decoded, case folded (Unicode simple folding, so the Kelvin
// sign matches k).
func keyIs(raw []byte, name string) bool {
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
		for i, c := range inner {
			if c|0x20 != name[i]|0x20 || (c|0x20 < 'a' || c|0x20 > 'z') && c != name[i] {
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
	switch val[0] {
	case 'n':
		return cur, ok
	case '"':
	default:
		return cur, false
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
