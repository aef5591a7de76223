// Package monkey is a chaos monkey for zerodown releases. It runs releases of the demo
// service on the local cloud under load, through the zerodown CLI as CI would, while it
// kills the worker process with SIGKILL at seeded random moments of every phase —
// including right after the local cloud has carried out a launch, attach or terminate
// and before the worker hears of it — and restarts the Temporal server and the local
// cloud daemon mid-release. Afterwards it checks, for every release, the outcome, the
// fleet, every launch key against the plan, leaks, and what the load saw.
// bench/chaos prints its tables and records them in BENCHMARKS.md; its short form is a test.
package monkey

import (
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/zerodown/zerodown/internal/loadgen"
	"github.com/zerodown/zerodown/workflows"
)

// Config describes a chaos run. Zero fields take the defaults of the full form.
type Config struct {
	Root        string // repository root
	BinDir      string // where demo.Build put the binaries (default Root/bin)
	WorkDir     string // wiped at start (default Root/.tmp/bench-chaos)
	Spec        string // release spec (default Root/bench/chaos/release.yaml)
	TemporalCLI string

	Seed int64
	// Short is the CI form: two releases (v2, then the bad v3), one kill right after a
	// launch and four at moments when no activity runs (so no activity timeout has to
	// run out; a moment that never comes is skipped), one Temporal restart and one local
	// cloud restart; about two minutes.
	Short bool
	// Kills is how many worker kills the full form makes at least (default 50): it runs
	// releases until it has, up to MaxReleases.
	Kills       int
	MaxReleases int // default 20

	Rate      float64 // HTTP requests per second (default 40)
	WSClients int     // default 8
	Out       io.Writer
}

func (c *Config) defaults() {
	if c.BinDir == "" {
		c.BinDir = filepath.Join(c.Root, "bin")
	}
	if c.WorkDir == "" {
		c.WorkDir = filepath.Join(c.Root, ".tmp", "bench-chaos")
	}
	if c.Spec == "" {
		c.Spec = filepath.Join(c.Root, "bench", "chaos", "release.yaml")
	}
	if c.Kills == 0 {
		c.Kills = 50
	}
	if c.MaxReleases == 0 {
		c.MaxReleases = 20
	}
	if c.Rate == 0 {
		c.Rate = 40
	}
	if c.WSClients == 0 {
		c.WSClients = 8
	}
	if c.Out == nil {
		c.Out = os.Stdout
	}
}

// Moments of a release where a kill lands: the rows of the kills table.
const (
	Launching   = "launching"
	Attaching   = "attaching"
	Soaking     = "soaking"
	MidBatch    = "mid-batch"
	Draining    = "draining"
	RollingBack = "rolling back"
	Other       = "other" // planning, baking, canary hooks
)

// Moments lists the moments every full run must kill in, in release order.
var Moments = []string{Launching, Attaching, Soaking, MidBatch, Draining, RollingBack}

// moment classifies a kill: by the phase first where the phase says it all, then by the
// call the worker never got the answer of, or the activity it was running.
func moment(phase workflows.Phase, activity, after string) string {
	switch phase {
	case workflows.PhaseRollingBack:
		return RollingBack
	case workflows.PhaseDraining:
		return Draining
	}
	switch {
	case after == "POST /v1/instances" || activity == "Launch" || activity == "WaitHealthy":
		return Launching
	case after == "POST /v1/attach" || activity == "Attach":
		return Attaching
	}
	switch phase {
	case workflows.PhaseSoaking:
		return Soaking
	case workflows.PhasePromoting:
		return MidBatch
	}
	return Other
}

// Kill is one SIGKILL of the worker.
type Kill struct {
	Release  int // index in Result.Releases
	At       time.Time
	Moment   string
	Phase    workflows.Phase
	Activity string // the activity the worker was running, if any
	After    string // the API call whose answer it never got; "" for a random moment
	Down     time.Duration
	// Resumed is how long after the kill the release got going again: the activity the
	// dead worker was running completed (its retry waits for its timeout: 30 s of
	// missing heartbeats, or 1 min start-to-close), or, when it ran none, the new worker
	// completed a workflow task. What a crash costs a release.
	Resumed time.Duration

	revived time.Time
}

// Restart is one restart of the Temporal server or the local cloud daemon.
type Restart struct {
	Service string // demo.ServiceTemporal or demo.ServiceLocalCloud
	Release int
	Phase   workflows.Phase
	Crash   bool // SIGKILL rather than SIGTERM
	Took    time.Duration
}

// Release is how one release went and what was found afterwards.
type Release struct {
	Version  string
	Want     workflows.Phase // Succeeded, or RolledBack for the bad v3
	Got      workflows.Phase
	Exit     int // of `zerodown start --wait`
	Error    string
	RunID    string // the first run: launch keys carry it
	Duration time.Duration
	// Launches per step of the launch keys (canary, batch-2, rollback): what the local
	// cloud created for this release, against what its plan needs.
	Steps                     map[string]int
	LaunchesWant, LaunchesGot int
	Fleet                     map[string]int // live instances per version afterwards
	Problems                  []string
	// Stall is the longest wait between two events of the history that no timer of the
	// workflow explains (a timer's own wait is the release's doing): mostly the timeout
	// of an activity a killed worker was running. StallAt says between which events.
	Stall   time.Duration
	StallAt string

	done []progress // from the history
}

// Result is a chaos run.
type Result struct {
	Seed     int64
	Short    bool
	Started  time.Time
	Duration time.Duration
	Releases []Release
	Kills    []Kill
	Restarts []Restart
	Load     *loadgen.Report
	Leaked   []string // processes left after the run
	Problems []string // anything else that went wrong
}

// loadWindowCloudCrash is the load window around each crash of the local cloud: the
// requests its load balancer was relaying die with it. Not a release's doing, and the
// only failures allowed: a graceful restart costs nothing (the world holds the sockets,
// clients wait for the next daemon).
const loadWindowCloudCrash = "localcloud-crash"
