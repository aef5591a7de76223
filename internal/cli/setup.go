package cli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/grpc/codes"

	"github.com/zerodown/zerodown/workflows"
)

// cloudHostSuffix is how Temporal Cloud endpoints end; their operator API may refuse
// search-attribute changes, which are made with tcld or the Cloud UI instead.
const cloudHostSuffix = ".tmprl.cloud"

// minRetention is the least history retention setup recommends: a release's history,
// its audit trail of who approved what, should outlive a week's holiday.
const minRetention = 7 * 24 * time.Hour

func (a *App) setupCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "setup",
		Short: "Prepare a Temporal namespace for zerodown (idempotent)",
		Long: `setup registers zerodown's search attributes (` + strings.Join(workflows.SearchAttributes, ", ") + `,
all Keyword) on the namespace through the operator API, and says what else the namespace
needs. Run it again at any time: what is already there is left as is.

On Temporal Cloud the operator API may refuse: setup then prints the tcld commands
(or the Cloud UI steps) that do the same.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.dial(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			opts, err := a.conn.ClientOptions()
			if err != nil {
				return WithCode(ExitError, err)
			}
			return a.setup(cmd.Context(), c, opts.HostPort, opts.Namespace)
		},
	}
}

func (a *App) setup(ctx context.Context, c client.Client, address, namespace string) error {
	out := a.Stdout
	ctx, cancel := context.WithTimeout(ctx, 3*rpcTimeout)
	defer cancel()
	fmt.Fprintf(out, "namespace %s at %s\n", namespace, address)

	refused := false
	missing, err := missingSearchAttributes(ctx, c, namespace)
	if err == nil && len(missing) > 0 {
		add := map[string]enumspb.IndexedValueType{}
		for _, name := range missing {
			add[name] = enumspb.INDEXED_VALUE_TYPE_KEYWORD
		}
		_, err = c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{Namespace: namespace, SearchAttributes: add})
		if err == nil {
			// Registration is asynchronous on some stores: read back what the server says.
			missing, err = missingSearchAttributes(ctx, c, namespace)
			if err == nil && len(missing) > 0 {
				err = fmt.Errorf("still missing after registering: %s", strings.Join(missing, ", "))
			}
			if err == nil {
				fmt.Fprintf(out, "search attributes: registered %s (Keyword)\n", strings.Join(sortedKeys(add), ", "))
			}
		}
	} else if err == nil {
		fmt.Fprintf(out, "search attributes: nothing to do, all %d already registered (%s)\n", len(workflows.SearchAttributes), strings.Join(workflows.SearchAttributes, ", "))
	}
	if err != nil {
		var wrongType *wrongTypeError
		if asWrongType(err, &wrongType) {
			return WithCode(ExitError, err)
		}
		if !operatorRefused(err, address) {
			return WithCode(ExitError, fmt.Errorf("register search attributes on %s: %w", namespace, err))
		}
		printCloudSteps(out, namespace, err)
		refused = true
	}

	if ns, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: namespace}); err == nil {
		retention := ns.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration()
		if retention < minRetention {
			fmt.Fprintf(out, "retention: %s; a release's history (its approvals, its rollbacks) is deleted that long after it ends; consider at least %s (temporal operator namespace update -n %s --retention %dh)\n",
				days(retention), days(minRetention), namespace, int(minRetention.Hours()))
		} else {
			fmt.Fprintf(out, "retention: %s, enough\n", days(retention))
		}
	}
	fmt.Fprintf(out, "workers: run `zerodown worker` (task queue %q) with the same connection settings; two or more for availability\n", workflows.TaskQueue)
	fmt.Fprintln(out, "history encryption: set $ZERODOWN_CODEC_KEYS_FILE for the worker, the CLI and the Slack bridge alike, and serve `zerodown codec-server` for the UI (docs/production.md)")
	if refused {
		return WithCode(ExitError, fmt.Errorf("search attributes are not registered on %s: follow the steps above", namespace))
	}
	return nil
}

// missingSearchAttributes lists zerodown's search attributes the namespace lacks; one
// registered with another type than Keyword is an error setup cannot repair.
func missingSearchAttributes(ctx context.Context, c client.Client, namespace string) ([]string, error) {
	resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, name := range workflows.SearchAttributes {
		typ, ok := resp.GetCustomAttributes()[name]
		if !ok {
			missing = append(missing, name)
			continue
		}
		if typ != enumspb.INDEXED_VALUE_TYPE_KEYWORD {
			return nil, &wrongTypeError{name: name, typ: typ}
		}
	}
	return missing, nil
}

type wrongTypeError struct {
	name string
	typ  enumspb.IndexedValueType
}

func (e *wrongTypeError) Error() string {
	return fmt.Sprintf("search attribute %s is registered as %s, zerodown needs Keyword: remove it (temporal operator search-attribute remove --name %s) and run setup again",
		e.name, e.typ, e.name)
}

func asWrongType(err error, target **wrongTypeError) bool {
	e, ok := err.(*wrongTypeError)
	if ok {
		*target = e
	}
	return ok
}

// operatorRefused tells a refusal of the operator API (Temporal Cloud, or a namespace
// whose credentials may not administer it) from any other failure.
func operatorRefused(err error, address string) bool {
	switch serviceerror.ToStatus(err).Code() {
	case codes.PermissionDenied, codes.Unimplemented, codes.Unauthenticated:
		return true
	}
	host, _, _ := strings.Cut(address, ":")
	return strings.HasSuffix(host, cloudHostSuffix)
}

func printCloudSteps(out io.Writer, namespace string, err error) {
	fmt.Fprintf(out, "search attributes: the server refused to register them (%s).\n", oneLine(err.Error()))
	fmt.Fprintln(out, "On Temporal Cloud, register them with tcld (or in the Cloud UI: Namespaces > "+namespace+" > Custom Search Attributes > Add, type Keyword):")
	for _, name := range workflows.SearchAttributes {
		fmt.Fprintf(out, "  tcld namespace search-attributes add --namespace %s --search-attribute \"%s=Keyword\"\n", namespace, name)
	}
	fmt.Fprintln(out, "then run `zerodown setup` again to check.")
}

// days writes a retention the way people say it.
func days(d time.Duration) string {
	n := d.Hours() / 24
	if n == 1 {
		return "1 day"
	}
	if n == float64(int(n)) {
		return fmt.Sprintf("%d days", int(n))
	}
	return d.String()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
