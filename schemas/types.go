// Package schemas holds the release spec: its Go types, the embedded JSON Schema that
// validates it, and Load, which turns a YAML file into a validated Spec with defaults.
package schemas

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/zerodown/zerodown/timerules"
)

// Spec is one service in one environment: everything a release of it needs to know.
// It travels inside workflow inputs, so it must stay JSON-serialisable and
// backwards-compatible: add fields, never rename them.
type Spec struct {
	Service     string   `json:"service"`
	Environment string   `json:"environment"`
	Target      Target   `json:"target"`
	Bake        Bake     `json:"bake"`
	Canary      Canary   `json:"canary"`
	Promote     Promote  `json:"promote"`
	Drain       Drain    `json:"drain"`
	Rollback    Rollback `json:"rollback"`
	Hooks       Hooks    `json:"hooks"`
	Notify      Notify   `json:"notify"`
	// Window, Deadline and GoNoGo are the release's clock rules (time_rules.go,
	// docs/time.md); without them it runs whenever it is started.
	Window   []timerules.Window  `json:"window,omitempty"`
	Deadline *timerules.Deadline `json:"deadline,omitempty"`
	GoNoGo   *GoNoGo             `json:"goNoGo,omitempty"`
	// Deploy puts a version on one fixed server where it stands (target.haproxy.servers):
	// the in-place mode. Nil for fleets whose instances are launched.
	Deploy *Deploy `json:"deploy,omitempty"`
}

// Providers a target may name.
const (
	ProviderLocal  = "local"
	ProviderAWS    = "aws"
	ProviderMemory = "memory" // in-process fleet for tests and benchmarks

	// ProviderHAProxy drives a real HAProxy's Runtime API (fleet/haproxy).
	ProviderHAProxy = "haproxy"
)

// Target says where the fleet runs and how big it must be after the release.
type Target struct {
	Provider  string `json:"provider"`
	Instances int    `json:"instances"`
	// HealthTimeout bounds how long new instances may take to become healthy.
	HealthTimeout Duration   `json:"healthTimeout,omitempty"`
	Local         *LocalSpec `json:"local,omitempty"`
	// Memory names one of a worker's in-memory fleets (tests and benchmarks).
	Memory  *MemorySpec  `json:"memory,omitempty"`
	AWS     *AWSSpec     `json:"aws,omitempty"`
	HAProxy *HAProxySpec `json:"haproxy,omitempty"`
}

// HAProxySpec configures the haproxy provider: the servers of one backend of a real
// HAProxy, driven through its Runtime API. With Servers, the fleet is those fixed
// servers; without, instances are launched through the local cloud (Target.Local) and
// added to the backend as dynamic servers.
type HAProxySpec struct {
	// RuntimeAPI is a stats socket's path, or host:port of one bound to TCP.
	RuntimeAPI string          `json:"runtimeAPI"`
	Backend    string          `json:"backend"`
	Servers    []HAProxyServer `json:"servers,omitempty"`
	// VersionPath, answered by each fixed server, tells the version it runs: in
	// VersionHeader if set, else the first line of the body.
	VersionPath   string `json:"versionPath,omitempty"`
	VersionHeader string `json:"versionHeader,omitempty"`
	// VersionFile records the version deployed on each fixed server, for servers that
	// cannot tell.
	VersionFile string `json:"versionFile,omitempty"`
	// CheckInterval is the health check interval of dynamic servers.
	CheckInterval Duration `json:"checkInterval,omitempty"`
}

// HAProxyServer is one fixed server of an HAProxy backend.
type HAProxyServer struct {
	Name string `json:"name"`
	// Address is host:port where it answers directly; default HAProxy's address for it.
	Address string            `json:"address,omitempty"`
	Vars    map[string]string `json:"vars,omitempty"`
}

// LocalSpec configures the local cloud provider.
type LocalSpec struct {
	// Endpoint is the local cloud daemon's API, e.g. http://127.0.0.1:7070.
	Endpoint string `json:"endpoint,omitempty"`
	// Command starts one instance; {{.Version}} and {{.Port}} are substituted.
	Command    []string          `json:"command"`
	Env        map[string]string `json:"env,omitempty"`
	HealthPath string            `json:"healthPath,omitempty"`
}

// MemorySpec configures the in-memory provider.
type MemorySpec struct {
	Fleet string `json:"fleet,omitempty"`
}

// AWSSpec configures the AWS provider.
type AWSSpec struct {
	Region         string `json:"region"`
	LaunchTemplate string `json:"launchTemplate"`
	// LaunchTemplateVersion is a version number, $Default or $Latest.
	LaunchTemplateVersion string   `json:"launchTemplateVersion,omitempty"`
	TargetGroups          []string `json:"targetGroups,omitempty"`
	Subnets               []string `json:"subnets,omitempty"`
	AutoScalingGroup      string   `json:"autoScalingGroup,omitempty"`
	// ListenerRuleArn and CanaryTargetGroup, set together, let the release give the
	// canary a share of traffic through a weighted forward to two target groups.
	ListenerRuleArn   string `json:"listenerRuleArn,omitempty"`
	CanaryTargetGroup string `json:"canaryTargetGroup,omitempty"`
	// Stickiness, when set, keeps a client on the target group (so the version) it first
	// reached for this long while the canary takes a share: the weighted forward's
	// target group stickiness. Needs ListenerRuleArn.
	Stickiness Duration `json:"stickiness,omitempty"`
	// Port is where instances answer directly (hooks, session migration).
	Port int `json:"port,omitempty"`
	// Service and Environment are the tag values that mark the fleet's instances. The
	// fleet sees only the target, not the whole spec, so Defaults copies them from it.
	Service     string `json:"service,omitempty"`
	Environment string `json:"environment,omitempty"`
	Endpoint    string `json:"endpoint,omitempty"`
}

// Bake methods.
const (
	BakeNone     = "none"
	BakeEC2Image = "ec2-image"
	BakePacker   = "packer"
)

// Bake says how the release's image is made.
type Bake struct {
	Method    string   `json:"method"`
	BaseImage string   `json:"baseImage,omitempty"`
	UserData  string   `json:"userData,omitempty"`
	Template  string   `json:"template,omitempty"`
	Timeout   Duration `json:"timeout,omitempty"`
}

// Canary is the first few new instances and how long they are watched.
type Canary struct {
	Instances int      `json:"instances,omitempty"`
	Percent   int      `json:"percent,omitempty"`
	Soak      Duration `json:"soak"`
	// Traffic, when set, gives the canary exactly these shares of requests (percent),
	// one step after the other, each soaked and checked, before the promote.
	Traffic []int `json:"traffic,omitempty"`
	// StepSoak is how long each traffic step soaks; default the soak divided evenly
	// across the steps.
	StepSoak Duration `json:"stepSoak,omitempty"`
	Analysis Analysis `json:"analysis"`
	Approval Approval `json:"approval"`
}

// Analysis providers.
const (
	AnalysisHealth     = "health" // instance health only
	AnalysisScrape     = "scrape"
	AnalysisPrometheus = "prometheus"
	AnalysisSentry     = "sentry"
)

// What a sentry metric measures (its query), per side and over the check's window.
const (
	// SentryNewIssues counts the issues whose first release is the side's version and
	// that were seen within the window.
	SentryNewIssues = "newIssues"
	// SentryErrorEvents counts the side's error events within the window.
	SentryErrorEvents = "errorEvents"
	// SentryErrorsPerRequest is the side's error events divided by its transactions
	// (one per request when tracing samples every request).
	SentryErrorsPerRequest = "errorsPerRequest"
)

// SentryQueries are the queries a sentry metric may have, in the order docs list them.
var SentryQueries = []string{SentryNewIssues, SentryErrorEvents, SentryErrorsPerRequest}

// SentryTokenEnv is the worker's environment variable holding the Sentry auth token:
// a secret, so never a spec field.
const SentryTokenEnv = "SENTRY_AUTH_TOKEN"

// DefaultSentryURL is Sentry's SaaS.
const DefaultSentryURL = "https://sentry.io"

// Sentry is where the sentry provider asks: one project of one organisation.
type Sentry struct {
	// URL is the base URL of Sentry's web API, without /api/0; DefaultSentryURL if empty.
	URL          string `json:"url,omitempty"`
	Organization string `json:"organization"`
	Project      string `json:"project"`
	// Environment, if set, counts only events of this environment.
	Environment string `json:"environment,omitempty"`
}

// Analysis says how the canary is checked during the soak.
type Analysis struct {
	Interval Duration `json:"interval"`
	// Step is the time between two samples within a check; zero means
	// StepOrDefault's default (a tenth of the interval, between 1s and 1m).
	Step              Duration `json:"step,omitempty"`
	Provider          string   `json:"provider"`
	PrometheusURL     string   `json:"prometheusURL,omitempty"`
	Sentry            *Sentry  `json:"sentry,omitempty"`
	Metrics           []Metric `json:"metrics,omitempty"`
	FailureLimit      int      `json:"failureLimit"`
	InconclusiveLimit int      `json:"inconclusiveLimit,omitempty"`
	// BetweenBatches checks the new version against the old after each promote batch.
	BetweenBatches bool `json:"betweenBatches,omitempty"`
	// PostPromotion keeps checking the new version this long after the last batch.
	PostPromotion Duration `json:"postPromotion,omitempty"`
}

// Metric is one canary-vs-baseline comparison.
type Metric struct {
	Name       string   `json:"name"`
	Query      string   `json:"query,omitempty"`
	Max        *float64 `json:"max,omitempty"`
	Min        *float64 `json:"min,omitempty"`
	VsBaseline float64  `json:"vsBaseline,omitempty"`
	// BaselineFloor is the least value the baseline counts as in vsBaseline and the
	// Mann-Whitney effect size, so a baseline at 0 does not fail a canary's first error.
	BaselineFloor float64      `json:"baselineFloor,omitempty"`
	MannWhitney   *MannWhitney `json:"mannWhitney,omitempty"`
	// MinSamples is the fewest samples a side needs for a verdict other than Inconclusive.
	MinSamples int    `json:"minSamples,omitempty"`
	NoData     string `json:"noData,omitempty"`
}

// Directions of a Mann-Whitney comparison: which change of the canary is bad.
const (
	DirectionIncrease = "increase"
	DirectionDecrease = "decrease"
	DirectionEither   = "either"
)

// MannWhitney asks for a statistical comparison of the canary's samples with the
// baseline's, as Kayenta does.
type MannWhitney struct {
	// Confidence is 1 - the significance level of the test, e.g. 0.95.
	Confidence float64 `json:"confidence"`
	// EffectSize is the tolerated ratio of the canary's mean to the baseline's: a
	// significant difference fails only beyond it (1/EffectSize for a decrease).
	EffectSize float64 `json:"effectSize"`
	Direction  string  `json:"direction"`
}

// No-data policies of a metric.
const (
	NoDataFail         = "fail"
	NoDataInconclusive = "inconclusive"
	NoDataPass         = "pass"
)

// What to do when the approval gate times out.
const (
	OnTimeoutAbort   = "abort"
	OnTimeoutPromote = "promote"
)

// Points of a release where an approval gate can stand.
const (
	// GateAfterSoak is between the end of the canary soak and the first promote batch.
	GateAfterSoak = "afterSoak"
	// GateBeforeLastBatch is before the last rolling batch starts (for bluegreen: before
	// traffic flips to the new fleet, once it is launched and healthy).
	GateBeforeLastBatch = "beforeLastBatch"
)

// GroupPrefix marks an approver entry that names a group of canary.approval.groups.
const GroupPrefix = "group:"

// Approval is the human gate (or gates) of a release; see approval.go for the policy.
//
// Specs of releases already running were stored before Count, FourEyes, Gates and Groups
// existed, so their zero values keep the old meaning: one approval, after the soak.
type Approval struct {
	Required bool `json:"required"`
	// Approvers are people, or groups written group:<name>; anyone may approve when empty.
	Approvers []string `json:"approvers,omitempty"`
	// Groups names sets of people that approvers can refer to as group:<name>.
	Groups map[string][]string `json:"groups,omitempty"`
	// Count is how many distinct people must approve at each gate (0 means 1).
	Count int `json:"count,omitempty"`
	// FourEyes refuses the approval of whoever started the release.
	FourEyes bool `json:"fourEyes,omitempty"`
	// Gates are the points that wait for approval (empty means afterSoak).
	Gates     []string `json:"gates,omitempty"`
	Timeout   Duration `json:"timeout,omitempty"`
	OnTimeout string   `json:"onTimeout,omitempty"`
	// RequireSignature makes approve and promote carry an SSH signature by a key of
	// Signers (see package signing and signers.go).
	RequireSignature bool `json:"requireSignature,omitempty"`
	// Signers are the keys that may sign approvals, with SignersFile's read into them.
	Signers []Signer `json:"signers,omitempty"`
	// SignersFile is an allowed_signers file that Load reads into Signers and then clears,
	// so that a running release never reads files.
	SignersFile string `json:"signersFile,omitempty"`
	// Remind tells people a gate opens soon and escalates when nobody answers it.
	Remind *Remind `json:"remind,omitempty"`
}

// Signer is a public key that may sign approvals for Name; a Bridge key (the Slack
// bridge's) may sign for any approver, on behalf of people it verified itself.
type Signer struct {
	Name   string `json:"name"`
	Key    string `json:"key"` // authorized_keys form: "ssh-ed25519 AAAA… comment"
	Bridge bool   `json:"bridge,omitempty"`
}

// Promote strategies.
const (
	StrategyRolling   = "rolling"
	StrategyBlueGreen = "bluegreen"
)

// Promote says how the rest of the fleet moves to the new version.
type Promote struct {
	Strategy       string `json:"strategy"`
	Batch          string `json:"batch,omitempty"` // a count ("2") or a percent ("25%")
	MaxUnavailable int    `json:"maxUnavailable"`
	// MinHealthy, in place, is the fewest servers that must stay healthy and in service
	// while others are upgraded; 0 asks only that one does.
	MinHealthy          int      `json:"minHealthy,omitempty"`
	PauseBetweenBatches Duration `json:"pauseBetweenBatches,omitempty"`
	// KeepOld is how long bluegreen keeps the old fleet attached-ready for instant rollback.
	KeepOld Duration `json:"keepOld,omitempty"`
}

// Drain says how old instances leave the load balancer.
type Drain struct {
	DeregistrationDelay Duration          `json:"deregistrationDelay,omitempty"`
	SessionMigration    *SessionMigration `json:"sessionMigration,omitempty"`
	Timeout             Duration          `json:"timeout"`
}

// SessionMigration asks a detached instance to move its clients elsewhere.
type SessionMigration struct {
	Path string `json:"path"`
}

// Rollback says whether failures roll back by themselves.
type Rollback struct {
	Automatic bool `json:"automatic"`
}

// Hooks run at fixed points of the release; a failing hook rolls back.
type Hooks struct {
	PreTraffic  []Hook `json:"preTraffic,omitempty"`
	PostPromote []Hook `json:"postPromote,omitempty"`
}

// Hook is an HTTP check against each new instance, or a command.
type Hook struct {
	Name    string       `json:"name,omitempty"`
	HTTP    *HTTPHook    `json:"http,omitempty"`
	Command *CommandHook `json:"command,omitempty"`
	Timeout Duration     `json:"timeout,omitempty"`
}

// Label names a hook in messages: its name, else what it does.
func (h Hook) Label() string {
	switch {
	case h.Name != "":
		return h.Name
	case h.HTTP != nil:
		return "GET " + h.HTTP.Path
	case h.Command != nil && len(h.Command.Args) > 0:
		return strings.Join(h.Command.Args, " ")
	}
	return "(empty)"
}

// HTTPHook is a GET against each new instance that must answer Expect.
type HTTPHook struct {
	Path   string `json:"path"`
	Expect int    `json:"expect"`
}

// CommandHook runs a program; exit status 0 passes. The program does not inherit the
// worker's environment: it gets PATH, HOME, LANG, the release's ZERODOWN_* variables,
// PassEnv and Env (see activities.HookEnv).
type CommandHook struct {
	Args []string `json:"args"`
	// PassEnv names variables of the worker's environment handed to the program as they
	// are (a credential the hook needs); their values never enter the spec or the history.
	PassEnv []string `json:"passEnv,omitempty"`
	// Env sets variables to fixed values. They are part of the spec, hence of the release's
	// history: never a secret (pass those with PassEnv).
	Env map[string]string `json:"env,omitempty"`
}

// Notify says where release events go.
type Notify struct {
	Slack *SlackNotify `json:"slack,omitempty"`
}

// SlackNotify is the Slack channel for a release thread.
type SlackNotify struct {
	Channel string `json:"channel"`
}

// ID is the workflow ID of a release of this spec: one at a time per service and environment.
func (s *Spec) ID() string { return ReleaseID(s.Service, s.Environment) }

// ReleaseID is the workflow ID for a service and environment.
func ReleaseID(service, environment string) string {
	return "release/" + service + "/" + environment
}

// Duration is a time.Duration written as a Go duration string ("4h", "30s") in YAML and JSON.
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("%s is not a duration (use e.g. 30s, 5m or 4h)", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration (use e.g. 30s, 5m or 4h)", s)
	}
	*d = Duration(v)
	return nil
}

// CanaryCount is the number of canary instances: a count, or a percent of the fleet
// rounded up, at least one and at most the fleet.
func (s *Spec) CanaryCount() int {
	desired := s.Target.Instances
	n := s.Canary.Instances
	if n == 0 && s.Canary.Percent > 0 {
		n = CeilPercent(max(0, desired), min(s.Canary.Percent, 100))
	}
	return max(1, min(n, desired))
}

// StepOrDefault is the time between two samples of a check: Step when set, else a
// tenth of the interval kept between 1s (finer is noise for per-second rates) and 1m
// (coarser leaves too few samples for a verdict), and never longer than the interval.
func (a Analysis) StepOrDefault() time.Duration {
	if a.Step > 0 {
		return a.Step.D()
	}
	interval := a.IntervalOrDefault()
	step := min(max(interval/10, time.Second), time.Minute)
	return min(step, interval)
}
