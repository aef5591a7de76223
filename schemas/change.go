package schemas

import "github.com/zerodown/zerodown/timerules"

// ChangeSpec is a change: several releases, commands, checks, people's confirmations and
// database migrations of one environment, run in the order their `after` lists allow,
// with one rollback for all. It travels inside workflow inputs: add fields, never rename.
type ChangeSpec struct {
	// Name identifies the change; its workflow ID is change/<name>.
	Name        string `json:"change"`
	Environment string `json:"environment"`
	Description string `json:"description,omitempty"`
	// HoldTimeout bounds how long a held release waits for the change's word (finalize or
	// rollback) once it is held; past it, the release rolls back by itself, so a change
	// that is gone (terminated, lost) cannot leave a fleet half-released for good.
	HoldTimeout Duration `json:"holdTimeout,omitempty"`
	Notify      Notify   `json:"notify,omitempty"`
	Steps       []Step   `json:"steps"`
	// Window, Deadline and GoNoGo are the change's clock rules, as a release's
	// (time_rules.go, docs/time.md).
	Window   []timerules.Window  `json:"window,omitempty"`
	Deadline *timerules.Deadline `json:"deadline,omitempty"`
	GoNoGo   *GoNoGo             `json:"goNoGo,omitempty"`
}

// Step kinds: exactly one of a Step's kind fields is set.
const (
	StepRelease   = "release"
	StepCommand   = "command"
	StepCheck     = "check"
	StepConfirm   = "confirm"
	StepMigration = "migration"
)

// Step is one thing a change does. It starts once every step in After has succeeded;
// steps whose dependencies are met run in parallel.
type Step struct {
	ID        string         `json:"id"`
	After     []string       `json:"after,omitempty"`
	Release   *ReleaseStep   `json:"release,omitempty"`
	Command   *CommandStep   `json:"command,omitempty"`
	Check     *CheckStep     `json:"check,omitempty"`
	Confirm   *ConfirmStep   `json:"confirm,omitempty"`
	Migration *MigrationStep `json:"migration,omitempty"`
}

// Kind says which kind of step it is ("" when none or several are set).
func (s Step) Kind() string {
	kind, n := "", 0
	for _, k := range []struct {
		name string
		set  bool
	}{
		{StepRelease, s.Release != nil}, {StepCommand, s.Command != nil}, {StepCheck, s.Check != nil},
		{StepConfirm, s.Confirm != nil}, {StepMigration, s.Migration != nil},
	} {
		if k.set {
			kind, n = k.name, n+1
		}
	}
	if n != 1 {
		return ""
	}
	return kind
}

// ReleaseStep releases one service as a child release held until the change ends.
type ReleaseStep struct {
	// File is the release spec's path, relative to the change file. LoadChange reads and
	// validates it and embeds it as Spec, so the workflow never reads files.
	File      string `json:"spec"`
	Version   string `json:"version"`
	Changelog string `json:"changelog,omitempty"`
	// Spec is the embedded release spec (filled by LoadChange).
	Spec *Spec `json:"embedded,omitempty"`
}

// CommandStep runs a command on the worker (a backup, a DBA's script), in the same clean
// environment as hooks. Undo, when set, is run if the change rolls back after it.
type CommandStep struct {
	Run     []string `json:"run"`
	Undo    []string `json:"undo,omitempty"`
	Timeout Duration `json:"timeout,omitempty"`
	// Env names variables of the worker's environment the command may see.
	Env []string `json:"env,omitempty"`
}

// CheckStep is a sanity test: an HTTP expectation (through the load balancer) or a
// command that must exit 0, tried up to Retries+1 times, Interval apart.
type CheckStep struct {
	HTTP     *HTTPCheck `json:"http,omitempty"`
	Command  []string   `json:"command,omitempty"`
	Retries  int        `json:"retries,omitempty"`
	Interval Duration   `json:"interval,omitempty"`
	// Timeout bounds one try.
	Timeout Duration `json:"timeout,omitempty"`
	Env     []string `json:"env,omitempty"`
}

// HTTPCheck expects a status code (and, optionally, a piece of the body) from a URL.
type HTTPCheck struct {
	URL      string `json:"url"`
	Expect   int    `json:"expect,omitempty"`
	Contains string `json:"contains,omitempty"`
}

// ConfirmStep waits for people (landing tests, a client's sign-off): Count of the
// approvers each answer every item of the checklist; `reject` with a reason fails it.
type ConfirmStep struct {
	Prompt    string              `json:"prompt,omitempty"`
	Approvers []string            `json:"approvers,omitempty"`
	Groups    map[string][]string `json:"groups,omitempty"`
	Count     int                 `json:"count,omitempty"`
	Checklist []string            `json:"checklist,omitempty"`
	Timeout   Duration            `json:"timeout,omitempty"`
	// OnTimeout is rollback (the default) or confirm.
	OnTimeout string `json:"onTimeout,omitempty"`
	// Remind tells people the step is expected soon and escalates when nobody answers.
	Remind *Remind `json:"remind,omitempty"`
}

// What a confirmation's timeout means.
const (
	OnTimeoutRollback = "rollback"
	OnTimeoutConfirm  = "confirm"
)

// MigrationStep is a database change in the expand/contract pattern: Expand runs when the
// step starts (before the releases that need it); Contract runs only after every release
// step in ContractAfter has finalized and no instance of the version it replaced is alive
// (checked against the fleet), so old and new versions never share a schema one of them
// cannot read.
type MigrationStep struct {
	Expand        []string `json:"expand"`
	Undo          []string `json:"undo,omitempty"`
	Contract      []string `json:"contract,omitempty"`
	ContractAfter []string `json:"contractAfter,omitempty"`
	Timeout       Duration `json:"timeout,omitempty"`
	Env           []string `json:"env,omitempty"`
}

// ChangeID is the workflow ID of a change.
func ChangeID(name string) string { return "change/" + name }
