package keyadmin

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/keygate/keygate/internal/apikey"
)

// KeyUsage is what `keys usage` shows: each client's requests by outcome and
// when it was last seen, from the function's logs, crossed with the
// secret's current entries. Never a key.
type KeyUsage struct {
	SecretID  string    `json:"secret_id"`
	VersionID string    `json:"version_id"`
	Logs      LogWindow `json:"logs"`
	// Clients: the secret's entries in list order (seen or not), then the
	// clients seen in the logs that it no longer holds, by name.
	Clients []ClientUsage `json:"clients"`
	// WithoutClient counts the requests whose key matched no entry:
	// missing, invalid, ambiguous, and unavailable (no key set loaded).
	WithoutClient Counts `json:"without_client"`
	// Unnamed counts requests whose log line names a client that is not a
	// valid client name, which no keygate function writes: not shown, as
	// such a value could be anything.
	Unnamed int64 `json:"unnamed,omitempty"`
}

// ClientUsage is one client's requests.
type ClientUsage struct {
	Name string `json:"name"`
	// InSecret: the secret's current version has an entry of this name.
	// False: seen in the logs only (revoked, or renamed).
	InSecret bool `json:"in_secret"`
	Counts
}

// Counts are requests by outcome. LastSeen is the last of them (nil for
// none in the window).
type Counts struct {
	Requests int64            `json:"requests"`
	Outcomes map[string]int64 `json:"outcomes"`
	LastSeen *time.Time       `json:"last_seen,omitempty"`
}

// safeOutcome is what an outcome looks like; anything else in a log line
// is counted as "other".
var safeOutcome = regexp.MustCompile(`^[a-z][a-z_]{0,31}$`)

func (c *Counts) add(outcome string, n int64, last time.Time) {
	if !safeOutcome.MatchString(outcome) {
		outcome = "other"
	}
	if c.Outcomes == nil {
		c.Outcomes = map[string]int64{}
	}
	c.Requests += n
	c.Outcomes[outcome] += n
	if c.LastSeen == nil || last.After(*c.LastSeen) {
		c.LastSeen = &last
	}
}

// UsageOptions say which logs to read.
type UsageOptions struct {
	// Function is the Lambda function that serves the secret: its own log
	// group (LogGroup) is read.
	Function string
	// Since is how far back to look; Wait bounds the queries.
	Since, Wait time.Duration
}

// Usage reads the secret's entries, then counts each client's requests in
// the function's logs (Logs Insights: two queries, one by client and
// outcome, one for requests without a client).
func (a *Admin) Usage(ctx context.Context, lc LogsClient, opt UsageOptions) (KeyUsage, error) {
	l, err := a.List(ctx)
	if err != nil {
		return KeyUsage{}, err
	}
	q := newInsights(lc, newWindow(opt.Function, a.now(), opt.Since), a.Region, opt.Wait)
	res, err := q.run(ctx, clientQuery, anonymousQuery)
	if err != nil {
		return KeyUsage{}, err
	}
	u := KeyUsage{SecretID: l.SecretID, VersionID: l.VersionID, Logs: *q.window, WithoutClient: Counts{Outcomes: map[string]int64{}}}
	byName := map[string]*ClientUsage{}
	var names []string
	for _, e := range l.Entries {
		byName[e.Name] = &ClientUsage{Name: e.Name, InSecret: true, Counts: Counts{Outcomes: map[string]int64{}}}
		names = append(names, e.Name)
	}
	var gone []string
	err = eachCount(res[0], func(r row, n int64, last time.Time) {
		name := r["client"]
		if !apikey.ValidClientName(name) {
			u.Unnamed += n
			return
		}
		c := byName[name]
		if c == nil {
			c = &ClientUsage{Name: name}
			byName[name] = c
			gone = append(gone, name)
		}
		c.add(r["outcome"], n, last)
	})
	if err == nil {
		err = eachCount(res[1], func(r row, n int64, last time.Time) { u.WithoutClient.add(r["outcome"], n, last) })
	}
	if err != nil {
		return KeyUsage{}, fmt.Errorf("reading the answer of Logs Insights for log group %s: %w", q.window.LogGroup, err)
	}
	slices.Sort(gone)
	for _, n := range append(names, gone...) {
		u.Clients = append(u.Clients, *byName[n])
	}
	return u, nil
}

// LastSeen returns when each client last presented its key to the
// function (whatever the answer: authorized, expired, forbidden), from its
// logs over opt.Since: one Logs Insights query, the one Usage runs by
// client and outcome.
func (a *Admin) LastSeen(ctx context.Context, lc LogsClient, opt UsageOptions) (map[string]time.Time, LogWindow, error) {
	q := newInsights(lc, newWindow(opt.Function, a.now(), opt.Since), a.Region, opt.Wait)
	res, err := q.run(ctx, clientQuery)
	if err != nil {
		return nil, *q.window, err
	}
	seen := map[string]time.Time{}
	err = eachCount(res[0], func(r row, _ int64, last time.Time) {
		if name := r["client"]; apikey.ValidClientName(name) && last.After(seen[name]) {
			seen[name] = last
		}
	})
	if err != nil {
		return nil, *q.window, fmt.Errorf("reading the answer of Logs Insights for log group %s: %w", q.window.LogGroup, err)
	}
	return seen, *q.window, nil
}

// eachCount calls f with each row's requests and last_seen.
func eachCount(rows []row, f func(r row, n int64, last time.Time)) error {
	for _, r := range rows {
		n, err := r.count("requests")
		if err != nil {
			return err
		}
		last, err := r.time("last_seen")
		if err != nil {
			return err
		}
		f(r, n, last)
	}
	return nil
}

// clientOutcomes are the outcomes of a request whose key matched an
// entry: the columns of `keys usage`, in this order, before any other
// that the logs show.
var clientOutcomes = []string{"authorized", "expired", "forbidden"}

// anonymousOutcomes are those of a request whose key matched none.
var anonymousOutcomes = []string{"missing", "invalid", "ambiguous", "unavailable"}

// columns returns known, then the other outcomes seen in counts, sorted.
func columns(known []string, counts ...Counts) []string {
	var extra []string
	for _, c := range counts {
		for o := range c.Outcomes {
			if !slices.Contains(known, o) && !slices.Contains(extra, o) {
				extra = append(extra, o)
			}
		}
	}
	slices.Sort(extra)
	return append(slices.Clone(known), extra...)
}

// notSeen is what `keys usage` and `keys list` say of a client with no
// request in the window.
func notSeen(w LogWindow) string { return "not seen since " + stamp(w.From) }

// quoteNames is quoteAll for names from the logs, which can be many.
func quoteNames(names []string) string {
	if len(names) > 5 {
		return quoteAll(names[:5]) + fmt.Sprintf(" (and %d more)", len(names)-5)
	}
	return strings.TrimSpace(quoteAll(names))
}
