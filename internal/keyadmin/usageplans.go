package keyadmin

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	"github.com/aws/aws-sdk-go-v2/service/apigateway/types"

	"github.com/keygate/keygate/internal/apikey"
)

// UsagePlansAPI is the part of the API Gateway API that --plan and
// revoke use for usage plans; the SDK client satisfies it.
type UsagePlansAPI interface {
	GetUsagePlans(ctx context.Context, in *apigateway.GetUsagePlansInput, optFns ...func(*apigateway.Options)) (*apigateway.GetUsagePlansOutput, error)
	CreateApiKey(ctx context.Context, in *apigateway.CreateApiKeyInput, optFns ...func(*apigateway.Options)) (*apigateway.CreateApiKeyOutput, error)
	CreateUsagePlanKey(ctx context.Context, in *apigateway.CreateUsagePlanKeyInput, optFns ...func(*apigateway.Options)) (*apigateway.CreateUsagePlanKeyOutput, error)
	DeleteUsagePlanKey(ctx context.Context, in *apigateway.DeleteUsagePlanKeyInput, optFns ...func(*apigateway.Options)) (*apigateway.DeleteUsagePlanKeyOutput, error)
	DeleteApiKey(ctx context.Context, in *apigateway.DeleteApiKeyInput, optFns ...func(*apigateway.Options)) (*apigateway.DeleteApiKeyOutput, error)
}

// APIGateway is every API Gateway call the tool makes.
type APIGateway interface {
	CacheFlusher
	UsagePlansAPI
}

var _ APIGateway = (*apigateway.Client)(nil)

// PlanTag marks the usage plans clients can be put in, on the guarded REST
// API's stage: its value is the name --plan takes (the template tags its
// plans basic and gold).
const PlanTag = "keygate:plan"

// ErrNoPlan: the REST API has no usage plan of that name.
var ErrNoPlan = errors.New("no such usage plan")

// Plans manages the API Gateway API keys that stand for clients in the
// usage plans of one REST API: API Gateway throttles and counts a client
// by its plan, while the client sends only its keygate key (keygate's
// authorizer hands API Gateway the API key's value as the usage
// identifier; the API's key source is AUTHORIZER). The client never sees
// that value.
type Plans struct {
	API            UsagePlansAPI
	RestAPI, Stage string
}

// find returns the ID of the plan tagged name on the REST API's stage.
func (p Plans) find(ctx context.Context, name string) (string, error) {
	var names []string
	pages := apigateway.NewGetUsagePlansPaginator(p.API, &apigateway.GetUsagePlansInput{})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return "", fmt.Errorf("listing the usage plans (needs apigateway:GET on /usageplans): %w", err)
		}
		for _, up := range page.Items {
			if !slices.ContainsFunc(up.ApiStages, func(s types.ApiStage) bool {
				return aws.ToString(s.ApiId) == p.RestAPI && aws.ToString(s.Stage) == p.Stage
			}) {
				continue
			}
			tag := up.Tags[PlanTag]
			if tag == name {
				return aws.ToString(up.Id), nil
			}
			if tag != "" {
				names = append(names, tag)
			}
		}
	}
	slices.Sort(names)
	have := "it has none"
	if len(names) > 0 {
		have = "its plans: " + strings.Join(names, ", ")
	}
	return "", fmt.Errorf("%w: REST API %s, stage %s, has no usage plan tagged %s=%s (%s): the stack makes basic and gold when its EnableUsagePlans is true, and --rest-api is its GuardedRestApiId output", ErrNoPlan, p.RestAPI, p.Stage, PlanTag, name, have)
}

// NewKey creates the API key that stands for client in plan and puts it in
// the plan. On failure nothing is left behind.
func (p Plans) NewKey(ctx context.Context, client, plan string) (apikey.Usage, error) {
	planID, err := p.find(ctx, plan)
	if err != nil {
		return apikey.Usage{}, err
	}
	value := rand.Text() // 26 base32 characters, 130 bits: API Gateway wants 20 or more
	out, err := p.API.CreateApiKey(ctx, &apigateway.CreateApiKeyInput{
		Name:        aws.String("keygate-" + client),
		Description: aws.String("Stands for keygate client " + client + " in usage plan " + plan + "; the client never sees it. Managed by keygate keys."),
		Enabled:     true,
		Value:       &value,
		// No tags: tagging on create needs permissions of its own, and
		// the name and description say whose key it is.
	})
	if err != nil {
		return apikey.Usage{}, fmt.Errorf("creating the API key for %q (needs apigateway:POST on /apikeys): %w", client, err)
	}
	u := apikey.Usage{Plan: plan, KeyID: aws.ToString(out.Id), Key: value}
	if err := p.join(ctx, u.KeyID, planID); err != nil {
		if derr := p.Delete(ctx, u.KeyID); derr != nil {
			err = errors.Join(err, derr)
		}
		return apikey.Usage{}, err
	}
	return u, nil
}

// Move puts u's API key in plan instead of u's; it returns the usage to
// store. The key is in the new plan before it leaves the old one, so the
// client is never without one.
func (p Plans) Move(ctx context.Context, u apikey.Usage, plan string) (apikey.Usage, error) {
	to, err := p.find(ctx, plan)
	if err != nil {
		return u, err
	}
	from, err := p.find(ctx, u.Plan)
	if err != nil && !errors.Is(err, ErrNoPlan) {
		return u, err
	}
	if err := p.join(ctx, u.KeyID, to); err != nil {
		return u, err
	}
	if from != "" {
		if _, err := p.API.DeleteUsagePlanKey(ctx, &apigateway.DeleteUsagePlanKeyInput{UsagePlanId: &from, KeyId: &u.KeyID}); err != nil {
			return u, fmt.Errorf("the key is in plan %s, but taking it out of plan %s failed (needs apigateway:DELETE on /usageplans/%s/keys/%s): %w", plan, u.Plan, from, u.KeyID, err)
		}
	}
	u.Plan = plan
	return u, nil
}

func (p Plans) join(ctx context.Context, keyID, planID string) error {
	_, err := p.API.CreateUsagePlanKey(ctx, &apigateway.CreateUsagePlanKeyInput{UsagePlanId: &planID, KeyId: &keyID, KeyType: aws.String("API_KEY")})
	var conflict *types.ConflictException
	if errors.As(err, &conflict) {
		return nil // already in it: a change that failed after this step, run again
	}
	if err != nil {
		return fmt.Errorf("putting API key %s in usage plan %s (needs apigateway:POST on /usageplans/%s/keys): %w", keyID, planID, planID, err)
	}
	return nil
}

// Delete removes an API key (and with it its place in any plan).
func (p Plans) Delete(ctx context.Context, keyID string) error {
	if _, err := p.API.DeleteApiKey(ctx, &apigateway.DeleteApiKeyInput{ApiKey: &keyID}); err != nil {
		var nf *types.NotFoundException
		if errors.As(err, &nf) {
			return nil
		}
		return fmt.Errorf("deleting API key %s (needs apigateway:DELETE on /apikeys/%s; delete it with aws apigateway delete-api-key --api-key %s): %w", keyID, keyID, keyID, err)
	}
	return nil
}
