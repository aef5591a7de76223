package cli

import (
	"errors"

	"github.com/zerodown/zerodown/timeline"
	"github.com/zerodown/zerodown/workflows"
)

// Exit codes of the zerodown command. CI acts on them, so they never change meaning.
const (
	ExitSucceeded   = 0 // the command, or the release it waited for, succeeded
	ExitError       = 1 // cannot connect, no such release, unexpected failure
	ExitUsage       = 2 // wrong flags or arguments
	ExitInvalidSpec = 3 // the release spec does not validate
	ExitRefused     = 4 // already running, or an update refused by the release
	ExitRolledBack  = 5 // the release failed and rolled back by itself
	ExitAborted     = 6 // a human aborted the release and it rolled back
	ExitFailed      = 7 // the release failed and its rollback failed too: the fleet needs a look
	ExitDeferred    = 8 // a no-go, or a freeze with --no-wait, ended it before anything changed
)

// exitCodesHelp documents the codes in --help.
const exitCodesHelp = `Exit codes:
  0  succeeded
  1  error (cannot connect, no such release, unexpected)
  2  usage (wrong flags or arguments)
  3  invalid release spec
  4  refused (a release is already running, or the release refused the update)
  5  rolled back (the release failed and rolled back automatically)
  6  aborted (a human aborted the release; it rolled back)
  7  failed (the rollback itself failed: the fleet needs a look)
  8  deferred (a no-go, or a freeze with --no-wait: nothing was changed)`

// CodeError is an error with the exit code it deserves. Its message is printed as is,
// so it carries its own prefix ("refused: ...").
type CodeError struct {
	Code int
	Err  error
	// Silent errors were already reported on stdout (a release's outcome).
	Silent bool
}

func (e *CodeError) Error() string { return e.Err.Error() }
func (e *CodeError) Unwrap() error { return e.Err }

// WithCode attaches an exit code to err.
func WithCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &CodeError{Code: code, Err: err}
}

// ExitCode is the process exit code for the error a command returned.
func ExitCode(err error) int {
	if err == nil {
		return ExitSucceeded
	}
	var ce *CodeError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return ExitError
}

// Aborted reports whether a human aborted the release.
func Aborted(st workflows.Status) bool {
	if st.AbortedBy != "" {
		return true
	}
	for _, ev := range st.Timeline {
		if ev.Kind == timeline.KindAborted {
			return true
		}
	}
	return false
}

// OutcomeCode is the exit code for a release's status: its outcome once it has ended,
// ExitError while it still runs.
func OutcomeCode(st workflows.Status) int {
	switch st.Phase {
	case workflows.PhaseSucceeded:
		return ExitSucceeded
	case workflows.PhaseRolledBack:
		if Aborted(st) {
			return ExitAborted
		}
		return ExitRolledBack
	case workflows.PhaseFailed:
		return ExitFailed
	case workflows.PhaseDeferred:
		return ExitDeferred
	default:
		return ExitError
	}
}
