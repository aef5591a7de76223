package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/zerodown/zerodown/fleet"
	awsfleet "github.com/zerodown/zerodown/fleet/aws"
	"github.com/zerodown/zerodown/internal/workerapp"
	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/workflows"
)

// describeTimeout bounds how long `plan` waits for a fleet (and, on AWS, for whose
// account it is) before assuming its size.
const describeTimeout = 5 * time.Second

// loadSpec loads and validates a spec. A missing file is a usage error; anything the
// schema package rejects, including YAML that does not parse, is an invalid spec.
func loadSpec(path string) (*schemas.Spec, error) {
	if path == "" {
		return nil, usagef("-f FILE is required")
	}
	spec, err := schemas.Load(path)
	if err == nil {
		return spec, nil
	}
	var pe *fs.PathError
	var ve *schemas.ValidationError
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, usagef("%s: no such file", path)
	case errors.As(err, &pe):
		return nil, WithCode(ExitError, err)
	case errors.As(err, &ve):
		return nil, WithCode(ExitInvalidSpec, errors.New(FieldErrors(path, ve)))
	}
	return nil, WithCode(ExitInvalidSpec, fmt.Errorf("%s: %s", path, oneLine(err.Error())))
}

// FieldErrors prints a spec's errors one per line, compiler style ("release.yaml:12:
// canary.soak: ..."), so editors and CI logs link each to its line.
func FieldErrors(path string, ve *schemas.ValidationError) string {
	lines := make([]string, 0, len(ve.Errors))
	for _, fe := range ve.Errors {
		at := path
		if fe.Line > 0 {
			at = fmt.Sprintf("%s:%d", path, fe.Line)
		}
		lines = append(lines, at+": "+fe.Error())
	}
	if len(lines) == 0 {
		return path + ": invalid spec"
	}
	return strings.Join(lines, "\n")
}

func (a *App) validateCommand() *cobra.Command {
	var files []string
	cmd := &cobra.Command{
		Use:   "validate [-f] FILE...",
		Short: "Check release specs against the schema; prints ok: SERVICE/ENV or each field error (exit 3)",
		// Files also come as arguments, as with promtool and kubeconform, so that
		// `zerodown validate deploy/*.yaml` works in CI.
		Args: args(cobra.ArbitraryArgs),
		RunE: func(_ *cobra.Command, positional []string) error {
			files := append(files, positional...)
			if len(files) == 0 {
				return usagef("a spec file is required: zerodown validate FILE...")
			}
			return a.validateEach(files, func(f string) (string, error) {
				spec, err := loadSpec(f)
				if err != nil {
					return "", err
				}
				a.warn(f, schemas.Warnings(spec))
				return fmt.Sprintf("%s/%s", spec.Service, spec.Environment), nil
			})
		},
	}
	cmd.Flags().StringArrayVarP(&files, "file", "f", nil, "release spec (YAML); repeat to validate several")
	return cmd
}

func (a *App) planCommand() *cobra.Command {
	var file, version string
	var offline bool
	cmd := &cobra.Command{
		Use:   "plan -f FILE [--version V] [--offline]",
		Short: "Print what a release would do to the current fleet; starts nothing",
		Long: `plan prints the steps of a release: canaries, soak, approval, batches and drain.
It describes the current fleet when it can reach it, else assumes the fleet already
runs target.instances instances of the old version. On AWS it first says, on stderr,
which account (sts:GetCallerIdentity) and region it is about to read; --offline reads
nothing and calls no API at all.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			spec, err := loadSpec(file)
			if err != nil {
				return err
			}
			if version == "" {
				version = "NEW"
			}
			old, oldVersion := spec.Target.Instances, ""
			if offline {
				fmt.Fprintf(a.Stderr, "note: --offline: nothing was read; assuming %d old instance(s)\n", old)
			} else if n, v, err := a.currentFleet(cmd.Context(), spec.Target, version); err == nil {
				old, oldVersion = n, v
			} else {
				fmt.Fprintf(a.Stderr, "note: cannot describe the %s fleet (%s); assuming %d old instance(s)\n",
					spec.Target.Provider, oneLine(err.Error()), old)
			}
			p := workflows.NewPlan(*spec, old)
			for _, line := range p.Steps(*spec, version, oldVersion) {
				fmt.Fprintln(a.Stdout, line)
			}
			if spec.Target.Provider == schemas.ProviderAWS {
				// What the release will ask of the account, to check against the IAM
				// policy before it runs.
				for _, line := range awsfleet.PlanCalls(*spec, version, awsShape(p)) {
					fmt.Fprintln(a.Stdout, line)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "release spec (YAML)")
	cmd.Flags().StringVar(&version, "version", "", "version to release (default: NEW)")
	cmd.Flags().BoolVar(&offline, "offline", false, "call no API: assume target.instances old instances instead of describing the fleet")
	return cmd
}

// awsShape hands the plan to fleet/aws, which cannot import workflows.
func awsShape(p workflows.Plan) awsfleet.PlanShape {
	s := awsfleet.PlanShape{Strategy: p.Strategy, Old: p.Old, Canary: p.Canary}
	for _, b := range p.Batches {
		s.Batches = append(s.Batches, awsfleet.PlanBatch{Launch: b.Launch, OldAttached: b.OldAttached})
	}
	return s
}

// errNotDescribable says a provider's fleet lives only inside a worker (memory).
var errNotDescribable = errors.New("its instances live inside the worker")

// currentFleet counts the instances serving something other than version, and names the
// version most of them run.
func (a *App) currentFleet(ctx context.Context, target schemas.Target, version string) (int, string, error) {
	ctx, cancel := context.WithTimeout(ctx, describeTimeout)
	defer cancel()
	reg := a.Fleets
	if target.Provider == schemas.ProviderAWS {
		// Say whose account this is before reading it: the default credential chain
		// may hold anyone's. Credentials that cannot say read nothing.
		p := awsfleet.NewProvider(awsfleet.Options{})
		who, err := p.Identity(ctx, target)
		if err != nil {
			return 0, "", fmt.Errorf("cannot tell which AWS account the credentials reach, so nothing was read: %w", err)
		}
		fmt.Fprintf(a.Stderr, "aws: reading %s\n", who)
		if reg == nil {
			reg = fleet.Registry{schemas.ProviderAWS: p.Factory}
		}
	}
	if reg == nil {
		if target.Provider == schemas.ProviderMemory {
			return 0, "", errNotDescribable
		}
		var err error
		if reg, err = workerapp.BuildFleets([]string{target.Provider}, ""); err != nil {
			return 0, "", err
		}
	}
	f, err := reg.For(target)
	if err != nil {
		return 0, "", err
	}
	st, err := f.Describe(ctx)
	if err != nil {
		return 0, "", err
	}
	old, oldVersion := oldInstances(st, version)
	return old, oldVersion, nil
}

// oldInstances counts the attached instances of other versions and picks the version
// most of them run (ties: the lexically greatest, usually the newest).
func oldInstances(st fleet.State, version string) (int, string) {
	counts := map[string]int{}
	n := 0
	for _, in := range st.Instances {
		if in.Attached && in.Version != version {
			counts[in.Version]++
			n++
		}
	}
	versions := make([]string, 0, len(counts))
	for v := range counts {
		versions = append(versions, v)
	}
	sort.Slice(versions, func(i, j int) bool {
		if counts[versions[i]] != counts[versions[j]] {
			return counts[versions[i]] > counts[versions[j]]
		}
		return versions[i] > versions[j]
	})
	if len(versions) == 0 {
		return 0, ""
	}
	return n, versions[0]
}

// readFile reads an optional file argument (changelog).
func readFile(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", usagef("%s: no such file", path)
		}
		return "", err
	}
	return string(b), nil
}

// warn prints a valid spec's warnings on stderr, one a line: "FILE: warning: PATH: MESSAGE".
// They do not change the exit code: the spec is valid and runs.
func (a *App) warn(file string, warnings []schemas.FieldWarning) {
	for _, w := range warnings {
		fmt.Fprintf(a.Stderr, "%s: warning: %s\n", file, w)
	}
}

// validateEach checks every file, so that one run reports every broken one: "ok: WHAT"
// for each good file, the errors of the others; the exit code is the worst refusal.
func (a *App) validateEach(files []string, check func(file string) (string, error)) error {
	var first error
	for _, f := range files {
		what, err := check(f)
		if err != nil {
			if first == nil || ExitCode(err) == ExitInvalidSpec && ExitCode(first) != ExitInvalidSpec {
				first = err
			}
			if len(files) > 1 {
				a.report(err)
			}
			continue
		}
		fmt.Fprintf(a.Stdout, "ok: %s\n", what)
	}
	if first != nil && len(files) > 1 {
		return &CodeError{Code: ExitCode(first), Err: first, Silent: true}
	}
	return first
}
