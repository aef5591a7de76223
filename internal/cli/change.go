package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/spf13/cobra"

	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/workflows"
)

// changeSubcommands are the commands of `zerodown change`. A file that adds one (start,
// status, confirm...) adds its constructor here: one line.
var changeSubcommands = []func(*App) *cobra.Command{
	(*App).changeValidateCommand,
	(*App).changePlanCommand,
	(*App).changeStartCommand,
	(*App).changeStatusCommand,
	(*App).changeConfirmCommand,
	(*App).changeRejectCommand,
	(*App).changeAbortCommand,
}

func (a *App) changeCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "change",
		Short: "Validate, plan and run changes: several releases, commands, checks, confirmations and migrations with one rollback",
		Long: `A change is several steps of one environment (releases, commands, checks, people's
confirmations and database migrations) run in the order their after lists allow, with
one rollback for all. Its workflow ID is change/<name>. See docs/changes.md.

` + exitCodesHelp,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usagef("zerodown change needs a command: %s", strings.Join(subcommandNames(cmd), ", "))
		},
	}
	for _, sub := range changeSubcommands {
		cmd.AddCommand(sub(a))
	}
	return cmd
}

func subcommandNames(cmd *cobra.Command) []string {
	var names []string
	for _, c := range cmd.Commands() {
		names = append(names, c.Name())
	}
	return names
}

// loadChange loads and validates a change with its release specs. A missing file is a
// usage error; anything the schema package rejects is an invalid spec.
func loadChange(path string) (*schemas.ChangeSpec, error) {
	c, err := schemas.LoadChange(path)
	if err == nil {
		return c, nil
	}
	var pe *fs.PathError
	var ve *schemas.ValidationError
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, usagef("%s: no such file", path)
	case errors.As(err, &ve):
		return nil, WithCode(ExitInvalidSpec, errors.New(FieldErrors(path, ve)))
	case errors.As(err, &pe):
		return nil, WithCode(ExitError, err)
	}
	return nil, WithCode(ExitInvalidSpec, fmt.Errorf("%s: %s", path, oneLine(err.Error())))
}

func (a *App) changeValidateCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check change specs and the release specs they name; prints ok: change NAME or each field error (exit 3)",
		Args:  args(cobra.MinimumNArgs(1)),
		RunE: func(_ *cobra.Command, files []string) error {
			return a.validateEach(files, func(f string) (string, error) {
				c, err := loadChange(f)
				if err != nil {
					return "", err
				}
				a.warn(f, schemas.ChangeWarnings(c))
				return fmt.Sprintf("change %s (%s, %d %s)", c.Name, c.Environment, len(c.Steps), plural(len(c.Steps), "step", "steps")), nil
			})
		},
	}
}

// ChangePlan is what `zerodown change plan -o json` prints.
type ChangePlan struct {
	Change      string `json:"change"`
	Environment string `json:"environment"`
	// Waves are the steps in the order they can run: each wave's steps wait only for
	// steps of earlier waves, and run in parallel.
	Waves [][]PlannedStep `json:"waves"`
	// Finalize are the release steps finalized (old instances drained and terminated)
	// once every step succeeded.
	Finalize []string `json:"finalize"`
	// Contracts are the migration steps whose contract runs after that.
	Contracts []string `json:"contracts"`
}

// PlannedStep is one step of a change's plan.
type PlannedStep struct {
	ID    string   `json:"id"`
	Kind  string   `json:"kind"`
	After []string `json:"after,omitempty"`
	// What says what the step does, in the words `change plan` prints.
	What string `json:"what"`
}

// NewChangePlan lays a validated change out in waves, without contacting anything.
func NewChangePlan(c *schemas.ChangeSpec) ChangePlan {
	p := ChangePlan{Change: c.Name, Environment: c.Environment, Finalize: []string{}, Contracts: []string{}}
	byID := make(map[string]schemas.Step, len(c.Steps))
	for _, s := range c.Steps {
		byID[s.ID] = s
		if s.Release != nil {
			p.Finalize = append(p.Finalize, s.ID)
		}
		if s.Migration != nil && len(s.Migration.Contract) > 0 {
			p.Contracts = append(p.Contracts, s.ID)
		}
	}
	for _, wave := range c.Order() {
		var steps []PlannedStep
		for _, id := range wave {
			s := byID[id]
			steps = append(steps, PlannedStep{ID: id, Kind: s.Kind(), After: s.After, What: describeStep(c, s)})
		}
		p.Waves = append(p.Waves, steps)
	}
	return p
}

// describeStep says what one step does, in a few words.
func describeStep(c *schemas.ChangeSpec, s schemas.Step) string {
	switch {
	case s.Release != nil:
		r := s.Release
		if r.Spec == nil {
			return fmt.Sprintf("release %s %s", r.File, r.Version)
		}
		rp := workflows.NewPlan(*r.Spec, r.Spec.Target.Instances)
		how := fmt.Sprintf("canary %d, soak %s, %d %s", rp.Canary, schemas.FormatDuration(r.Spec.Canary.Soak.D()), len(rp.Batches), plural(len(rp.Batches), "batch", "batches"))
		if rp.Strategy == schemas.StrategyBlueGreen {
			how = fmt.Sprintf("canary %d, soak %s, bluegreen", rp.Canary, schemas.FormatDuration(r.Spec.Canary.Soak.D()))
		}
		if r.Spec.Canary.Approval.Required {
			how += ", approval"
		}
		return fmt.Sprintf("release %s %s %s: %s; held until the change ends", r.Spec.Service, c.Environment, r.Version, how)
	case s.Command != nil:
		what := fmt.Sprintf("command %s, at most %s", strings.Join(s.Command.Run, " "), schemas.FormatDuration(s.Command.TimeoutOrDefault()))
		if len(s.Command.Undo) > 0 {
			what += "; undo " + strings.Join(s.Command.Undo, " ")
		}
		return what
	case s.Check != nil:
		k := s.Check
		what := "check " + strings.Join(k.Command, " ")
		if k.HTTP != nil {
			what = fmt.Sprintf("check GET %s expects %d", k.HTTP.URL, k.HTTP.ExpectOrDefault())
			if k.HTTP.Contains != "" {
				what += fmt.Sprintf(" containing %q", k.HTTP.Contains)
			}
		}
		return what + fmt.Sprintf(", %d %s %s apart", k.Tries(), plural(k.Tries(), "try", "tries"), schemas.FormatDuration(k.IntervalOrDefault()))
	case s.Confirm != nil:
		k := s.Confirm
		what := fmt.Sprintf("confirm by %d of %s", k.RequiredConfirmations(), k.Approval().ApproversLabel())
		if n := len(k.Checklist); n > 0 {
			what += fmt.Sprintf(", checklist %s", strings.Join(k.Checklist, ", "))
		}
		return what + fmt.Sprintf("; after %s: %s", schemas.FormatDuration(k.TimeoutOrDefault()), k.OnTimeoutOrDefault())
	case s.Migration != nil:
		m := s.Migration
		what := "migration expand " + strings.Join(m.Expand, " ")
		if len(m.Undo) > 0 {
			what += "; undo " + strings.Join(m.Undo, " ")
		}
		if len(m.Contract) > 0 {
			what += fmt.Sprintf("; contract once %s finalized", strings.Join(m.ContractAfter, ", "))
		}
		return what
	}
	return "(no kind)"
}

// Lines prints the plan as `change plan` does: one line per wave, then the end.
func (p ChangePlan) Lines() []string {
	lines := []string{fmt.Sprintf("change %s (%s): %d %s", p.Change, p.Environment, len(p.Waves), plural(len(p.Waves), "wave", "waves"))}
	for i, wave := range p.Waves {
		parts := make([]string, len(wave))
		for j, s := range wave {
			parts[j] = fmt.Sprintf("%s (%s)", s.ID, s.What)
		}
		lines = append(lines, fmt.Sprintf("%d. %s", i+1, strings.Join(parts, ", ")))
	}
	if len(p.Finalize) > 0 {
		lines = append(lines, "then: finalize "+strings.Join(p.Finalize, ", ")+" (drain and terminate their old instances)")
	}
	if len(p.Contracts) > 0 {
		lines = append(lines, "then: contract "+strings.Join(p.Contracts, ", ")+", each once no old instance of its contractAfter releases is alive")
	}
	lines = append(lines, "on failure, rejection or abort: undo what was done, in reverse order")
	return lines
}

func (a *App) changePlanCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "plan FILE [--output text|json]",
		Short: "Print the steps of a change in the order they can run; contacts nothing",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(_ *cobra.Command, files []string) error {
			if output != OutputText && output != OutputJSON {
				return usagef("--output must be %s or %s", OutputText, OutputJSON)
			}
			c, err := loadChange(files[0])
			if err != nil {
				return err
			}
			p := NewChangePlan(c)
			if output == OutputJSON {
				enc := json.NewEncoder(a.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(p)
			}
			for _, line := range p.Lines() {
				fmt.Fprintln(a.Stdout, line)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", OutputText, "text or json")
	return cmd
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
