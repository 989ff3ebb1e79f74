package keyadmin

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/keygate/keygate/internal/apikey"
	"github.com/keygate/keygate/internal/config"
	"github.com/keygate/keygate/internal/keycache"
	"github.com/keygate/keygate/internal/smapi"
	"github.com/keygate/keygate/internal/smclient"
)

// Exit statuses of Run.
const (
	ExitOK    = 0
	ExitError = 1 // the operation failed
	ExitUsage = 2 // the command line is wrong
)

// short formats a duration as the documentation writes it: 24h, 5m, 30s
// (not 24h0m0s).
func short(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// Env is the process around Run.
type Env struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// NewClient builds the Secrets Manager client; region may be empty
	// (the SDK's default). It returns the region in use.
	NewClient func(ctx context.Context, region string) (smapi.Client, string, error)
	// NewLambda builds the Lambda client, in region: it reads the
	// function's KEY_GRACE (only for a change that needs it) and restarts
	// it (`revoke --now`).
	NewLambda func(ctx context.Context, region string) (LambdaClient, error)
	// NewAPIGateway builds the API Gateway client: usage plans (--plan,
	// and revoke of a client in one) and `revoke --now --rest-api`.
	NewAPIGateway func(ctx context.Context, region string) (APIGateway, error)
	// NewLogs builds the CloudWatch Logs client `keys usage`, and `keys
	// list` with a function, query the function's logs with.
	NewLogs func(ctx context.Context, region string) (LogsClient, error)
	// Now and Generate default to time.Now and apikey.Generate.
	Now      func() time.Time
	Generate func() string
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

// options are the parsed flags of one command.
type options struct {
	secretID, region  string
	storeKey, convert bool
	force, json       bool
	now               bool
	function          string
	restAPI, stage    string
	plan              string
	expires, ttl      string
	grace             time.Duration
	since, wait       time.Duration
	set               map[string]bool // the flags given
	positional        []string
	expiresAt         *time.Time
	rules             ruleFlags
	ruleChange        RuleChange
}

// Run runs the keygate command line args (without the program name) and
// returns the exit status.
func Run(ctx context.Context, args []string, env Env) int {
	if len(args) == 0 {
		fmt.Fprint(env.Stderr, Usage())
		return ExitUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(env.Stdout, Usage())
		return ExitOK
	case "keys":
	default:
		return fail(env, usagef("unknown command %q", args[0]))
	}
	if len(args) < 2 {
		return fail(env, usagef("keygate keys needs a subcommand: list, usage, add, set, revoke or rotate"))
	}
	sub := args[1]
	if sub == "help" || sub == "-h" || sub == "--help" {
		fmt.Fprint(env.Stdout, Usage())
		return ExitOK
	}
	opt, err := parseFlags(sub, args[2:], env)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(env.Stdout, Usage())
			return ExitOK
		}
		return fail(env, err)
	}
	admin, err := newAdmin(ctx, opt, env)
	if err != nil {
		return fail(env, err)
	}
	switch sub {
	case "list":
		err = runList(ctx, admin, opt, env)
	case "usage":
		err = runUsage(ctx, admin, opt, env)
	case "add":
		err = runAdd(ctx, admin, opt, env)
	case "revoke":
		err = runRevoke(ctx, admin, opt, env)
	case "rotate":
		err = runRotate(ctx, admin, opt, env)
	case "set":
		err = runSet(ctx, admin, opt, env)
	}
	return fail(env, err)
}

// fail prints err and returns its exit status.
func fail(env Env, err error) int {
	if err == nil {
		return ExitOK
	}
	var u usageError
	if errors.As(err, &u) {
		fmt.Fprintf(env.Stderr, "keygate: %s\nRun `keygate help` for usage.\n", u.msg)
		return ExitUsage
	}
	fmt.Fprintf(env.Stderr, "keygate: %v\n", err)
	return ExitError
}

// wants says which flags and how many names each subcommand takes.
var wants = map[string]struct {
	names int
	flags []string
}{
	"list":   {0, []string{"json", "function", "since", "wait"}},
	"usage":  {0, []string{"json", "function", "since", "wait"}},
	"add":    {1, []string{"store-key", "expires", "ttl", "allow", "source", "meta", "plan", "rest-api", "stage", "convert", "force", "function"}},
	"revoke": {1, []string{"force", "function", "now", "rest-api", "stage"}},
	"rotate": {1, []string{"grace", "expires", "ttl", "convert", "force", "function"}},
	"set": {1, []string{"allow", "allow-any", "allow-none", "source", "source-any", "source-none",
		"meta", "meta-clear", "plan", "rest-api", "stage", "convert", "force", "function"}},
}

func parseFlags(sub string, args []string, env Env) (options, error) {
	want, ok := wants[sub]
	if !ok {
		return options{}, usagef("unknown subcommand %q: use list, usage, add, set, revoke or rotate", sub)
	}
	for _, a := range args {
		if a == "--" {
			break
		}
		if f := strings.TrimLeft(a, "-"); a != f && (f == "key-grace" || strings.HasPrefix(f, "key-grace=")) {
			return options{}, usagef("--key-grace is gone: the grace a change keeps is the function's own KEY_GRACE, which keygate reads from the function's configuration. Pass --function NAME or set KEYGATE_FUNCTION (the stack's FunctionName output) instead")
		}
	}
	opt := options{grace: config.DefaultGrace}
	fs := flag.NewFlagSet("keygate keys "+sub, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported once, by fail
	fs.StringVar(&opt.secretID, "secret-id", env.Getenv("API_KEY_SECRET_ID"), "")
	fs.StringVar(&opt.region, "region", "", "")
	for _, f := range want.flags {
		switch f {
		case "force":
			fs.BoolVar(&opt.force, f, false, "")
		case "now":
			fs.BoolVar(&opt.now, f, false, "")
		case "function":
			fs.StringVar(&opt.function, f, env.Getenv("KEYGATE_FUNCTION"), "")
		case "rest-api":
			fs.StringVar(&opt.restAPI, f, env.Getenv("KEYGATE_REST_API"), "")
		case "stage":
			fs.StringVar(&opt.stage, f, "Prod", "")
		case "plan":
			fs.StringVar(&opt.plan, f, "", "")
		case "json":
			fs.BoolVar(&opt.json, f, false, "")
		case "store-key":
			fs.BoolVar(&opt.storeKey, f, false, "")
		case "convert":
			fs.BoolVar(&opt.convert, f, false, "")
		case "expires":
			fs.StringVar(&opt.expires, f, "", "")
		case "ttl":
			fs.StringVar(&opt.ttl, f, "", "")
		case "grace":
			fs.DurationVar(&opt.grace, f, opt.grace, "")
		case "since":
			fs.DurationVar(&opt.since, f, DefaultSince, "")
		case "wait":
			fs.DurationVar(&opt.wait, f, DefaultWait, "")
		case "allow":
			fs.Var(&opt.rules.allow, f, "")
		case "source":
			fs.Var(&opt.rules.sources, f, "")
		case "meta":
			fs.Var(&opt.rules.meta, f, "")
		case "allow-any":
			fs.BoolVar(&opt.rules.allowAny, f, false, "")
		case "allow-none":
			fs.BoolVar(&opt.rules.allowNone, f, false, "")
		case "source-any":
			fs.BoolVar(&opt.rules.sourceAny, f, false, "")
		case "source-none":
			fs.BoolVar(&opt.rules.sourceNone, f, false, "")
		case "meta-clear":
			fs.BoolVar(&opt.rules.metaClear, f, false, "")
		}
	}
	// Flags may come before or after NAME.
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return opt, err
			}
			return opt, usagef("keys %s: %v", sub, err)
		}
		if fs.NArg() == 0 {
			break
		}
		opt.positional = append(opt.positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	opt.set = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { opt.set[f.Name] = true })
	noFunction := strings.TrimSpace(opt.function) == ""

	switch {
	case len(opt.positional) < want.names:
		return opt, usagef("keys %s needs a client NAME", sub)
	case len(opt.positional) > want.names:
		return opt, usagef("keys %s: unexpected argument %q", sub, opt.positional[want.names])
	case strings.TrimSpace(opt.secretID) == "":
		return opt, usagef("no secret: pass --secret-id NAME_OR_ARN or set API_KEY_SECRET_ID")
	case sub == "usage" && noFunction:
		return opt, usagef("keys usage reads the function's logs: pass --function NAME_OR_ARN (the stack's FunctionName output) or set KEYGATE_FUNCTION")
	case sub == "list" && noFunction && (opt.set["since"] || opt.set["wait"]):
		return opt, usagef("--since and --wait go with --function: list reads when each key was last seen from the function's logs only when it is given one (or KEYGATE_FUNCTION)")
	case wantsFlag(sub, "since") && opt.since <= 0:
		return opt, usagef("--since must be a positive duration such as 24h, or 720h for 30 days")
	case wantsFlag(sub, "wait") && opt.wait <= 0:
		return opt, usagef("--wait must be a positive duration such as 1m")
	case opt.now && noFunction:
		return opt, usagef("--now needs the Lambda function whose environments to replace: pass --function NAME_OR_ARN (the stack's FunctionName output) or set KEYGATE_FUNCTION. A local server (make run) cannot be reached this way: restart it, or wait for its next refresh (KEY_REFRESH)")
	case sub == "revoke" && opt.set["rest-api"] && !opt.now:
		return opt, usagef("--rest-api goes with --now: the flush is part of revoking at once")
	case sub != "revoke" && (opt.set["rest-api"] || opt.set["stage"]) && !opt.set["plan"]:
		return opt, usagef("--rest-api and --stage go with --plan: they name the REST API whose usage plans it picks from")
	case sub == "add" && opt.plan == NoPlan:
		return opt, usagef("keys add --plan takes a plan name: leave --plan out for none")
	case opt.set["plan"] && opt.plan != NoPlan && !apikey.ValidPlanName(opt.plan):
		return opt, usagef("--plan takes the name of a usage plan, the value of its %s tag (basic or gold in the stack): a-z, 0-9, _ and -", PlanTag)
	case opt.set["plan"] && strings.TrimSpace(opt.restAPI) == "":
		return opt, usagef("--plan needs the REST API whose usage plans it names: pass --rest-api ID (the stack's GuardedRestApiId output) or set KEYGATE_REST_API")
	case opt.grace < 0:
		return opt, usagef("--grace must not be negative")
	case opt.expires != "" && opt.ttl != "":
		return opt, usagef("give --expires or --ttl, not both")
	}
	now := clock(env)()
	if opt.expires != "" {
		t, err := time.Parse(time.RFC3339, opt.expires)
		if err != nil {
			return opt, usagef("--expires %q is not an RFC 3339 time such as 2026-12-31T23:59:59Z", opt.expires)
		}
		opt.expiresAt = &t
	}
	if opt.ttl != "" {
		d, err := time.ParseDuration(opt.ttl)
		if err != nil || d <= 0 {
			return opt, usagef("--ttl %q is not a positive duration such as 720h", opt.ttl)
		}
		t := now.Add(d).UTC().Truncate(time.Second)
		opt.expiresAt = &t
	}
	if opt.expiresAt != nil && !now.Before(*opt.expiresAt) {
		return opt, usagef("the expiry %s is not in the future", stamp(*opt.expiresAt))
	}
	if len(opt.positional) > 0 {
		if err := checkName(opt.positional[0]); err != nil {
			return opt, usageError{err.Error()}
		}
	}
	if wantsFlag(sub, "allow") {
		var err error
		if opt.ruleChange, err = opt.rules.change(sub, opt.positional[0]); err != nil {
			return opt, err
		}
		if sub == "set" && opt.ruleChange.Empty() && !opt.set["plan"] {
			return opt, usagef("keys set needs a change: --allow PATTERN, --allow-any, --allow-none, --source CIDR, --source-any, --source-none, --meta NAME=VALUE, --meta NAME=, --meta-clear or --plan PLAN")
		}
	}
	return opt, nil
}

func wantsFlag(sub, flag string) bool { return slices.Contains(wants[sub].flags, flag) }

func clock(env Env) func() time.Time {
	if env.Now != nil {
		return env.Now
	}
	return time.Now
}

func newAdmin(ctx context.Context, opt options, env Env) (*Admin, error) {
	client, region, err := env.NewClient(ctx, opt.region)
	if errors.Is(err, smclient.ErrNoRegion) {
		return nil, fmt.Errorf("%w, or pass --region", err)
	}
	if err != nil {
		return nil, err
	}
	a := &Admin{
		Client:   client,
		SecretID: strings.TrimSpace(opt.secretID),
		Region:   region,
		Force:    opt.force,
		Now:      env.Now,
		Generate: env.Generate,
	}
	// Read only when a change has old keys to carry: no function, and no
	// Lambda call, otherwise.
	fn := strings.TrimSpace(opt.function)
	a.Grace = func(ctx context.Context) (time.Duration, error) {
		if fn == "" {
			return 0, errors.New("no function was given to read it from: pass --function NAME or set KEYGATE_FUNCTION (the stack's FunctionName output)")
		}
		lc, err := env.NewLambda(ctx, a.Region)
		if err != nil {
			return 0, fmt.Errorf("no Lambda client to read the configuration of function %q: %w", fn, err)
		}
		return a.FunctionGrace(ctx, lc, fn)
	}
	return a, nil
}

func runList(ctx context.Context, a *Admin, opt options, env Env) error {
	l, err := a.List(ctx)
	if err != nil {
		return err
	}
	gone := addLastSeen(ctx, a, opt, env, &l)
	if opt.json {
		warnLastSeen(env, l)
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(l)
	}
	fmt.Fprintf(env.Stderr, "secret %s, version %s (%s format)\n", l.SecretID, l.VersionID, l.Format)
	warnLastSeen(env, l)
	var short []string
	for _, e := range l.Entries {
		if e.Short {
			short = append(short, e.Name)
		}
	}
	if len(short) > 0 {
		fmt.Fprintf(env.Stderr, "warning: the keys of %s are shorter than %d characters and may be guessed: replace them with `keygate keys rotate NAME` (a generated key: %d characters, 30 of them random)\n",
			quoteAll(short), apikey.MinKeyLength, apikey.GeneratedLength)
	}
	reportLastSeen(env, l, gone)
	tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
	header := "NAME\tKIND\tCREATED\tEXPIRES\tALLOW\tSOURCES\tMETA"
	plans := slices.ContainsFunc(l.Entries, func(e Listed) bool { return e.Plan != "" })
	if plans {
		header += "\tPLAN"
	}
	if l.Logs != nil {
		header += "\tLAST SEEN"
	}
	fmt.Fprintln(tw, header)
	for _, e := range l.Entries {
		expires := "-"
		if e.Expires != nil {
			expires = stamp(*e.Expires)
			if e.Expired {
				expires += " (expired)"
			}
		}
		created := "-"
		if !e.Created.IsZero() {
			created = stamp(e.Created)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s", e.Name, e.Kind, created, expires,
			countRules(e.Allow, "route", "routes"), countRules(e.Sources, "network", "networks"), metaNames(e.Meta, ","))
		if plans {
			fmt.Fprintf(tw, "\t%s", cmp.Or(e.Plan, "-"))
		}
		if l.Logs != nil {
			fmt.Fprintf(tw, "\t%s", lastSeenCell(l, e))
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// shownOnce closes the message after a new key is printed.
func shownOnce() string {
	return fmt.Sprintf("The key above is shown only this once: store it safely now. The function accepts it at once: an environment that has not loaded it re-reads the secret when the key first arrives, at most once every %[1]s; made-up keys use that turn too, so under a stream of wrong keys allow up to %[1]s.\n",
		short(keycache.DefaultMissInterval))
}

func runAdd(ctx context.Context, a *Admin, opt options, env Env) error {
	name := opt.positional[0]
	ao := AddOptions{StoreKey: opt.storeKey, Expires: opt.expiresAt, Rules: opt.ruleChange, Convert: opt.convert, Plan: opt.plan}
	if opt.plan != "" {
		var err error
		if ao.Plans, err = plans(ctx, a, opt, env); err != nil {
			return err
		}
	}
	key, w, err := a.Add(ctx, name, ao)
	if key != "" {
		fmt.Fprintln(env.Stdout, key)
		kind := "its SHA-256"
		if opt.storeKey {
			kind = "the key"
		}
		fmt.Fprintf(env.Stderr, "added %q to secret %s (stored: %s), version %s (previous %s).\n",
			name, a.SecretID, kind, w.VersionID, w.PreviousVersionID)
		if !opt.ruleChange.Empty() {
			fmt.Fprintf(env.Stderr, "Its rules: allow %s; sources %s; meta %s.\n",
				showRules(w.Rules.Allow), showRules(w.Rules.Sources), metaNames(w.Rules.Meta, ", "))
		}
		if opt.plan != "" {
			fmt.Fprintf(env.Stderr, "Its usage plan: %s, on REST API %s (stage %s), through an API Gateway API key made for it that it never sees.\n", opt.plan, opt.restAPI, opt.stage)
		}
		fmt.Fprint(env.Stderr, shownOnce())
		reportCarried(env, w.Written)
		fmt.Fprintf(env.Stderr, "%s.\n", room(w.Size, w.EntrySize))
	}
	return err
}

func runRevoke(ctx context.Context, a *Admin, opt options, env Env) error {
	r, err := a.Revoke(ctx, opt.positional[0])
	if r.VersionID == "" {
		return err
	}
	when := "after its next refresh (KEY_REFRESH); `keygate keys revoke --now` makes Lambda replace the function's environments at once"
	if opt.now {
		when = "as soon as its environments are replaced (below)"
	}
	fmt.Fprintf(env.Stderr, "revoked %s from secret %s: version %s (previous %s). The function rejects the key %s.\n",
		quoteAll(r.Removed), a.SecretID, r.VersionID, r.PreviousVersionID, when)
	reportCarried(env, r.Written)
	if len(r.UsageKeys) > 0 {
		err = errors.Join(err, deleteUsageKeys(ctx, a, opt, env, r.UsageKeys))
	}
	if err != nil || !opt.now {
		return err
	}
	fn := strings.TrimSpace(opt.function)
	lc, err := env.NewLambda(ctx, a.Region)
	var rs Restarted
	if err == nil {
		rs, err = a.Restart(ctx, lc, fn)
	}
	if err != nil {
		return fmt.Errorf("the secret no longer holds the key, but function %q was not restarted, so warm environments accept it until their next refresh (KEY_REFRESH): %w", fn, err)
	}
	fmt.Fprintf(env.Stderr, "function %q: %s set to %s in %s; Lambda replaces every execution environment, so each one's next request is a cold start that reads the secret without the revoked key.\n",
		fn, EpochVar, rs.Epoch, rs.Took.Round(time.Millisecond))
	api := strings.TrimSpace(opt.restAPI)
	if api == "" {
		fmt.Fprintln(env.Stderr, "An API guarded by keygate as its authorizer may still accept the key from its cached decisions until their TTL (AuthorizerCacheTtl) runs out: --rest-api ID flushes a REST API's (HTTP APIs offer no flush).")
		return nil
	}
	fc, err := env.NewAPIGateway(ctx, a.Region)
	if err == nil {
		err = FlushCache(ctx, fc, api, opt.stage)
	}
	if err != nil {
		return fmt.Errorf("the function was restarted, but REST API %s may accept the key from its cached decisions until their TTL runs out: %w", api, err)
	}
	fmt.Fprintf(env.Stderr, "REST API %s, stage %s: the authorizer's cached decisions are flushed; its next request with the key asks the function again.\n", api, opt.stage)
	return nil
}

func runRotate(ctx context.Context, a *Admin, opt options, env Env) error {
	name := opt.positional[0]
	key, r, err := a.Rotate(ctx, name, RotateOptions{Grace: opt.grace, Expires: opt.expiresAt, Convert: opt.convert})
	if key != "" {
		fmt.Fprintln(env.Stdout, key)
		fmt.Fprintf(env.Stderr, "rotated %q in secret %s: version %s (previous %s).\n",
			name, a.SecretID, r.VersionID, r.PreviousVersionID)
		fmt.Fprint(env.Stderr, shownOnce())
		switch {
		case r.Previous != "":
			fmt.Fprintf(env.Stderr, "The old key keeps working as %q until %s.\n", r.Previous, stamp(r.PreviousExpires))
		default:
			fmt.Fprintln(env.Stderr, "The old key stops working at the next refresh.")
		}
		reportCarried(env, r.Written)
	}
	return err
}

func runSet(ctx context.Context, a *Admin, opt options, env Env) error {
	if !opt.ruleChange.Empty() {
		if err := setRules(ctx, a, opt, env); err != nil {
			return err
		}
	}
	if opt.set["plan"] {
		return setPlan(ctx, a, opt, env)
	}
	return nil
}

func setRules(ctx context.Context, a *Admin, opt options, env Env) error {
	name := opt.positional[0]
	r, err := a.SetRules(ctx, name, opt.ruleChange, opt.convert)
	switch {
	case r.VersionID != "":
		fmt.Fprintf(env.Stderr, "set the rules of %s in secret %s: version %s (previous %s).\n",
			quoteAll(r.Entries), a.SecretID, r.VersionID, r.PreviousVersionID)
		reportRules(env, name, r.Before, r.After)
		fmt.Fprintf(env.Stderr, "Keys, kinds and expiries are unchanged. Each environment of the function applies the new rules at its next read of the secret (KEY_REFRESH, %s by default); an API Gateway authorizer's cached decisions (AuthorizerCacheTtl) keep the old ones until they expire.\n",
			short(config.DefaultRefresh))
		reportCarried(env, r.Written)
	case err == nil:
		fmt.Fprintf(env.Stderr, "%q already has these rules, and so do its old keys if it has any: nothing written.\n", name)
	}
	return err
}

// reportCarried tells the operator which old keys a change kept for the
// rest of a rotation's grace period, and which it dropped as expired.
func reportCarried(env Env, w Written) {
	if len(w.Carried.Entries) > 0 {
		fmt.Fprintf(env.Stderr, "A rotation's grace period is running: the old keys of its previous version keep working until %s, as %s.\n",
			stamp(w.Carried.Until), quoteAll(w.Carried.Entries))
	}
	if len(w.Carried.Dropped) > 0 {
		fmt.Fprintf(env.Stderr, "--force: the old keys of %s, which the AWSPREVIOUS version kept working in a rotation's grace period, were not carried over: they stop working at the function's next read of the secret.\n",
			quoteAll(w.Carried.Dropped))
	}
	if len(w.Pruned) > 0 {
		fmt.Fprintf(env.Stderr, "Dropped %s: old keys whose grace had ended.\n", quoteAll(w.Pruned))
	}
}

func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, " and ")
}
