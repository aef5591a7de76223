package aws_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	awsfleet "github.com/zerodown/zerodown/fleet/aws"
)

// policyPath is the least-privilege policy operators give zerodown's worker.
var policyPath = filepath.Join("..", "..", "deployments", "aws", "iam-policy.json")

// implicit are actions the policy must allow although the fleet calls no such
// operation: AWS checks them on behalf of one it does call.
var implicit = map[string]string{
	"iam:PassRole": "RunInstances and UpdateAutoScalingGroup pass the launch template's instance role to EC2",
}

// TestMain checks, after every test ran, that every operation the tests made against
// the fake AWS is one the IAM policy allows: what the code really sends, recorded at
// the (fake) server, not what it is believed to send.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		allowed, err := policyActions()
		if err == nil {
			called.Lock()
			for op := range called.ops {
				if !allowed[op] {
					err = fmt.Errorf("the tests called %s, which %s does not allow", op, policyPath)
					break
				}
			}
			called.Unlock()
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "FAIL:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// policyActions reads the Allow statements' actions.
func policyActions() (map[string]bool, error) {
	b, err := os.ReadFile(policyPath)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Version   string
		Statement []struct {
			Sid      string
			Effect   string
			Action   json.RawMessage
			Resource json.RawMessage
		}
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", policyPath, err)
	}
	out := map[string]bool{}
	for _, s := range doc.Statement {
		if s.Effect != "Allow" {
			continue
		}
		var actions []string
		if err := json.Unmarshal(s.Action, &actions); err != nil {
			var one string
			if err := json.Unmarshal(s.Action, &one); err != nil {
				return nil, fmt.Errorf("%s: statement %s: Action is neither a string nor a list", policyPath, s.Sid)
			}
			actions = []string{one}
		}
		for _, a := range actions {
			out[a] = true
		}
	}
	return out, nil
}

// operations lists every AWS operation the fleet can call, as IAM names them: the
// fleet reaches AWS only through these interfaces, so their methods are all of them.
func operations() []string {
	var out []string
	for prefix, api := range map[string]reflect.Type{
		"ec2":                  reflect.TypeFor[awsfleet.EC2API](),
		"elasticloadbalancing": reflect.TypeFor[awsfleet.ELBAPI](),
		"autoscaling":          reflect.TypeFor[awsfleet.AutoScalingAPI](),
	} {
		for i := range api.NumMethod() {
			out = append(out, prefix+":"+api.Method(i).Name)
		}
	}
	slices.Sort(out)
	return out
}

func TestIAMPolicyAllowsEveryOperationTheFleetCalls(t *testing.T) {
	allowed, err := policyActions()
	require.NoError(t, err)
	for _, op := range operations() {
		require.True(t, allowed[op], "%s calls %s but the policy does not allow it", policyPath, op)
	}
}

func TestIAMPolicyAllowsNothingMore(t *testing.T) {
	allowed, err := policyActions()
	require.NoError(t, err)
	ops := operations()
	for a := range allowed {
		require.False(t, strings.Contains(a, "*"), "%s: wildcard action %s is not least privilege", policyPath, a)
		_, why := implicit[a]
		require.True(t, slices.Contains(ops, a) || why, "%s allows %s, which zerodown never calls", policyPath, a)
	}
}

// The policy lets zerodown launch only instances tagged zerodown:service and terminate
// only instances that carry it: every launch must tag it, every termination must find it.
func TestEveryLaunchCarriesTheTagThePolicyRequires(t *testing.T) {
	w, f, old := groupWorld(t)
	launchAttach(t, f, "canary", baseAMI, 1)
	retire(t, f, old)
	_, err := f.Bake(ctxT(t), ec2ImageBake())
	require.NoError(t, err)
	for _, in := range w.cloud.Instances() {
		if in.State == "shutting-down" || in.State == "terminated" {
			require.Equal(t, "board", in.Tags[awsfleet.TagService], "%s was terminated without the tag the policy requires", in.ID)
		}
		if in.Tags["aws:autoscaling:groupName"] == "" {
			require.Equal(t, "board", in.Tags[awsfleet.TagService], "%s was launched without the tag the policy requires", in.ID)
		}
	}
}
