package schemas

import "time"

// The defaults, each also stated with `default` in release.schema.json; a test keeps the two
// in step.
const (
	defaultBakeMethod          = BakeNone
	defaultBakeTimeout         = 30 * time.Minute
	defaultCanaryInstances     = 1
	defaultSoak                = 10 * time.Minute
	defaultInterval            = time.Minute
	defaultAnalysisProvider    = AnalysisHealth
	defaultFailureLimit        = 2
	defaultNoData              = NoDataInconclusive
	defaultMinSamples          = 3
	defaultConfidence          = 0.95
	defaultEffectSize          = 1.1
	defaultDirection           = DirectionIncrease
	defaultApprovalTimeout     = 24 * time.Hour
	defaultOnTimeout           = OnTimeoutAbort
	defaultApprovalCount       = 1
	defaultStrategy            = StrategyRolling
	defaultBatch               = "25%"
	defaultDrainTimeout        = 5 * time.Minute
	defaultHealthPath          = "/healthz"
	defaultHealthTimeout       = 5 * time.Minute
	defaultHookTimeout         = 30 * time.Second
	defaultHTTPExpect          = 200
	defaultRollbackIsAutomatic = true
	defaultAWSPort             = 80
	defaultLaunchTemplateVer   = "$Default"
)

// Defaults fills every unset field that has a default. Parse calls it; call it on a Spec
// built in code before Validate.
//
// Only fields whose zero value is not a valid setting are filled, so a zero never hides a
// choice. The exception is Rollback.Automatic, whose default is true but whose zero (false)
// is a valid choice: Parse decides it from the document; in code, set it yourself.
// Fields whose default is zero (maxUnavailable, pauseBetweenBatches, keepOld,
// deregistrationDelay, inconclusiveLimit, approval.required, approval.fourEyes) need nothing.
func Defaults(s *Spec) {
	if s.Bake.Method == "" {
		s.Bake.Method = defaultBakeMethod
	}
	setDuration(&s.Bake.Timeout, defaultBakeTimeout)

	setDuration(&s.Target.HealthTimeout, defaultHealthTimeout)
	if l := s.Target.Local; l != nil {
		if l.HealthPath == "" {
			l.HealthPath = defaultHealthPath
		}
	}

	if a := s.Target.AWS; a != nil {
		// Not constants, so not stated in the schema: the tags default to the spec's names.
		if a.Service == "" {
			a.Service = s.Service
		}
		if a.Environment == "" {
			a.Environment = s.Environment
		}
		if a.Port == 0 {
			a.Port = defaultAWSPort
		}
		if a.LaunchTemplateVersion == "" {
			a.LaunchTemplateVersion = defaultLaunchTemplateVer
		}
	}

	c := &s.Canary
	if c.Instances == 0 && c.Percent == 0 {
		c.Instances = defaultCanaryInstances
	}
	if c.Soak == 0 && c.StepSoak > 0 && len(c.Traffic) > 0 {
		c.Soak = c.StepSoak * Duration(len(c.Traffic))
	}
	setDuration(&c.Soak, defaultSoak)

	a := &c.Analysis
	setDuration(&a.Interval, defaultInterval)
	if a.Provider == "" {
		a.Provider = defaultAnalysisProvider
	}
	if a.FailureLimit == 0 {
		a.FailureLimit = defaultFailureLimit
	}
	if a.Sentry != nil && a.Sentry.URL == "" {
		a.Sentry.URL = DefaultSentryURL
	}
	for i := range a.Metrics {
		m := &a.Metrics[i]
		if m.NoData == "" {
			m.NoData = defaultNoData
		}
		if m.MinSamples == 0 {
			m.MinSamples = defaultMinSamples
		}
		if mw := m.MannWhitney; mw != nil {
			if mw.Confidence == 0 {
				mw.Confidence = defaultConfidence
			}
			if mw.EffectSize == 0 {
				mw.EffectSize = defaultEffectSize
			}
			if mw.Direction == "" {
				mw.Direction = defaultDirection
			}
		}
	}

	setDuration(&c.Approval.Timeout, defaultApprovalTimeout)
	if c.Approval.OnTimeout == "" {
		c.Approval.OnTimeout = defaultOnTimeout
	}
	if c.Approval.Count == 0 {
		c.Approval.Count = defaultApprovalCount
	}
	if len(c.Approval.Gates) == 0 {
		c.Approval.Gates = []string{GateAfterSoak}
	}

	if s.Promote.Strategy == "" {
		s.Promote.Strategy = defaultStrategy
	}
	if s.Promote.Batch == "" {
		s.Promote.Batch = defaultBatch
	}

	setDuration(&s.Drain.Timeout, defaultDrainTimeout)

	for _, hooks := range [][]Hook{s.Hooks.PreTraffic, s.Hooks.PostPromote} {
		for i := range hooks {
			h := &hooks[i]
			setDuration(&h.Timeout, defaultHookTimeout)
			if h.HTTP != nil && h.HTTP.Expect == 0 {
				h.HTTP.Expect = defaultHTTPExpect
			}
		}
	}
}

func setDuration(d *Duration, def time.Duration) {
	if *d == 0 {
		*d = Duration(def)
	}
}

// BatchOrDefault is promote.batch as written, or the default ("25%") when it is empty,
// as in a Spec built in code without Defaults.
func (p Promote) BatchOrDefault() string {
	if p.Batch == "" {
		return defaultBatch
	}
	return p.Batch
}
