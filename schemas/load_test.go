package schemas_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/schemas"
)

func TestLoadFullSpec(t *testing.T) {
	s, err := schemas.Load(filepath.Join("testdata", "full.yaml"))
	require.NoError(t, err)

	require.Equal(t, "board", s.Service)
	require.Equal(t, "prod", s.Environment)
	require.Equal(t, "release/board/prod", s.ID())

	require.Equal(t, schemas.ProviderLocal, s.Target.Provider)
	require.Equal(t, 6, s.Target.Instances)
	require.NotNil(t, s.Target.Local)
	require.Equal(t, []string{"bin/demoapp", "--version", "{{.Version}}", "--port", "{{.Port}}"}, s.Target.Local.Command)
	require.Equal(t, map[string]string{"BOARD_STORE": "/var/lib/board/store.db"}, s.Target.Local.Env)
	require.Equal(t, "/healthz", s.Target.Local.HealthPath)
	require.Equal(t, "http://127.0.0.1:7070", s.Target.Local.Endpoint)
	require.NotNil(t, s.Target.AWS)
	require.Equal(t, "eu-west-1", s.Target.AWS.Region)
	require.Equal(t, "lt-0abc1234def567890", s.Target.AWS.LaunchTemplate)
	require.Len(t, s.Target.AWS.TargetGroups, 1)
	require.Equal(t, []string{"subnet-0aaa1111", "subnet-0bbb2222"}, s.Target.AWS.Subnets)

	require.Equal(t, schemas.BakeNone, s.Bake.Method)

	require.Equal(t, 1, s.Canary.Instances)
	require.Zero(t, s.Canary.Percent)
	require.Equal(t, 4*time.Hour, s.Canary.Soak.D())
	a := s.Canary.Analysis
	require.Equal(t, time.Minute, a.Interval.D())
	require.Equal(t, schemas.AnalysisPrometheus, a.Provider)
	require.Equal(t, "http://127.0.0.1:9090", a.PrometheusURL)
	require.Equal(t, 2, a.FailureLimit)
	require.Len(t, a.Metrics, 2)
	require.Equal(t, "error-rate", a.Metrics[0].Name)
	require.Contains(t, a.Metrics[0].Query, `version="{{.Version}}"`)
	require.NotNil(t, a.Metrics[0].Max)
	require.InDelta(t, 0.01, *a.Metrics[0].Max, 1e-12)
	require.Nil(t, a.Metrics[0].Min)
	require.InDelta(t, 1.5, a.Metrics[0].VsBaseline, 1e-12)
	require.Equal(t, "inconclusive", a.Metrics[0].NoData, "default filled per metric")
	require.Equal(t, "fail", a.Metrics[1].NoData)
	require.Equal(t, 3, a.Metrics[0].MinSamples, "default filled per metric")
	require.Nil(t, a.Metrics[0].MannWhitney)
	require.Equal(t, 10, a.Metrics[1].MinSamples)
	require.Equal(t, &schemas.MannWhitney{Confidence: 0.99, EffectSize: 1.1, Direction: schemas.DirectionIncrease}, a.Metrics[1].MannWhitney,
		"unset mannWhitney fields get their defaults")
	require.Zero(t, a.Step, "step stays as written; StepOrDefault derives its default")

	ap := s.Canary.Approval
	require.True(t, ap.Required)
	require.Equal(t, []string{"alice", "bob"}, ap.Approvers)
	require.Equal(t, 24*time.Hour, ap.Timeout.D())
	require.Equal(t, schemas.OnTimeoutAbort, ap.OnTimeout)

	require.Equal(t, schemas.Promote{
		Strategy:            schemas.StrategyRolling,
		Batch:               "25%",
		MaxUnavailable:      0,
		PauseBetweenBatches: schemas.Duration(30 * time.Second),
	}, s.Promote)

	require.Equal(t, 30*time.Second, s.Drain.DeregistrationDelay.D())
	require.Equal(t, &schemas.SessionMigration{Path: "/admin/migrate"}, s.Drain.SessionMigration)
	require.Equal(t, 5*time.Minute, s.Drain.Timeout.D())

	require.True(t, s.Rollback.Automatic)

	require.Equal(t, []schemas.Hook{{
		Name:    "smoke",
		HTTP:    &schemas.HTTPHook{Path: "/smoke", Expect: 200},
		Timeout: schemas.Duration(30 * time.Second),
	}}, s.Hooks.PreTraffic)
	require.Equal(t, []schemas.Hook{{
		Command: &schemas.CommandHook{Args: []string{"scripts/announce.sh", "board"}},
		Timeout: schemas.Duration(time.Minute),
	}}, s.Hooks.PostPromote)

	require.Equal(t, &schemas.SlackNotify{Channel: "#releases"}, s.Notify.Slack)

	// A loaded spec is valid as a Go value too: Validate and Parse agree.
	require.NoError(t, schemas.Validate(s))
}

func TestMinimalSpecGetsDefaults(t *testing.T) {
	s, err := schemas.Load(filepath.Join("testdata", "minimal.yaml"))
	require.NoError(t, err)

	require.Empty(t, s.Target.Local.Endpoint, "the worker's endpoint applies")
	require.Equal(t, "/healthz", s.Target.Local.HealthPath)
	require.Equal(t, schemas.Bake{Method: schemas.BakeNone, Timeout: schemas.Duration(30 * time.Minute)}, s.Bake)
	require.Equal(t, 1, s.Canary.Instances)
	require.Equal(t, 10*time.Minute, s.Canary.Soak.D())
	require.Equal(t, time.Minute, s.Canary.Analysis.Interval.D())
	require.Equal(t, schemas.AnalysisHealth, s.Canary.Analysis.Provider)
	require.Equal(t, 2, s.Canary.Analysis.FailureLimit)
	require.Zero(t, s.Canary.Analysis.InconclusiveLimit)
	require.False(t, s.Canary.Approval.Required)
	require.Equal(t, 24*time.Hour, s.Canary.Approval.Timeout.D())
	require.Equal(t, schemas.OnTimeoutAbort, s.Canary.Approval.OnTimeout)
	require.Equal(t, schemas.Promote{Strategy: schemas.StrategyRolling, Batch: "25%"}, s.Promote)
	require.Equal(t, schemas.Drain{Timeout: schemas.Duration(5 * time.Minute)}, s.Drain)
	require.True(t, s.Rollback.Automatic, "rollback is automatic unless the spec says otherwise")
	require.Empty(t, s.Hooks.PreTraffic)
	require.Nil(t, s.Notify.Slack)
	require.NoError(t, schemas.Validate(s))
}

func TestExplicitValuesWinOverDefaults(t *testing.T) {
	s, err := schemas.Parse([]byte(`
service: board
environment: dev
target: {provider: memory, instances: 10}
canary: {percent: 20, soak: 1h, analysis: {interval: 30s, failureLimit: 1}}
promote: {strategy: bluegreen, batch: 2, keepOld: 15m}
rollback: {automatic: false}
hooks:
  preTraffic: [{http: {path: /ready}}]
`))
	require.NoError(t, err)
	require.Zero(t, s.Canary.Instances, "percent set: no default count")
	require.Equal(t, 20, s.Canary.Percent)
	require.Equal(t, 1, s.Canary.Analysis.FailureLimit)
	require.Equal(t, "2", s.Promote.Batch, "a YAML integer batch is the count as a string")
	require.Equal(t, schemas.StrategyBlueGreen, s.Promote.Strategy)
	require.Equal(t, 15*time.Minute, s.Promote.KeepOld.D())
	require.False(t, s.Rollback.Automatic, "an explicit false is kept")
	require.Equal(t, 200, s.Hooks.PreTraffic[0].HTTP.Expect)
	require.Equal(t, 30*time.Second, s.Hooks.PreTraffic[0].Timeout.D())
}

func TestJSONSpecAndYAMLMergeKeys(t *testing.T) {
	s, err := schemas.Parse([]byte(`{"service":"board","environment":"qa","target":{"provider":"memory","instances":2}}`))
	require.NoError(t, err)
	require.Equal(t, "qa", s.Environment)

	s, err = schemas.Parse([]byte(`
service: board
environment: qa
target: {provider: memory, instances: 2}
hooks:
  preTraffic:
    - &smoke {http: {path: /smoke}, timeout: 10s}
  postPromote:
    - <<: *smoke
      timeout: 20s
`))
	require.NoError(t, err)
	require.Equal(t, "/smoke", s.Hooks.PostPromote[0].HTTP.Path)
	require.Equal(t, 20*time.Second, s.Hooks.PostPromote[0].Timeout.D(), "a written field wins over a merged one")
}

func TestValidateSpecBuiltInCode(t *testing.T) {
	s := &schemas.Spec{
		Service:     "board",
		Environment: "test",
		Target:      schemas.Target{Provider: schemas.ProviderMemory, Instances: 3},
		Rollback:    schemas.Rollback{Automatic: true},
	}
	schemas.Defaults(s)
	require.NoError(t, schemas.Validate(s))
	require.Equal(t, 1, s.Canary.Instances)
	require.Equal(t, "25%", s.Promote.Batch)

	s.Canary.Soak = schemas.Duration(10 * time.Second)
	s.Promote.Strategy = "canary"
	err := schemas.Validate(s)
	var verr *schemas.ValidationError
	require.ErrorAs(t, err, &verr)
	require.Equal(t, []schemas.FieldError{{Path: "promote.strategy", Message: `must be one of rolling, bluegreen, not "canary"`}}, verr.Errors,
		"the schema runs first; rules between fields only once it passes")

	s.Promote.Strategy = schemas.StrategyRolling
	err = schemas.Validate(s)
	require.ErrorAs(t, err, &verr)
	require.Equal(t, []schemas.FieldError{{Path: "canary.soak", Message: "10s is shorter than canary.analysis.interval (1m); the soak must last at least one analysis interval"}}, verr.Errors)

	// Without Defaults, what is missing is named.
	err = schemas.Validate(&schemas.Spec{Service: "board", Environment: "test", Target: schemas.Target{Provider: "memory", Instances: 1}})
	require.ErrorAs(t, err, &verr)
	require.Contains(t, err.Error(), "promote.strategy: must be one of rolling, bluegreen")
	require.Contains(t, err.Error(), "drain.timeout: must be longer than 0s")

	require.Error(t, schemas.Validate(nil))
}

func TestValidationErrorPrintsOneLinePerField(t *testing.T) {
	_, err := schemas.Parse([]byte(`
service: board
environment: prod
target: {provider: memory, instances: 2}
canary:
  soak: 4 hours
  analysis: {interval: 2 min}
`))
	require.EqualError(t, err, "canary.soak: \"4 hours\" is not a duration (use 4h)\ncanary.analysis.interval: \"2 min\" is not a duration (use 2m)")
	var verr *schemas.ValidationError
	require.True(t, errors.As(err, &verr))
	require.Equal(t, 6, verr.Errors[0].Line)
	require.Equal(t, 7, verr.Errors[1].Line)
}

func TestLoadMissingFile(t *testing.T) {
	_, err := schemas.Load(filepath.Join(t.TempDir(), "nope.yaml"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

// base is a valid spec the invalid cases below break one field at a time.
const base = `service: board
environment: prod
target:
  provider: memory
  instances: 4
`

func TestInvalidSpecs(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		path string
		msg  string
		line int // checked when not 0
	}{
		{"bad duration", base + "canary: {soak: 4 hours}\n", "canary.soak", `"4 hours" is not a duration (use 4h)`, 6},
		{"duration in days", base + "canary: {soak: 2d}\n", "canary.soak", `"2d" is not a duration (use 48h)`, 0},
		{"duration with a space", base + "canary: {soak: 1h 30m}\n", "canary.soak", `"1h 30m" is not a duration (use 1h30m)`, 0},
		{"duration without unit", base + "canary: {soak: 30}\n", "canary.soak", `30 is not a duration (use e.g. 30s, 5m or 4h)`, 0},
		{"negative duration", base + "promote: {pauseBetweenBatches: -5s}\n", "promote.pauseBetweenBatches", `"-5s" must not be negative`, 0},
		{"zero timeout", base + "drain: {timeout: 0s}\n", "drain.timeout", "must be longer than 0s", 0},
		{"unknown top-level field", base + "foo: 1\n", "", `unknown field "foo"`, 6},
		{"unknown nested field", base + "canary:\n  soak: 1h\n  soakk: 4h\n", "canary", `unknown field "soakk" (did you mean "soak"?)`, 8},
		{"unknown field in a hook", base + "hooks: {preTraffic: [{http: {path: /smoke, status: 200}}]}\n", "hooks.preTraffic[0].http", `unknown field "status"`, 0},
		{"missing service", "environment: prod\ntarget: {provider: memory, instances: 4}\n", "service", "is required", 0},
		{"service with a slash", "service: board/api\nenvironment: prod\ntarget: {provider: memory, instances: 4}\n", "service",
			"must be 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit", 1},
		{"bad provider", "service: board\nenvironment: prod\ntarget: {provider: gcp, instances: 4}\n", "target.provider", `must be one of local, aws, memory, haproxy, not "gcp"`, 3},
		{"instances zero", "service: board\nenvironment: prod\ntarget: {provider: memory, instances: 0}\n", "target.instances", "must be at least 1", 0},
		{"instances not a number", "service: board\nenvironment: prod\ntarget: {provider: memory, instances: six}\n", "target.instances", `must be a whole number, not "six"`, 0},
		{"percent above 100", base + "canary: {percent: 150}\n", "canary.percent", "must be at most 100, not 150", 0},
		{"instances and percent", base + "canary: {instances: 1, percent: 25}\n", "canary.percent", "cannot be set together with canary.instances; choose one", 0},
		{"canary larger than fleet", base + "canary: {instances: 5}\n", "canary.instances",
			"is 5 but the fleet has 4 instances (target.instances); the canary cannot be larger than the fleet", 0},
		{"batch in words", base + "promote: {batch: 25 percent}\n", "promote.batch", "must be a count from 1 to 10000 such as 2, or a percent such as 25%", 0},
		{"batch zero", base + "promote: {batch: 0}\n", "promote.batch", "must be a count from 1 to 10000 such as 2, or a percent such as 25%", 0},
		{"negative maxUnavailable", base + "promote: {maxUnavailable: -1}\n", "promote.maxUnavailable", "must not be negative", 0},
		{"maxUnavailable the whole fleet", base + "promote: {maxUnavailable: 4}\n", "promote.maxUnavailable",
			"is 4 but the fleet has 4 instances; at least one must keep serving during promotion", 0},
		{"hook with http and command", base + "hooks:\n  preTraffic:\n    - http: {path: /smoke}\n      command: {args: [check]}\n", "hooks.preTraffic[0]", "needs exactly one of http or command", 8},
		{"hook with neither", base + "hooks: {postPromote: [{name: nothing}]}\n", "hooks.postPromote[0]", "needs exactly one of http or command", 0},
		{"hook expects a non-status", base + "hooks: {preTraffic: [{http: {path: /smoke, expect: 99}}]}\n", "hooks.preTraffic[0].http.expect", "must be at least 100", 0},
		{"hook path without slash", base + "hooks: {preTraffic: [{http: {path: smoke}}]}\n", "hooks.preTraffic[0].http.path", "must be a path starting with / and without spaces", 0},
		{"local provider without local", "service: board\nenvironment: prod\ntarget: {provider: local, instances: 2}\n", "target.local", "is required when target.provider is local", 0},
		{"local without command", "service: board\nenvironment: prod\ntarget: {provider: local, instances: 2, local: {healthPath: /healthz}}\n", "target.local.command", "is required", 0},
		{"local with empty command", "service: board\nenvironment: prod\ntarget: {provider: local, instances: 2, local: {command: []}}\n", "target.local.command", "must not be empty", 0},
		{"aws without region", "service: board\nenvironment: prod\ntarget: {provider: aws, instances: 2, aws: {launchTemplate: lt-1}}\n", "target.aws.region", "is required", 0},
		{"aws without aws", "service: board\nenvironment: prod\ntarget: {provider: aws, instances: 2}\n", "target.aws", "is required when target.provider is aws", 0},
		{"packer without template", base + "bake: {method: packer}\n", "bake.template", "is required when bake.method is packer", 0},
		{"onTimeout maybe", base + "canary: {approval: {required: true, onTimeout: maybe}}\n", "canary.approval.onTimeout", `must be one of abort, promote, not "maybe"`, 0},
		{"approvers listed twice", base + "canary: {approval: {required: true, approvers: [alice, bob, alice]}}\n", "canary.approval.approvers[2]",
			`"alice" is listed twice (also at canary.approval.approvers[0])`, 0},
		{"approvers without approval", base + "canary: {approval: {approvers: [alice]}}\n", "canary.approval.approvers",
			"are never asked while canary.approval.required is false; set required: true", 0},
		{"soak shorter than interval", base + "canary: {soak: 30s}\n", "canary.soak",
			"30s is shorter than canary.analysis.interval (1m); the soak must last at least one analysis interval", 6},
		{"metrics with health provider", base + "canary: {analysis: {metrics: [{name: errors, max: 1}]}}\n", "canary.analysis.metrics",
			"are ignored by the health provider; set canary.analysis.provider to scrape, prometheus or sentry", 0},
		{"prometheus without URL", base + "canary: {analysis: {provider: prometheus, metrics: [{name: errors, query: up, max: 1}]}}\n", "canary.analysis.prometheusURL",
			"is required when canary.analysis.provider is prometheus", 0},
		{"scrape without metrics", base + "canary: {analysis: {provider: scrape}}\n", "canary.analysis.metrics",
			"is required when canary.analysis.provider is scrape, prometheus or sentry", 0},
		{"metric without query", base + "canary: {analysis: {provider: scrape, metrics: [{name: errors, max: 1}]}}\n", "canary.analysis.metrics[0].query",
			"is required when canary.analysis.provider is scrape, prometheus or sentry", 0},
		{"metric without bound", base + "canary: {analysis: {provider: scrape, metrics: [{name: errors, query: x}]}}\n", "canary.analysis.metrics[0]",
			"needs at least one bound: max, min, vsBaseline or mannWhitney", 0},
		{"step longer than interval", base + "canary: {analysis: {provider: scrape, interval: 10s, step: 20s, metrics: [{name: e, query: x, max: 1}]}}\n", "canary.analysis.step",
			"20s is longer than canary.analysis.interval (10s); a check takes one sample per step within its interval", 0},
		{"scrape interval too short for minSamples", base + "canary: {soak: 1m, analysis: {provider: scrape, interval: 3s, metrics: [{name: e, query: x, max: 1}]}}\n", "canary.analysis.metrics[0].minSamples",
			"is 3, but a check of 3s at step 1s gives the canary at most 2 samples (scrape: 2 pairs of successive scrapes × 1 instance), so every check would be Inconclusive; lengthen canary.analysis.interval, shorten canary.analysis.step or lower minSamples", 0},
		{"prometheus step too coarse for minSamples", base + "canary: {analysis: {provider: prometheus, prometheusURL: 'http://127.0.0.1:9090', interval: 1m, step: 30s, metrics: [{name: e, query: up, max: 1, minSamples: 3}]}}\n", "canary.analysis.metrics[0].minSamples",
			"is 3, but a check of 1m at step 30s gives the canary at most 2 samples (prometheus: one point per step), so every check would be Inconclusive; lengthen canary.analysis.interval, shorten canary.analysis.step or lower minSamples", 0},
		{"sentry without sentry", base + "canary: {analysis: {provider: sentry, metrics: [{name: e, query: newIssues, max: 0}]}}\n", "canary.analysis.sentry",
			"is required when canary.analysis.provider is sentry", 0},
		{"sentry block with another provider", base + "canary: {analysis: {provider: scrape, sentry: {organization: acme, project: board}, metrics: [{name: e, query: x, max: 1}]}}\n", "canary.analysis.sentry",
			"is only read by the sentry provider; set canary.analysis.provider to sentry or remove it", 0},
		{"sentry without project", base + "canary: {analysis: {provider: sentry, sentry: {organization: acme}, metrics: [{name: e, query: newIssues, max: 0}]}}\n", "canary.analysis.sentry.project",
			"is required", 0},
		{"sentry organization not a slug", base + "canary: {analysis: {provider: sentry, sentry: {organization: 'Acme Inc', project: board}, metrics: [{name: e, query: newIssues, max: 0}]}}\n", "canary.analysis.sentry.organization",
			"must be a Sentry slug: lowercase letters, digits, '_' or '-', starting with a letter or digit, at most 100 characters", 0},
		{"sentry url not http", base + "canary: {analysis: {provider: sentry, sentry: {url: 'ftp://sentry', organization: acme, project: board}, metrics: [{name: e, query: newIssues, max: 0}]}}\n", "canary.analysis.sentry.url",
			"must be an http:// or https:// URL", 0},
		{"sentry unknown measure", base + "canary: {analysis: {provider: sentry, sentry: {organization: acme, project: board}, metrics: [{name: e, query: 'rate(x)', max: 0}]}}\n", "canary.analysis.metrics[0].query",
			`is "rate(x)"; the sentry provider measures one of newIssues, errorEvents, errorsPerRequest (see docs/analysis.md)`, 0},
		{"sentry step too coarse for minSamples", base + "canary: {analysis: {provider: sentry, sentry: {organization: acme, project: board}, interval: 1m, step: 30s, metrics: [{name: e, query: newIssues, max: 0, minSamples: 3}]}}\n", "canary.analysis.metrics[0].minSamples",
			"is 3, but a check of 1m at step 30s gives the canary at most 2 samples (sentry: one per step in which Sentry heard from the release), so every check would be Inconclusive; lengthen canary.analysis.interval, shorten canary.analysis.step or lower minSamples", 0},
		{"confidence of 1", base + "canary: {analysis: {provider: scrape, metrics: [{name: e, query: x, mannWhitney: {confidence: 1}}]}}\n", "canary.analysis.metrics[0].mannWhitney.confidence",
			"must be less than 1", 0},
		{"effectSize below 1", base + "canary: {analysis: {provider: scrape, metrics: [{name: e, query: x, mannWhitney: {effectSize: 0.9}}]}}\n", "canary.analysis.metrics[0].mannWhitney.effectSize",
			"must be at least 1", 0},
		{"bad direction", base + "canary: {analysis: {provider: scrape, metrics: [{name: e, query: x, mannWhitney: {direction: up}}]}}\n", "canary.analysis.metrics[0].mannWhitney.direction",
			`must be one of increase, decrease, either, not "up"`, 0},
		{"minSamples zero", base + "canary: {analysis: {provider: scrape, metrics: [{name: e, query: x, max: 1, minSamples: 0}]}}\n", "canary.analysis.metrics[0].minSamples",
			"must be at least 1", 0},
		{"negative baselineFloor", base + "canary: {analysis: {provider: scrape, metrics: [{name: e, query: x, vsBaseline: 2, baselineFloor: -1}]}}\n", "canary.analysis.metrics[0].baselineFloor",
			"must not be negative", 0},
		{"vsBaseline below 1", base + "canary: {analysis: {provider: scrape, metrics: [{name: errors, query: x, vsBaseline: 0.5}]}}\n", "canary.analysis.metrics[0].vsBaseline",
			"must be at least 1", 0},
		{"metric min above max", base + "canary: {analysis: {provider: scrape, metrics: [{name: rps, query: x, min: 10, max: 5}]}}\n", "canary.analysis.metrics[0].min",
			"is 10, more than max (5): no value could pass", 0},
		{"metric names repeated", base + "canary: {analysis: {provider: scrape, metrics: [{name: e, query: x, max: 1}, {name: e, query: y, max: 2}]}}\n", "canary.analysis.metrics[1].name",
			`"e" is already the name of canary.analysis.metrics[0]`, 0},
		{"bad noData", base + "canary: {analysis: {provider: scrape, metrics: [{name: e, query: x, max: 1, noData: ignore}]}}\n", "canary.analysis.metrics[0].noData",
			`must be one of fail, inconclusive, pass, not "ignore"`, 0},
		{"failureLimit zero", base + "canary: {analysis: {failureLimit: 0}}\n", "canary.analysis.failureLimit", "must be at least 1", 0},
		{"bool as string", base + "rollback: {automatic: yes please}\n", "rollback.automatic", `must be true or false, not "yes please"`, 0},
		{"block given as a list", base + "drain: [5m]\n", "drain", "must be a mapping of fields, not a list", 0},
		{"bad env name", "service: board\nenvironment: prod\ntarget: {provider: local, instances: 2, local: {command: [x], env: {1BAD: x}}}\n", "target.local.env",
			`key "1BAD" must be an environment variable name: at most 256 letters, digits and '_', not starting with a digit`, 0},
		{"field set twice", base + "service: other\n", "service", "is set twice (lines 1 and 6)", 6},
		{"malformed YAML", "service: board\nenvironment: prod\ntarget:\n  provider: memory\n   instances: 2\n", "", "line 5: mapping values are not allowed in this context", 5},
		{"two documents", base + "---\n" + base, "", "line 6: a second YAML document starts here; put one spec in each file", 6},
		{"empty file", "# nothing yet\n", "", "the spec is empty", 0},
		{"not a mapping", "- board\n", "", "must be a mapping of fields, not a list", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := schemas.Parse([]byte(tc.yaml))
			var verr *schemas.ValidationError
			require.ErrorAs(t, err, &verr)
			require.Len(t, verr.Errors, 1, "want exactly one error, got:\n%v", err)
			got := verr.Errors[0]
			require.Equal(t, tc.path, got.Path)
			require.Equal(t, tc.msg, got.Message)
			if tc.line != 0 {
				require.Equal(t, tc.line, got.Line)
			}
		})
	}
	require.GreaterOrEqual(t, len(cases), 15)
}

// The samples of a scrape check are pooled over the canary's instances: a short
// interval that one instance cannot fill is enough for two.
func TestShortScrapeIntervalIsEnoughWithMoreCanaries(t *testing.T) {
	spec := base + "canary: {instances: 2, soak: 1m, analysis: {provider: scrape, interval: 3s, metrics: [{name: e, query: x, max: 1}]}}\n"
	_, err := schemas.Parse([]byte(spec))
	require.NoError(t, err)
}
