package keyadmin

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// repeated is a flag that may be given more than once. Set never fails:
// the flag package would echo the value in its error, and a value may be
// a key pasted in the wrong place; the values are checked after parsing.
type repeated []string

func (r *repeated) String() string { return "" }

func (r *repeated) Set(v string) error {
	*r = append(*r, v)
	return nil
}

// ruleFlags are the flags that shape an entry's access rules (add, set).
type ruleFlags struct {
	allow, sources, meta  repeated
	allowAny, allowNone   bool
	sourceAny, sourceNone bool
	metaClear             bool
}

// change turns the flags of `keys sub` for the client name into a
// RuleChange, and checks it as the function would. Messages never repeat
// a value.
func (f ruleFlags) change(sub, name string) (RuleChange, error) {
	var c RuleChange
	var err error
	if c.Allow, err = listFlags("allow", f.allow, f.allowAny, f.allowNone); err != nil {
		return c, err
	}
	if c.Sources, err = listFlags("source", f.sources, f.sourceAny, f.sourceNone); err != nil {
		return c, err
	}
	c.ClearMeta = f.metaClear
	var twice []string
	for i, m := range f.meta {
		k, v, ok := strings.Cut(m, "=")
		switch {
		case !ok:
			return c, usagef("keys %s: --meta takes NAME=VALUE, and the %s --meta has no '='", sub, ordinal(i+1))
		case v == "" && sub == "add":
			return c, usagef("keys add: the %s --meta has no value (NAME= removes a member, with keys set): give NAME=VALUE", ordinal(i+1))
		}
		if _, set := c.SetMeta[k]; set || slices.Contains(c.UnsetMeta, k) {
			twice = append(twice, k)
		}
		if v == "" {
			c.UnsetMeta = append(c.UnsetMeta, k)
			continue
		}
		if c.SetMeta == nil {
			c.SetMeta = map[string]string{}
		}
		c.SetMeta[k] = v
	}
	if err := c.Check(name); err != nil {
		var which string
		if len(f.allow) > 1 || len(f.sources) > 1 {
			which = " (allow[N] and sources[N] are the --allow and --source flags in order, counting from 0)"
		}
		return c, usagef("keys %s: the function would refuse these rules: %v%s", sub, err, which)
	}
	// Only names Check accepted are shown.
	switch {
	case len(twice) > 0:
		return c, usagef("keys %s: --meta names the member %q more than once", sub, twice[0])
	case c.ClearMeta && len(c.UnsetMeta) > 0:
		return c, usagef("keys set: --meta-clear removes every member, so --meta %s= has nothing to remove", c.UnsetMeta[0])
	}
	return c, nil
}

// listFlags reads --NAME (repeated), --NAME-any and --NAME-none, of which
// one kind at most may be given.
func listFlags(name string, list []string, any, none bool) (ListChange, error) {
	given := 0
	for _, b := range []bool{len(list) > 0, any, none} {
		if b {
			given++
		}
	}
	switch {
	case given > 1:
		return ListChange{}, usagef("give one of --%[1]s (repeated), --%[1]s-any and --%[1]s-none", name)
	case len(list) > 0:
		return ListChange{Replace: true, List: slices.Clone([]string(list))}, nil
	case any:
		return ListChange{Replace: true}, nil
	case none:
		return ListChange{Replace: true, List: []string{}}, nil
	}
	return ListChange{}, nil
}

func ordinal(n int) string {
	switch {
	case n%100 >= 11 && n%100 <= 13:
		return fmt.Sprintf("%dth", n)
	case n%10 == 1:
		return fmt.Sprintf("%dst", n)
	case n%10 == 2:
		return fmt.Sprintf("%dnd", n)
	case n%10 == 3:
		return fmt.Sprintf("%drd", n)
	}
	return fmt.Sprintf("%dth", n)
}

// The words of `keys list` and of the reports for rules. Patterns and
// CIDRs are shown only once checked (by Parse or Check): a valid pattern
// holds a space, which no key can, and a key pasted in place of a network
// does not parse as one. Meta values are never shown, only member names:
// a value can be anything, a key pasted in the wrong place included.

// countRules is the list column: any (no field), none (empty), or how
// many.
func countRules(list []string, one, many string) string {
	switch {
	case list == nil:
		return "any"
	case len(list) == 0:
		return "none"
	case len(list) == 1:
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", len(list), many)
}

// showRules spells a list out: any, none, or its items.
func showRules(list []string) string {
	switch {
	case list == nil:
		return "any"
	case len(list) == 0:
		return "none"
	}
	return strings.Join(list, ", ")
}

// metaNames lists meta's member names, "-" for none.
func metaNames(meta map[string]string, sep string) string {
	if len(meta) == 0 {
		return "-"
	}
	return strings.Join(slices.Sorted(maps.Keys(meta)), sep)
}

// reportRules says how NAME's rules changed, field by field: patterns
// and networks in full, meta by member names only.
func reportRules(env Env, name string, before, after Rules) {
	same := true
	if !sameList(before.Allow, after.Allow) {
		fmt.Fprintf(env.Stderr, "  allow: %s (was %s)\n", showRules(after.Allow), showRules(before.Allow))
		same = false
	}
	if !sameList(before.Sources, after.Sources) {
		fmt.Fprintf(env.Stderr, "  sources: %s (was %s)\n", showRules(after.Sources), showRules(before.Sources))
		same = false
	}
	if !maps.Equal(before.Meta, after.Meta) {
		fmt.Fprintf(env.Stderr, "  meta: %s (was %s; values are not shown)\n", metaNames(after.Meta, ", "), metaNames(before.Meta, ", "))
		same = false
	}
	if same {
		fmt.Fprintf(env.Stderr, "  %q had these rules already; its old keys now have them too.\n", name)
	}
}
