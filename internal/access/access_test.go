package access

import (
	"net/netip"
	"regexp"
	"strings"
	"testing"
)

func TestParsePattern(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Pattern
		err  string
	}{
		{"GET /reports", Pattern{"GET", "/reports"}, ""},
		{"* /reports/*", Pattern{"*", "/reports/*"}, ""},
		{"HEAD /", Pattern{"HEAD", "/"}, ""},
		{"PROPFIND /dav/*", Pattern{"PROPFIND", "/dav/*"}, ""},
		{"/reports", Pattern{}, "METHOD /path"},
		{"GET", Pattern{}, "METHOD /path"},
		{"GET ", Pattern{}, "METHOD /path"},
		{" /reports", Pattern{}, "METHOD /path"},
		{"get /reports", Pattern{}, "upper case"},
		{"G3T /reports", Pattern{}, "upper case"},
		{"GET reports/*", Pattern{}, "relative path"},
		{"GET /reports now", Pattern{}, "space"},
		{"GET /reports?x=1", Pattern{}, "?"},
		{"GET /r#x", Pattern{}, "#"},
		{"GET /caf\u00e9", Pattern{}, "non-ASCII"},
	} {
		got, err := ParsePattern(tt.in)
		switch {
		case tt.err == "" && (err != nil || got != tt.want):
			t.Errorf("ParsePattern(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("ParsePattern(%q) = %v, want an error saying %q", tt.in, err, tt.err)
		case err != nil && strings.Contains(err.Error(), tt.in):
			t.Errorf("ParsePattern(%q)'s error repeats the text: %v", tt.in, err)
		}
		if err == nil && got.String() != tt.in {
			t.Errorf("String() = %q, want %q", got.String(), tt.in)
		}
	}
}

func TestMatches(t *testing.T) {
	for _, tt := range []struct {
		pattern, method, path string
		want                  bool
	}{
		{"GET /reports", "GET", "/reports", true},
		{"GET /reports", "GET", "/reports/", false},
		{"GET /reports", "POST", "/reports", false},
		{"* /reports", "DELETE", "/reports", true},
		{"GET /reports/*", "GET", "/reports/", true},
		{"GET /reports/*", "GET", "/reports/1/2/3", true},
		{"GET /reports/*", "GET", "/reports", false},
		{"GET /*/summary", "GET", "/a/b/summary", true},
		{"GET /*/summary", "GET", "/a/b/summary/x", false},
		{"GET /a*b*c", "GET", "/axxbyyc", true},
		{"GET /a*b*c", "GET", "/axxbyy", false},
		{"GET /*", "GET", "/", true},
		{"GET /", "GET", "/", true},
		{"GET /", "GET", "/x", false},
	} {
		p, err := ParsePattern(tt.pattern)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Matches(tt.method, tt.path); got != tt.want {
			t.Errorf("%q matches %s %s = %v, want %v", tt.pattern, tt.method, tt.path, got, tt.want)
		}
	}
}

// FuzzWildcard holds the matcher to an independent reference of the IAM
// wildcard: a regular expression in which * is .* and everything else is
// itself.
func FuzzWildcard(f *testing.F) {
	for _, s := range [][2]string{{"/reports/*", "/reports/1"}, {"/*/x/*", "/a/x/b/x/c"}, {"/a**b", "/ab"}, {"*", ""}, {"/a*", "/b"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, s string) {
		for i := 0; i < len(pattern); i++ {
			if pattern[i] >= 0x80 {
				return // ParsePattern allows ASCII paths only
			}
		}
		var re strings.Builder
		re.WriteString(`(?s)\A`)
		for _, part := range strings.Split(pattern, "*") {
			re.WriteString(regexp.QuoteMeta(part))
			re.WriteString(`.*`)
		}
		ref := regexp.MustCompile(strings.TrimSuffix(re.String(), `.*`) + `\z`)
		if got, want := wildcard(pattern, s), ref.MatchString(s); got != want {
			t.Fatalf("wildcard(%q, %q) = %v, the reference says %v", pattern, s, got, want)
		}
	})
}

func TestClean(t *testing.T) {
	for in, want := range map[string]string{
		"":                  "/",
		"/":                 "/",
		"/reports":          "/reports",
		"/reports/":         "/reports/",
		"/reports/../admin": "/admin",
		"/reports/./1":      "/reports/1",
		"//reports//1":      "/reports/1",
		"/reports/1/..":     "/reports",
		"/reports/1/../":    "/reports/",
		"reports":           "/reports",
		"/../../etc/passwd": "/etc/passwd",
		"/reports/%2e%2e/x": "/reports/%2e%2e/x",
	} {
		if got := Clean(in); got != want {
			t.Errorf("Clean(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCheck(t *testing.T) {
	pats := func(ss ...string) []Pattern {
		out := []Pattern{}
		for _, s := range ss {
			p, err := ParsePattern(s)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, p)
		}
		return out
	}
	nets := func(ss ...string) []netip.Prefix {
		out := []netip.Prefix{}
		for _, s := range ss {
			out = append(out, netip.MustParsePrefix(s))
		}
		return out
	}
	addr := func(s string) netip.Addr {
		if s == "" {
			return netip.Addr{}
		}
		return netip.MustParseAddr(s)
	}
	readOnly := &Policy{Allow: pats("GET /reports", "GET /reports/*", "HEAD /reports/*")}
	office := &Policy{Sources: nets("203.0.113.0/24", "2001:db8::/32")}
	both := &Policy{Allow: pats("GET /*"), Sources: nets("203.0.113.0/24")}
	for _, tt := range []struct {
		name         string
		p            *Policy
		method, path string
		source       string
		routes       bool
		want         string
	}{
		{"no policy", nil, "DELETE", "/x", "", true, ""},
		{"allowed route", readOnly, "GET", "/reports/7", "198.51.100.1", true, ""},
		{"other method", readOnly, "POST", "/reports/7", "198.51.100.1", true, ReasonRoute},
		{"other path", readOnly, "GET", "/admin", "198.51.100.1", true, ReasonRoute},
		{"dot segments resolved first", readOnly, "GET", "/reports/../admin", "", true, ReasonRoute},
		{"routes left to the caller", readOnly, "POST", "/admin", "", false, ""},
		{"empty allow: nothing", &Policy{Allow: []Pattern{}}, "GET", "/", "", true, ReasonRoute},
		{"empty allow, routes left to the caller: still nothing", &Policy{Allow: []Pattern{}}, "", "", "", false, ReasonRoute},
		{"in an IPv4 source", office, "GET", "/", "203.0.113.77", true, ""},
		{"outside", office, "GET", "/", "198.51.100.1", true, ReasonSource},
		{"in an IPv6 source", office, "GET", "/", "2001:db8:1::5", true, ""},
		{"IPv4-mapped IPv6", office, "GET", "/", "::ffff:203.0.113.9", true, ""},
		{"with a zone", office, "GET", "/", "2001:db8::1%eth0", true, ""},
		{"no address: fail closed", office, "GET", "/", "", true, ReasonSource},
		{"no address, routes left to the caller", office, "GET", "/", "", false, ReasonSource},
		{"empty sources: nowhere", &Policy{Sources: []netip.Prefix{}}, "GET", "/", "203.0.113.1", true, ReasonSource},
		{"source checked before route", both, "POST", "/", "198.51.100.1", true, ReasonSource},
		{"both hold", both, "GET", "/x", "203.0.113.1", true, ""},
		{"meta only restricts nothing", &Policy{Meta: map[string]string{"plan": "gold"}}, "POST", "/x", "", true, ""},
	} {
		if got := tt.p.Check(tt.method, tt.path, addr(tt.source), tt.routes); got != tt.want {
			t.Errorf("%s: Check = %q, want %q", tt.name, got, tt.want)
		}
	}
	if (&Policy{Meta: map[string]string{"a": "b"}}).Restricted() || !readOnly.Restricted() || !office.Restricted() || (*Policy)(nil).Restricted() {
		t.Error("Restricted is true for exactly the policies with allow or sources")
	}
}
