package keyadmin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// newLogs builds the CloudWatch Logs client.
func newLogs(ctx context.Context, env Env, region string) (LogsClient, error) {
	if env.NewLogs == nil {
		return nil, errors.New("no CloudWatch Logs client in this build")
	}
	lc, err := env.NewLogs(ctx, region)
	if err != nil {
		return nil, fmt.Errorf("no CloudWatch Logs client: %w", err)
	}
	return lc, nil
}

func usageOptions(opt options) UsageOptions {
	return UsageOptions{Function: strings.TrimSpace(opt.function), Since: opt.since, Wait: opt.wait}
}

// addLastSeen fills in when each entry of l was last seen, when a function
// is known; without one it makes no call. A failure to read the logs does
// not fail the list: it is recorded in l.LogsError (and the entries' last
// seen is unknown). It returns the clients seen in the logs that l does
// not hold.
func addLastSeen(ctx context.Context, a *Admin, opt options, env Env, l *Listing) []string {
	uo := usageOptions(opt)
	if uo.Function == "" {
		return nil
	}
	lc, err := newLogs(ctx, env, a.Region)
	var seen map[string]time.Time
	w := newWindow(uo.Function, a.now(), uo.Since)
	if err == nil {
		seen, w, err = a.LastSeen(ctx, lc, uo)
	}
	l.Logs = &w
	if err != nil {
		l.LogsError = err.Error()
		return nil
	}
	held := map[string]bool{}
	for i, e := range l.Entries {
		held[e.Name] = true
		if t, ok := seen[e.Name]; ok {
			l.Entries[i].LastSeen = &t
		}
	}
	var gone []string
	for n := range seen {
		if !held[n] {
			gone = append(gone, n)
		}
	}
	slices.Sort(gone)
	return gone
}

// warnLastSeen says why LAST SEEN is unknown, if it is.
func warnLastSeen(env Env, l Listing) {
	if l.LogsError != "" {
		fmt.Fprintf(env.Stderr, "warning: when each key was last seen is unknown (LAST SEEN ?): %s. The keys are listed all the same.\n", l.LogsError)
	}
}

// reportLastSeen says on stderr where LAST SEEN comes from, or how to get
// it.
func reportLastSeen(env Env, l Listing, gone []string) {
	switch {
	case l.Logs == nil:
		fmt.Fprintln(env.Stderr, "For LAST SEEN (when each key was last used), pass --function NAME or set KEYGATE_FUNCTION (the stack's FunctionName output): list then reads the function's logs.")
	case l.LogsError == "":
		fmt.Fprintf(env.Stderr, "LAST SEEN: the last request with the key in the logs of function %s (%s) from %s to %s; - for none. `keygate keys usage` counts them by outcome.\n",
			l.Logs.Function, l.Logs.LogGroup, stamp(l.Logs.From), stamp(l.Logs.To))
		if len(gone) > 0 {
			fmt.Fprintf(env.Stderr, "Seen in those logs but not in the secret (revoked or renamed): %s.\n", quoteNames(gone))
		}
	}
}

func lastSeenCell(l Listing, e Listed) string {
	switch {
	case l.LogsError != "":
		return "?"
	case e.LastSeen == nil:
		return "-"
	}
	return stamp(*e.LastSeen)
}

func runUsage(ctx context.Context, a *Admin, opt options, env Env) error {
	lc, err := newLogs(ctx, env, a.Region)
	if err != nil {
		return err
	}
	u, err := a.Usage(ctx, lc, usageOptions(opt))
	if err != nil {
		return err
	}
	if opt.json {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(u)
	}
	w := u.Logs
	fmt.Fprintf(env.Stderr, "secret %s, version %s; function %s, log group %s: requests from %s to %s (%s). Its two Logs Insights queries scanned %s (%d log events).\n",
		u.SecretID, u.VersionID, w.Function, w.LogGroup, stamp(w.From), stamp(w.To), short(opt.since), bytesOf(w.Scanned.Bytes), w.Scanned.Records)

	counts := make([]Counts, len(u.Clients))
	for i, c := range u.Clients {
		counts[i] = c.Counts
	}
	cols := columns(clientOutcomes, counts...)
	tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "CLIENT\tREQUESTS\t%s\tLAST SEEN\tNOTE\n", strings.ToUpper(strings.Join(cols, "\t")))
	var unseen, gone []string
	for _, c := range u.Clients {
		note := ""
		switch {
		case !c.InSecret:
			note = "not in the secret (revoked or renamed)"
			gone = append(gone, c.Name)
		case c.Requests == 0:
			note = notSeen(w)
			unseen = append(unseen, c.Name)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", c.Name, c.Requests, cells(c.Counts, cols), seenCell(c.LastSeen), note)
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(env.Stdout)
	tw = tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "WITHOUT A CLIENT\tREQUESTS")
	for _, o := range columns(anonymousOutcomes, u.WithoutClient) {
		fmt.Fprintf(tw, "%s\t%d\n", o, u.WithoutClient.Outcomes[o])
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	if len(unseen) > 0 {
		fmt.Fprintf(env.Stderr, "Not seen since %s: %s. Before revoking a key as unused (`keygate keys revoke NAME`), mind that a client may call less often than every %s (widen --since), and that the logs reach back only as far as the log group keeps them (the stack's LogRetentionDays).\n",
			stamp(w.From), quoteNames(unseen), short(opt.since))
	}
	if len(gone) > 0 {
		fmt.Fprintf(env.Stderr, "In the logs but not in the secret: %s; their requests came before the entry was removed (a removed key that is still sent counts as invalid).\n", quoteNames(gone))
	}
	if u.Unnamed > 0 {
		fmt.Fprintf(env.Stderr, "warning: %d requests in the log group name a client that is not a valid client name (not shown): lines keygate did not write?\n", u.Unnamed)
	}
	return nil
}

// cells are a client's counts for cols, tab-separated.
func cells(c Counts, cols []string) string {
	out := make([]string, len(cols))
	for i, o := range cols {
		out[i] = fmt.Sprint(c.Outcomes[o])
	}
	return strings.Join(out, "\t")
}

func seenCell(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return stamp(*t)
}

// bytesOf writes a byte count as Logs Insights bills it: by the GB.
func bytesOf(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f kB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
