package keyadmin

import (
	"strings"

	"github.com/keygate/keygate/internal/config"
	"github.com/keygate/keygate/internal/keycache"
)

// Usage is the text of `keygate help`. Its figures are the function's own
// defaults, not copies of them.
func Usage() string {
	return strings.NewReplacer(
		"{grace}", short(config.DefaultGrace),
		"{refresh}", short(config.DefaultRefresh),
		"{miss}", short(keycache.DefaultMissInterval),
		"{limit}", grouped(MaxSecretSize),
		"{since}", short(DefaultSince),
		"{wait}", short(DefaultWait),
	).Replace(usage)
}

const usage = `keygate manages the API keys in keygate's Secrets Manager secret.

Usage:
  keygate keys list   [--json] [--function FUNCTION [--since DURATION] [--wait DURATION]]
  keygate keys usage  [--function FUNCTION] [--since DURATION] [--wait DURATION] [--json]
  keygate keys add    NAME [--store-key] [--expires TIME | --ttl DURATION]
                      [--allow PATTERN]... [--source CIDR]... [--meta NAME=VALUE]...
                      [--plan PLAN [--rest-api ID] [--stage NAME]]
                      [--convert] [--function FUNCTION]
  keygate keys set    NAME [--allow PATTERN... | --allow-any | --allow-none]
                      [--source CIDR... | --source-any | --source-none]
                      [--meta NAME=VALUE | --meta NAME=]... [--meta-clear]
                      [--plan PLAN|none [--rest-api ID] [--stage NAME]]
                      [--convert] [--function FUNCTION]
  keygate keys revoke NAME [--function FUNCTION [--now [--rest-api ID]]]
  keygate keys rotate NAME [--grace DURATION] [--expires TIME | --ttl DURATION] [--convert] [--function FUNCTION]
  keygate help

Commands:
  list    Show each entry: name, kind (key: the secret holds the key;
          sha256: only its hash), created (the date of the secret version
          that holds it), expires, and its access rules: allow (any, none
          or how many routes), sources (any, none or how many networks),
          meta (its member names). Never a key or a hash. --json gives the
          patterns, networks and meta in full (allow, sources, meta;
          absent when the entry has none). A single-key secret shows one
          entry, "default". Warns about stored keys shorter than 16
          characters (hand-written ones). With FUNCTION (--function or
          $KEYGATE_FUNCTION), also LAST SEEN: the last request with each
          key over --since (default {since}), from the function's logs
          (one Logs Insights query; - for none). If the logs cannot be
          read, the keys are listed all the same, LAST SEEN "?", with a
          warning that says why.
  usage   For each client, the requests over --since (default {since}) by
          outcome (authorized, expired, forbidden) and when it was last
          seen, from FUNCTION's logs (Logs Insights on its log group
          /aws/lambda/FUNCTION), crossed with the secret: an entry with
          no request says "not seen since ..." (a key nobody uses, to
          revoke), a client in the logs but no longer in the secret says
          so (revoked or renamed). Requests that matched no client
          (missing, invalid, ambiguous, unavailable) are totalled. Never
          a key. Logs Insights bills the data it scans: a long --since on
          a busy function costs more.
  add     Generate a key for a new client NAME and print it on stdout, once:
          it cannot be shown again. The secret stores its SHA-256 unless
          --store-key is given. --allow, --source and --meta give the entry
          access rules, checked as the function checks them.
  set     Change the access rules of NAME, keeping its key, kind and
          expiry; its old keys (NAME.previous, NAME.previous.N) get the same
          rules, so an old key is never allowed more than the current one
          (an old key's name is refused).
          --allow replaces the whole list with the patterns given,
          --allow-any removes it (every route), --allow-none allows no
          route; --source, --source-any, --source-none alike for networks.
          --meta NAME=VALUE sets a member, --meta NAME= removes it,
          --meta-clear removes them all (with --meta NAME=VALUE: only those
          remain). A single-key secret holds no rules: it needs --convert,
          as for add. Prints what changed (meta by member names only).
          The function applies new rules at its next read of the secret
          (KEY_REFRESH), an authorizer's cached decisions after their TTL.
          --plan PLAN puts NAME in that usage plan of the guarded REST API,
          or moves it there; --plan none takes it out (see --plan).
  revoke  Remove NAME (and NAME.previous, the old key a rotation kept).
          Refuses to remove the last working key. A client in a usage
          plan: its API Gateway API key is deleted too. With --now, also make
          Lambda replace every warm environment of FUNCTION, so that the
          key is refused within seconds rather than at each environment's
          next refresh (each then pays one cold start).
  rotate  Generate a new key for NAME, print it once, keep the entry's kind,
          expiry and access rules. The old key keeps working, with the same
          rules, as NAME.previous (its SHA-256; NAME.previous.2, ... while an
          older one is still in its grace) for --grace (default {grace}; 0
          ends it at once), never past its own expiry. A single-key secret
          ("default"): --grace 0 replaces the key in place, a grace period
          needs --convert.

Options:
  --secret-id ID    the secret's name or ARN (default $API_KEY_SECRET_ID)
  --region REGION   AWS region (default: the AWS SDK's, e.g. $AWS_REGION)
  --store-key       add: store the key itself, not its SHA-256
  --expires TIME    the key stops working at TIME (RFC 3339, e.g. 2026-12-31T23:59:59Z)
  --ttl DURATION    the key stops working after DURATION (e.g. 720h)
  --grace DURATION  rotate: how long the old key keeps working (default {grace})
  --allow PATTERN   add, set: a route the key may call, "METHOD /path":
                    METHOD in upper case or *, and * in the path matches any
                    run of characters, / included (e.g. 'GET /reports/*').
                    Repeat it for more. An add without it: every route
  --source CIDR     add, set: a network the key may be used from (e.g.
                    203.0.113.0/24, 2001:db8::/32; one address is /32 or
                    /128). Repeat it for more. An add without it: anywhere
  --meta NAME=VALUE add, set: a member of the entry's meta, which the
                    function hands to the backend: at most 10, names
                    [a-z][a-z0-9_]{0,31}, values up to 256 characters. Not a
                    place for secrets. Repeat it for more
  --plan PLAN       add, set: put the client in the usage plan tagged
                    keygate:plan=PLAN (the stack's UsagePlans: basic, gold)
                    on --rest-api's stage: API Gateway then throttles it and
                    counts its requests by that plan. keygate makes an API
                    Gateway API key for the client there and keeps it in its
                    entry; the client never sees it and sends only its
                    keygate key. set --plan none deletes it. Needs
                    apigateway permissions on the plans and API keys (the
                    operator policy has them with UsagePlans)
  --allow-any, --allow-none, --source-any, --source-none, --meta-clear
                    set: see set above
  --convert         allow rewriting a single-key secret (plain or {"api_key"})
                    as {"api_keys": {...}}, its key kept as "default"
  --function NAME   the Lambda function that reads the secret (default
                    $KEYGATE_FUNCTION; the stack's FunctionName output).
                    The first change after a rotation reads its KEY_GRACE
                    from its configuration (see below); revoke --now
                    restarts it; list and usage read its logs. A local
                    server, or a function configured with API_KEY, cannot
                    be reached this way
  --since DURATION  list, usage: how far back to read the function's logs
                    (default {since}; 720h for 30 days). They reach back
                    only as far as the log group keeps them (the stack's
                    LogRetentionDays)
  --wait DURATION   list, usage: how long to wait for Logs Insights
                    (default {wait})
  --force           add, set, revoke, rotate: write even while a rotation is in
                    progress, or when old keys of a rotation's grace period
                    cannot be kept (no room for them, or no --function to
                    read KEY_GRACE from): they stop working at the next
                    refresh
  --now             revoke: restart FUNCTION's environments (needs
                    lambda:GetFunctionConfiguration and
                    lambda:UpdateFunctionConfiguration on it)
  --rest-api ID     the REST API guarded by keygate (default
                    $KEYGATE_REST_API; the stack's GuardedRestApiId output):
                    revoke --now also flushes its cached decisions; --plan
                    picks from its usage plans
  --stage NAME      the REST API's stage (default Prod), for --rest-api
  --json            list, usage: print JSON

Every change writes a new version of the secret, checked as the function
checks it, and refused if it would pass Secrets Manager's limit of {limit}
bytes for a secret value (add says how many more clients fit). The function takes a new key at once: an environment re-reads
the secret when it first sees a key it does not hold, at most once every
{miss}, and made-up keys use that turn too (under a stream of wrong keys, a
new key can be refused for up to {miss}). It drops a removed key at its next
read of the secret: its refresh (KEY_REFRESH, {refresh} by default), or such a
re-read; --now makes that immediate.
Credentials and region come from the AWS SDK's usual sources
(environment, ~/.aws, SSO). Status messages go to stderr; stdout carries
only the new key (add, rotate), the list or the usage table; set prints
nothing there.

Permissions: on the secret, secretsmanager:GetSecretValue to list; also
DescribeSecret, PutSecretValue and UpdateSecretVersionStage to change (and
kms:Decrypt, kms:GenerateDataKey on a customer managed key); on the
function, lambda:GetFunctionConfiguration for the first change after a
rotation; on its log group, logs:StartQuery and logs:GetQueryResults for
usage and list's LAST SEEN; for --plan and the revoke of a client in a
plan, apigateway:GET on /usageplans, POST on /apikeys and the plans'
/keys, DELETE on /apikeys/* and the plans' /keys/*. The stack's
OperatorPolicyArn output grants them all.

A change removes the AWSPREVIOUS label Secrets Manager gives the version it
replaces, so a revoked or rotated-away key does not live on for the
function's KEY_GRACE; the old version stays (unlabelled) for a rollback.
After a rotation the function accepts the keys its AWSPREVIOUS version
holds until its KEY_GRACE after the new version was created. A change in
that time keeps those keys in the new version as NAME.previous (or
NAME.previous.2, …) until that same moment, never later or sooner, and
revoke removes them with NAME; a change after it leaves them out. To tell
which, a change that finds such keys needs the function's own KEY_GRACE:
keygate reads it from the configuration of --function (unset there: the
function's default, {grace}); KEY_GRACE in your shell is not read. Without
--function such a change is refused, and --force makes it cut those keys
off instead. A change that finds none (no rotation since the last keygate
change, or only the revoked client's old keys) needs no function and makes
no Lambda call. Old keys (NAME.previous, NAME.previous.N) whose grace has
ended are dropped by the next change.
Flags go after the subcommand: keygate keys add NAME --store-key.

Exit status: 0 done, 1 the operation failed, 2 usage error.
`
