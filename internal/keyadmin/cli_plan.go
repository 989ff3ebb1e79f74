package keyadmin

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/keygate/keygate/internal/config"
)

// plans is the usage plans of the REST API --rest-api names.
func plans(ctx context.Context, a *Admin, opt options, env Env) (Plans, error) {
	gw, err := env.NewAPIGateway(ctx, a.Region)
	if err != nil {
		return Plans{}, fmt.Errorf("no API Gateway client for the usage plans: %w", err)
	}
	return Plans{API: gw, RestAPI: strings.TrimSpace(opt.restAPI), Stage: opt.stage}, nil
}

// deleteUsageKeys deletes the API keys that stood for a revoked client in
// usage plans: API Gateway then refuses them whatever the function says.
func deleteUsageKeys(ctx context.Context, a *Admin, opt options, env Env, ids []string) error {
	gw, err := env.NewAPIGateway(ctx, a.Region)
	if err != nil {
		return fmt.Errorf("the secret no longer holds the key, but its API Gateway API keys %v (usage plans) are left: no API Gateway client: %w", ids, err)
	}
	p := Plans{API: gw}
	var errs []error
	for _, id := range ids {
		if err := p.Delete(ctx, id); err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(env.Stderr, "Deleted API key %s, which stood for the client in its usage plan: API Gateway refuses it from now on.\n", id)
	}
	if len(errs) > 0 {
		return fmt.Errorf("the secret no longer holds the key, but: %w", errors.Join(errs...))
	}
	return nil
}

func setPlan(ctx context.Context, a *Admin, opt options, env Env) error {
	name := opt.positional[0]
	p, err := plans(ctx, a, opt, env)
	if err != nil {
		return err
	}
	r, err := a.SetPlan(ctx, name, opt.plan, p, opt.convert)
	switch {
	case r.VersionID != "":
		fmt.Fprintf(env.Stderr, "set the usage plan of %s in secret %s: %s, was %s; version %s (previous %s).\n",
			quoteAll(r.Entries), a.SecretID, planName(r.After), planName(r.Before), r.VersionID, r.PreviousVersionID)
		if r.Before != "" && r.After != "" {
			fmt.Fprintln(env.Stderr, "API Gateway applies the new plan to its next request.")
		} else {
			fmt.Fprintf(env.Stderr, "The function hands API Gateway the change at its next read of the secret (KEY_REFRESH, %s by default), an authorizer's cached decisions after their TTL (AuthorizerCacheTtl); where the REST API requires a usage plan (EnableUsagePlans), a client in none is refused there.\n",
				short(config.DefaultRefresh))
		}
		reportCarried(env, r.Written)
	case err == nil && r.After == "":
		fmt.Fprintf(env.Stderr, "%q is in no usage plan already: nothing written.\n", name)
	case err == nil:
		fmt.Fprintf(env.Stderr, "%q is already in usage plan %s: nothing written.\n", name, r.After)
	}
	return err
}

func planName(p string) string {
	if p == "" {
		return NoPlan
	}
	return p
}
