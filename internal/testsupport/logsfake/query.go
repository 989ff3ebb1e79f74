package logsfake

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// query is the one shape of Logs Insights query the fake evaluates:
//
//	filter COND [and COND]... | stats AGG as NAME[, AGG as NAME]... by FIELD[, FIELD]...
//
// COND is `FIELD in ["a", "b"]`, `ispresent(FIELD)` or `not ispresent(FIELD)`;
// AGG is count(*) or max(@timestamp). Anything else is refused by parse.
type query struct {
	conds []cond
	aggs  []agg
	by    []string

	rows  [][]field
	stats stats
}

type cond struct {
	field  string
	in     []string // `in` when not nil
	negate bool     // not ispresent
}

type agg struct{ fn, as string } // fn: count or max

type stats struct{ matched, scanned, bytes int }

// parse reads the query, or says what it does not understand.
func parse(s string) (*query, error) {
	toks, err := tokenize(s)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	q := &query{}
	if err := p.want("filter"); err != nil {
		return nil, err
	}
	for {
		c, err := p.cond()
		if err != nil {
			return nil, err
		}
		q.conds = append(q.conds, c)
		if !p.accept("and") {
			break
		}
	}
	for _, w := range []string{"|", "stats"} {
		if err := p.want(w); err != nil {
			return nil, err
		}
	}
	for {
		a, err := p.agg()
		if err != nil {
			return nil, err
		}
		q.aggs = append(q.aggs, a)
		if !p.accept(",") {
			break
		}
	}
	if err := p.want("by"); err != nil {
		return nil, err
	}
	for {
		f, err := p.ident()
		if err != nil {
			return nil, err
		}
		q.by = append(q.by, f)
		if !p.accept(",") {
			break
		}
	}
	if !p.done() {
		return nil, fmt.Errorf("unexpected %q after the stats command", p.peek())
	}
	return q, nil
}

type parser struct {
	toks []string
	i    int
}

func (p *parser) done() bool { return p.i >= len(p.toks) }

func (p *parser) peek() string {
	if p.done() {
		return "end of query"
	}
	return p.toks[p.i]
}

func (p *parser) accept(tok string) bool {
	if !p.done() && p.toks[p.i] == tok {
		p.i++
		return true
	}
	return false
}

func (p *parser) want(tok string) error {
	if !p.accept(tok) {
		return fmt.Errorf("want %q, found %q", tok, p.peek())
	}
	return nil
}

func (p *parser) ident() (string, error) {
	t := p.peek()
	if p.done() || !isIdent(t) {
		return "", fmt.Errorf("want a field name, found %q", t)
	}
	p.i++
	return t, nil
}

func (p *parser) cond() (cond, error) {
	negate := p.accept("not")
	if p.accept("ispresent") {
		if err := p.want("("); err != nil {
			return cond{}, err
		}
		f, err := p.ident()
		if err != nil {
			return cond{}, err
		}
		return cond{field: f, negate: negate}, p.want(")")
	}
	if negate {
		return cond{}, errors.New("`not` only before ispresent(FIELD)")
	}
	f, err := p.ident()
	if err != nil {
		return cond{}, err
	}
	for _, w := range []string{"in", "["} {
		if err := p.want(w); err != nil {
			return cond{}, err
		}
	}
	c := cond{field: f, in: []string{}}
	for {
		t := p.peek()
		if !strings.HasPrefix(t, `"`) {
			return cond{}, fmt.Errorf("want a string in the list, found %q", t)
		}
		p.i++
		c.in = append(c.in, t[1:len(t)-1])
		if !p.accept(",") {
			break
		}
	}
	return c, p.want("]")
}

func (p *parser) agg() (agg, error) {
	var a agg
	switch {
	case p.accept("count"):
		a.fn = "count"
		for _, w := range []string{"(", "*", ")"} {
			if err := p.want(w); err != nil {
				return a, err
			}
		}
	case p.accept("max"):
		a.fn = "max"
		for _, w := range []string{"(", "@timestamp", ")"} {
			if err := p.want(w); err != nil {
				return a, err
			}
		}
	default:
		return a, fmt.Errorf("want count(*) or max(@timestamp), found %q", p.peek())
	}
	if err := p.want("as"); err != nil {
		return a, err
	}
	var err error
	a.as, err = p.ident()
	return a, err
}

func isIdent(t string) bool {
	if t == "" || slices.Contains([]string{"filter", "stats", "by", "as", "and", "not", "in", "ispresent"}, t) {
		return false
	}
	for i, r := range t {
		if !(unicode.IsLetter(r) || r == '_' || r == '@' || i > 0 && (unicode.IsDigit(r) || r == '.')) {
			return false
		}
	}
	return true
}

// tokenize splits s into words, double-quoted strings (without escapes)
// and the punctuation ( ) [ ] , | *.
func tokenize(s string) ([]string, error) {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case strings.IndexByte("()[],|*", c) >= 0:
			toks = append(toks, string(c))
			i++
		case c == '"':
			end := strings.IndexByte(s[i+1:], '"')
			if end < 0 {
				return nil, errors.New("unterminated string")
			}
			if strings.ContainsRune(s[i+1:i+1+end], '\\') {
				return nil, errors.New("escapes in strings")
			}
			toks = append(toks, s[i:i+end+2])
			i += end + 2
		default:
			j := i
			for j < len(s) && strings.IndexByte(" \t\n\r()[],|*\"", s[j]) < 0 {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		}
	}
	return toks, nil
}

// run evaluates the query over events with a timestamp in [start, end]
// (both inclusive, as StartQuery's are), and returns at most limit rows,
// ordered by their group's values.
func (q *query) run(events []event, start, end time.Time, limit int) ([][]field, stats) {
	type group struct {
		key   []string
		count int
		max   time.Time
	}
	groups := map[string]*group{}
	var st stats
	for _, e := range events {
		if e.at.Before(start) || e.at.After(end) {
			continue
		}
		st.scanned++
		st.bytes += len(e.message)
		fields := fieldsOf(e.message)
		if !q.matches(fields) {
			continue
		}
		st.matched++
		key := make([]string, len(q.by))
		for i, f := range q.by {
			key[i] = fields[f]
		}
		k := strings.Join(key, "\x00")
		g := groups[k]
		if g == nil {
			g = &group{key: key}
			groups[k] = g
		}
		g.count++
		if e.at.After(g.max) {
			g.max = e.at
		}
	}
	keys := slices.Sorted(maps.Keys(groups))
	var rows [][]field
	for _, k := range keys {
		if len(rows) == limit {
			break
		}
		g := groups[k]
		var row []field
		for i, f := range q.by {
			row = append(row, field{f, g.key[i]})
		}
		for _, a := range q.aggs {
			v := strconv.Itoa(g.count)
			if a.fn == "max" {
				// Logs Insights answers max(@timestamp) in epoch
				// milliseconds.
				v = strconv.FormatInt(g.max.UnixMilli(), 10)
			}
			row = append(row, field{a.as, v})
		}
		rows = append(rows, row)
	}
	return rows, st
}

func (q *query) matches(fields map[string]string) bool {
	for _, c := range q.conds {
		v, ok := fields[c.field]
		switch {
		case c.in != nil && (!ok || !slices.Contains(c.in, v)):
			return false
		case c.in == nil && ok == c.negate:
			return false
		}
	}
	return true
}

// fieldsOf returns the top-level members of a JSON log line as Logs
// Insights shows them: strings as they are, other values as their JSON
// text; a line that is not a JSON object has none.
func fieldsOf(line string) map[string]string {
	var m map[string]json.RawMessage
	if json.Unmarshal([]byte(line), &m) != nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, raw := range m {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			out[k] = s
		} else if string(raw) != "null" {
			out[k] = string(raw)
		}
	}
	return out
}
