package aws

import (
	"context"
	"fmt"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/schemas"
)

// Identity is whom a target's AWS credentials belong to and where its calls go: what
// `zerodown plan` says before it reads an account, so that nobody describes (or, later,
// releases to) the wrong account with whatever credentials the default chain found.
type Identity struct {
	Account string
	// ARN is the caller: a user, or an assumed role and its session.
	ARN      string
	Region   string
	Endpoint string // "" for AWS's own endpoints
}

func (id Identity) String() string {
	s := fmt.Sprintf("account %s as %s in %s", id.Account, id.ARN, id.Region)
	if id.Endpoint != "" {
		s += " through " + id.Endpoint
	}
	return s
}

// Identity asks STS whom the target's credentials belong to (GetCallerIdentity needs no
// permission, so it works with any valid credentials and reads nothing of the account).
func (p *Provider) Identity(ctx context.Context, target schemas.Target) (Identity, error) {
	s := target.AWS
	if s == nil || s.Region == "" {
		return Identity{}, fmt.Errorf("%w: target.aws.region is required", fleet.ErrInvalidConfig)
	}
	c, err := p.clientsFor(s.Region, s.Endpoint)
	if err != nil {
		return Identity{}, err
	}
	res, err := c.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return Identity{}, fmt.Errorf("sts:GetCallerIdentity: %w", err)
	}
	return Identity{Account: sdkaws.ToString(res.Account), ARN: sdkaws.ToString(res.Arn), Region: s.Region, Endpoint: s.Endpoint}, nil
}
