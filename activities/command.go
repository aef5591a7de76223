package activities

// The side effects of a change's own steps: commands (a backup, a DBA's script, a
// migration's expand, undo and contract) and sanity probes.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/zerodown/zerodown/schemas"
)

// Error types of a change's steps; both are non-retryable: the command ran and said no.
const (
	ErrTypeCommandFailed = "CommandFailed"
	ErrTypeProbeFailed   = "ProbeFailed"
)

// The variables a change's command always gets.
const (
	EnvChange = "ZERODOWN_CHANGE" // the change's workflow ID
	EnvStep   = "ZERODOWN_STEP"   // the step's id
	EnvAction = "ZERODOWN_ACTION" // run, expand, undo or contract
)

// probeBodyRead bounds how much of an HTTP probe's answer is read.
const probeBodyRead = 1 << 20

// CommandInput runs one command of a change's step.
type CommandInput struct {
	Change  string        `json:"change"`
	Step    string        `json:"step"`
	Action  string        `json:"action"`
	Args    []string      `json:"args"`
	Env     []string      `json:"env,omitempty"` // names passed from the worker's environment
	Timeout time.Duration `json:"timeout"`
}

// CommandOutput says how the command went.
type CommandOutput struct {
	Took time.Duration `json:"took"`
}

// RunCommand runs a step's command in a clean environment (as hooks run), bounded by its
// timeout. A command that exits non-zero fails for good with the end of its output; a
// worker that dies while it runs makes Temporal run it again (commands must be safe to
// re-run, as hooks must).
func (a *Activities) RunCommand(ctx context.Context, in CommandInput) (CommandOutput, error) {
	if len(in.Args) == 0 {
		return CommandOutput{}, nonRetryable(ErrTypeInvalidConfig, fmt.Errorf("step %s: %s has no command", in.Step, in.Action))
	}
	cctx, cancel := context.WithTimeout(ctx, in.Timeout)
	defer cancel()
	start := time.Now()
	out, err := a.runClean(cctx, in.Args, in.Env, EnvChange+"="+in.Change, EnvStep+"="+in.Step, EnvAction+"="+in.Action)
	took := time.Since(start)
	switch {
	case err == nil:
		return CommandOutput{Took: took}, nil
	case ctx.Err() != nil:
		return CommandOutput{}, ctx.Err() // the activity was cancelled or timed out: Temporal decides
	case cctx.Err() != nil:
		return CommandOutput{}, nonRetryable(ErrTypeCommandFailed, fmt.Errorf("%s %s: still running after %s: %s", in.Step, in.Action, in.Timeout, out))
	}
	return CommandOutput{}, nonRetryable(ErrTypeCommandFailed, fmt.Errorf("%s %s: %v: %s", in.Step, in.Action, err, out))
}

// ProbeInput is one try of a sanity check.
type ProbeInput struct {
	Change  string             `json:"change"`
	Step    string             `json:"step"`
	HTTP    *schemas.HTTPCheck `json:"http,omitempty"`
	Command []string           `json:"command,omitempty"`
	Env     []string           `json:"env,omitempty"`
	Timeout time.Duration      `json:"timeout"`
}

// Probe tries a sanity check once: the HTTP answer has the expected status (and text), or
// the command exits 0.
func (a *Activities) Probe(ctx context.Context, in ProbeInput) error {
	pctx, cancel := context.WithTimeout(ctx, in.Timeout)
	defer cancel()
	if h := in.HTTP; h != nil {
		req, err := http.NewRequestWithContext(pctx, http.MethodGet, h.URL, nil)
		if err != nil {
			return nonRetryable(ErrTypeInvalidConfig, err)
		}
		resp, err := a.HTTP.Do(req)
		if err != nil {
			return nonRetryable(ErrTypeProbeFailed, fmt.Errorf("GET %s: %w", h.URL, err))
		}
		defer func() { _ = resp.Body.Close() }()
		body, err := io.ReadAll(io.LimitReader(resp.Body, probeBodyRead))
		if err != nil {
			return nonRetryable(ErrTypeProbeFailed, fmt.Errorf("GET %s: reading the answer: %w", h.URL, err))
		}
		expect := h.Expect
		if expect == 0 {
			expect = http.StatusOK
		}
		if resp.StatusCode != expect {
			return nonRetryable(ErrTypeProbeFailed, fmt.Errorf("GET %s answered %d, want %d", h.URL, resp.StatusCode, expect))
		}
		if h.Contains != "" && !bytes.Contains(body, []byte(h.Contains)) {
			return nonRetryable(ErrTypeProbeFailed, fmt.Errorf("GET %s answered %d without %q", h.URL, resp.StatusCode, h.Contains))
		}
		return nil
	}
	if len(in.Command) == 0 {
		return nonRetryable(ErrTypeInvalidConfig, errors.New("the check has neither http nor command"))
	}
	out, err := a.runClean(pctx, in.Command, in.Env, EnvChange+"="+in.Change, EnvStep+"="+in.Step)
	if err != nil {
		return nonRetryable(ErrTypeProbeFailed, fmt.Errorf("%v: %s", err, out))
	}
	return nil
}

// runClean runs a command in the clean environment of hooks and returns the end of its
// output.
func (a *Activities) runClean(ctx context.Context, args, passEnv []string, vars ...string) (string, error) {
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Env = HookEnv(&schemas.CommandHook{PassEnv: passEnv}, os.LookupEnv, vars...)
	cmd.WaitDelay = 5 * time.Second // a child that keeps the output open cannot hold the step
	tail := &tailBuffer{max: hookOutputKept}
	cmd.Stdout, cmd.Stderr = tail, tail
	err := cmd.Run()
	return outputTail(strings.TrimSpace(tail.String())), err
}
