package apikey

import (
	"errors"
	"fmt"
	"net/netip"
	"unicode"
	"unicode/utf8"

	"github.com/keygate/keygate/internal/access"
)

// Limits of an entry's meta: it travels in an authorizer's context and a
// request header, so it stays small.
const (
	MaxMetaMembers = 10
	MaxMetaValue   = 256 // characters
)

// policy compiles the entry's access rules; nil when it has none. Its
// errors name the field, never a value (a pattern could be a key pasted in
// the wrong place).
func (e KeyEntry) policy() (*access.Policy, error) {
	if e.Allow == nil && e.Sources == nil && e.Meta == nil {
		return nil, nil
	}
	p := &access.Policy{}
	if e.Allow != nil {
		p.Allow = make([]access.Pattern, 0, len(e.Allow))
		for i, s := range e.Allow {
			pat, err := access.ParsePattern(s)
			if err != nil {
				return nil, fmt.Errorf("allow[%d] %v", i, err)
			}
			p.Allow = append(p.Allow, pat)
		}
	}
	if e.Sources != nil {
		p.Sources = make([]netip.Prefix, 0, len(e.Sources))
		for i, s := range e.Sources {
			n, err := netip.ParsePrefix(s)
			switch {
			case err != nil:
				return nil, fmt.Errorf("sources[%d] is not a CIDR such as 203.0.113.0/24 or 2001:db8::/32 (a single address is /32 or /128)", i)
			case n != n.Masked():
				return nil, fmt.Errorf("sources[%d] has bits set after its prefix length: write the network's first address", i)
			case n.Addr().Zone() != "":
				return nil, fmt.Errorf("sources[%d] has a zone: write the network alone", i)
			}
			p.Sources = append(p.Sources, n)
		}
	}
	if e.Meta != nil {
		if err := checkMeta(e.Meta); err != nil {
			return nil, err
		}
		p.Meta = e.Meta
	}
	return p, nil
}

func checkMeta(meta map[string]string) error {
	if len(meta) > MaxMetaMembers {
		return fmt.Errorf("meta has %d members, more than %d", len(meta), MaxMetaMembers)
	}
	for name, v := range meta {
		if !validMetaName(name) {
			return errors.New("meta has a member whose name is not [a-z][a-z0-9_]{0,31}")
		}
		if !utf8.ValidString(v) || utf8.RuneCountInString(v) > MaxMetaValue {
			return fmt.Errorf("meta[%q] must be at most %d characters of UTF-8", name, MaxMetaValue)
		}
		for _, r := range v {
			if unicode.IsControl(r) {
				return fmt.Errorf("meta[%q] holds a control character", name)
			}
		}
	}
	return nil
}

// validMetaName: [a-z][a-z0-9_]{0,31}, names that read the same in a
// header, a log, a JSON context and a mapping expression.
func validMetaName(name string) bool {
	if len(name) == 0 || len(name) > 32 || name[0] < 'a' || name[0] > 'z' {
		return false
	}
	for i := 1; i < len(name); i++ {
		if c := name[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}
