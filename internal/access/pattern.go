package access

import (
	"errors"
	"strings"
)

// Pattern is one "METHOD /path" route pattern. METHOD is an HTTP method or
// "*"; in the path, "*" matches any run of characters, "/" included, and
// every other character only itself: the wildcard of execute-api ARNs, so
// that a pattern maps one-to-one onto a policy resource
// (arn:…:API/STAGE/METHOD/PATH).
type Pattern struct {
	Method string
	Path   string
}

// ParsePattern reads "METHOD /path". Its errors never repeat the text
// (which could be a key pasted into the wrong place).
func ParsePattern(s string) (Pattern, error) {
	method, p, ok := strings.Cut(s, " ")
	switch {
	case !ok || method == "" || p == "":
		return Pattern{}, errors.New(`must be "METHOD /path": a method or *, one space, then a path starting with /`)
	case method != "*" && !isMethod(method):
		return Pattern{}, errors.New("has a method that is not an HTTP method in upper case (GET, POST, …) or *")
	case p[0] != '/':
		return Pattern{}, errors.New("has a relative path: it must start with /")
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c <= ' ' || c >= 0x7f || c == '?' || c == '#' {
			return Pattern{}, errors.New("has a path with a space, a control or non-ASCII character, ? or #: it matches the path alone, with * as its only wildcard")
		}
	}
	return Pattern{Method: method, Path: p}, nil
}

func isMethod(m string) bool {
	if len(m) > 16 {
		return false
	}
	for i := 0; i < len(m); i++ {
		if m[i] < 'A' || m[i] > 'Z' {
			return false
		}
	}
	return true
}

// String is the pattern as the secret writes it.
func (p Pattern) String() string { return p.Method + " " + p.Path }

// Matches reports whether the pattern covers a request for method and
// path (a path as Clean returns it).
func (p Pattern) Matches(method, path string) bool {
	return (p.Method == "*" || p.Method == method) && wildcard(p.Path, path)
}

// wildcard matches s against pattern, where "*" matches any run of
// characters. Greedy, with one backtrack point (the last star): linear in
// practice, at most len(pattern)×len(s) steps.
func wildcard(pattern, s string) bool {
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case pi < len(pattern) && pattern[pi] == '*':
			star, mark = pi, si
			pi++
		case pi < len(pattern) && pattern[pi] == s[si]:
			pi++
			si++
		case star >= 0:
			mark++
			pi, si = star+1, mark
		default:
			return false
		}
	}
	for pi < len(pattern) && pattern[pi] == '*' {
		pi++
	}
	return pi == len(pattern)
}
