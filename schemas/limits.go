package schemas

import "time"

// The limits of a spec. A spec is input from whoever can write to a repository or start a
// release, so every count, list, string and duration ratio has a maximum: far beyond any
// real release, and low enough that validating, planning and running a spec takes bounded
// time and memory. The counts and lengths are also stated in release.schema.json (maximum,
// maxItems, maxLength), so that editors show them; a test keeps the two in step.
// docs/spec.md lists them for people.
const (
	// MaxSpecBytes is the largest spec file Load and Parse read: a real one is a few KiB.
	MaxSpecBytes = 1 << 20
	// MaxDocumentValues bounds the values of a YAML document counted after aliases and
	// merge keys are expanded, so that a few hundred bytes of nested aliases (a "billion
	// laughs") cannot expand to billions of values.
	MaxDocumentValues = 50_000
	// maxFieldNameLength bounds the names of fields and map keys (env, groups).
	maxFieldNameLength = 256

	// MaxInstances bounds target.instances and every count of instances (canary,
	// promote.batch, maxUnavailable), so a plan has at most this many batches.
	MaxInstances = 10_000
	// MaxCheckLimit bounds failureLimit and inconclusiveLimit.
	MaxCheckLimit = 1_000
	// MaxMinSamples bounds a metric's minSamples.
	MaxMinSamples = 100_000
	// MaxChecks bounds the checks of a soak (canary.soak / canary.analysis.interval) and
	// of the post-promotion watch.
	MaxChecks = 100_000
	// MaxSamplesPerCheck bounds canary.analysis.interval / step: Prometheus refuses range
	// queries of more than 11,000 points.
	MaxSamplesPerCheck = 11_000
	// MinInterval is the shortest canary.analysis.interval.
	MinInterval = time.Second
	// MaxALBStickiness is the longest target group stickiness an ALB accepts (604800s).
	MaxALBStickiness = 7 * 24 * time.Hour
	// MaxDuration bounds every duration of a spec (timeouts, soak, keepOld...).
	MaxDuration = 365 * 24 * time.Hour

	// MaxApprovalCount bounds canary.approval.count.
	MaxApprovalCount = 100
	// MaxApprovers bounds canary.approval.approvers.
	MaxApprovers = 100
	// MaxGroups bounds canary.approval.groups, and MaxGroupMembers the people of one.
	MaxGroups       = 20
	MaxGroupMembers = 100
	// MaxMetrics bounds canary.analysis.metrics.
	MaxMetrics = 50
	// MaxHooks bounds each of hooks.preTraffic and hooks.postPromote.
	MaxHooks = 20
	// MaxArgs bounds a command's arguments (target.local.command, a command hook's args)
	// and MaxEnv the variables of target.local.env.
	MaxArgs = 256
	MaxEnv  = 256
	// MaxListItems bounds the other lists (target groups, subnets).
	MaxListItems = 50

	// MaxStringLength bounds names, paths, URLs and other short strings.
	MaxStringLength = 1024
	// MaxArgLength bounds one argument of a command and one environment value.
	MaxArgLength = 4096
	// MaxQueryLength bounds a metric's query.
	MaxQueryLength = 4096
	// MaxUserDataLength is EC2's own limit on user data.
	MaxUserDataLength = 16 << 10
)

// CeilPercent is pct percent of n rounded up, computed without overflow for any n ≥ 0
// and pct in [0, 100].
func CeilPercent(n, pct int) int {
	whole, rest := n/100*pct, n%100*pct
	return whole + (rest+99)/100
}
