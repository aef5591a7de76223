package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/zerodown/zerodown/workflows"
)

// ReleaseRow is one release as `list` shows it.
type ReleaseRow struct {
	ID          string    `json:"id"`
	RunID       string    `json:"runId"`
	Service     string    `json:"service"`
	Environment string    `json:"environment"`
	Version     string    `json:"version"`
	Phase       string    `json:"phase"`
	Status      string    `json:"status"`
	Started     time.Time `json:"started"`
	Closed      time.Time `json:"closed,omitzero"`
}

// ListQuery is the visibility query for releases. Runs that continued as new are left
// out: a long soak is several runs but one release.
func ListQuery(service, environment string, running bool) string {
	q := []string{
		fmt.Sprintf("WorkflowType = '%s'", workflows.ReleaseWorkflowName),
		"ExecutionStatus != 'ContinuedAsNew'",
	}
	if service != "" {
		q = append(q, fmt.Sprintf("%s = '%s'", workflows.SAService, escapeQuery(service)))
	}
	if environment != "" {
		q = append(q, fmt.Sprintf("%s = '%s'", workflows.SAEnvironment, escapeQuery(environment)))
	}
	if running {
		q = append(q, "ExecutionStatus = 'Running'")
	}
	return strings.Join(q, " AND ")
}

func escapeQuery(s string) string { return strings.ReplaceAll(s, "'", "\\'") }

func (a *App) listCommand() *cobra.Command {
	var service, environment, output string
	var running bool
	var limit int
	cmd := &cobra.Command{
		Use:   "list [--service S] [--env E] [--running] [--limit N] [--output text|json]",
		Short: "List releases, newest first (from Temporal visibility)",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != OutputText && output != OutputJSON {
				return usagef("--output must be %s or %s", OutputText, OutputJSON)
			}
			if limit <= 0 {
				return usagef("--limit must be positive")
			}
			ctx := cmd.Context()
			c, err := a.dial(ctx)
			if err != nil {
				return err
			}
			defer c.Close()
			rows := []ReleaseRow{}
			var token []byte
			for len(rows) < limit {
				resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
					Namespace:     a.namespace(),
					PageSize:      int32(min(limit, 1000)),
					NextPageToken: token,
					Query:         ListQuery(service, environment, running),
				})
				if err != nil {
					return WithCode(ExitError, fmt.Errorf("list releases: %w", err))
				}
				for _, info := range resp.GetExecutions() {
					if len(rows) == limit {
						break
					}
					rows = append(rows, releaseRow(info.GetExecution().GetWorkflowId(), info.GetExecution().GetRunId(),
						info.GetSearchAttributes(), info.GetStatus().String(), info.GetStartTime().AsTime(), info.GetCloseTime()))
				}
				if token = resp.GetNextPageToken(); len(token) == 0 {
					break
				}
			}
			if output == OutputJSON {
				enc := json.NewEncoder(a.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(rows)
			}
			tw := tabwriter.NewWriter(a.Stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tVERSION\tPHASE\tSTATUS\tSTARTED")
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.ID, r.Version, r.Phase, r.Status, r.Started.Local().Format("2006-01-02 15:04:05"))
			}
			return tw.Flush()
		},
	}
	f := cmd.Flags()
	f.StringVar(&service, "service", "", "only releases of this service")
	f.StringVar(&environment, "env", "", "only releases to this environment")
	f.BoolVar(&running, "running", false, "only releases still running")
	f.IntVar(&limit, "limit", 20, "at most this many releases")
	f.StringVarP(&output, "output", "o", OutputText, "text or json")
	return cmd
}

// timestamp is what a protobuf timestamp offers; nil-safe through its getters.
type timestamp interface{ AsTime() time.Time }

func releaseRow(id, runID string, sa *commonpb.SearchAttributes, status string, started time.Time, closed timestamp) ReleaseRow {
	get := func(name string) string { return workflows.SearchAttribute(sa, name) }
	r := ReleaseRow{
		ID: id, RunID: runID, Status: status, Started: started,
		Service: get(workflows.SAService), Environment: get(workflows.SAEnvironment),
		Version: get(workflows.SAVersion), Phase: get(workflows.SAPhase),
	}
	if status != "Running" && closed != nil {
		r.Closed = closed.AsTime()
	}
	return r
}
