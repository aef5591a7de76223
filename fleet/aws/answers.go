package aws

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/zerodown/zerodown/fleet"
)

// maxIDsPerCall is the most instance IDs one call names. DescribeInstanceStatus takes
// at most 100 (EC2 API reference); DescribeInstances and TerminateInstances take more,
// but one limit for every call is simple and safe: a 150-instance batch is two calls.
const maxIDsPerCall = 100

// maxNamed bounds how many instance IDs an error message lists: a broken endpoint may
// answer thousands.
const maxNamed = 20

// UnexpectedAnswerError refuses an AWS answer that holds instances the call did not ask
// for: AWS answers only what it is asked (these instance IDs, these tags), so such an
// answer comes from a broken endpoint or emulator, and acting on it could touch
// instances that are not the release's (an unfiltered answer once made the Terminate of
// one instance terminate six). Nothing is done with such an answer, and no retry can
// fix the endpoint, so it matches fleet.ErrInvalidConfig.
type UnexpectedAnswerError struct {
	// Operation is the call, as "EC2 DescribeInstances".
	Operation string
	// Why maps each unexpected instance to how it differs from what was asked.
	Why map[string]string
}

func (e *UnexpectedAnswerError) Error() string {
	ids := slices.Sorted(maps.Keys(e.Why))
	parts := make([]string, 0, min(len(ids), maxNamed))
	for _, id := range ids[:min(len(ids), maxNamed)] {
		parts = append(parts, id+" ("+e.Why[id]+")")
	}
	more := ""
	if len(ids) > maxNamed {
		more = fmt.Sprintf(" and %d more", len(ids)-maxNamed)
	}
	return fmt.Sprintf("refusing %s's answer, which holds %d instance(s) that were not asked for: %s%s; nothing was done (is target.aws.endpoint a faithful AWS endpoint?)",
		e.Operation, len(ids), strings.Join(parts, ", "), more)
}

// Is makes the refusal non-retryable wherever fleet.ErrInvalidConfig is.
func (e *UnexpectedAnswerError) Is(target error) bool { return target == fleet.ErrInvalidConfig }

// checkInstances refuses a DescribeInstances answer holding an instance that does not
// meet every filter sent: its ID among those asked, its state and tags as asked.
func checkInstances(filters []ec2types.Filter, insts []ec2types.Instance) error {
	why := map[string]string{}
	for _, in := range insts {
		id := sdkaws.ToString(in.InstanceId)
		for _, f := range filters {
			name := sdkaws.ToString(f.Name)
			var got string
			switch {
			case name == "instance-id":
				got = id
			case name == "instance-state-name":
				if in.State != nil {
					got = string(in.State.Name)
				}
			case strings.HasPrefix(name, "tag:"):
				got = tagOf(in.Tags, strings.TrimPrefix(name, "tag:"))
			default:
				continue // not a filter zerodown sends
			}
			if !slices.Contains(f.Values, got) {
				why[id] = fmt.Sprintf("%s is %q, asked %s", name, got, asked(f.Values))
				break
			}
		}
	}
	if len(why) > 0 {
		return &UnexpectedAnswerError{Operation: "EC2 DescribeInstances", Why: why}
	}
	return nil
}

// checkIDs refuses an answer about instances that are not among those asked.
func checkIDs(operation string, asked, got []string) error {
	want := map[string]bool{}
	for _, id := range asked {
		want[id] = true
	}
	why := map[string]string{}
	for _, id := range got {
		if !want[id] {
			why[id] = "not among the instance IDs asked"
		}
	}
	if len(why) > 0 {
		return &UnexpectedAnswerError{Operation: operation, Why: why}
	}
	return nil
}

// asked names a filter's values briefly: an instance-id filter holds up to 100.
func asked(values []string) string {
	if len(values) > 3 {
		return fmt.Sprintf("one of %d values", len(values))
	}
	return "[" + strings.Join(values, " ") + "]"
}
