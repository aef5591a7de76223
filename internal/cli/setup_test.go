package cli_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"

	"github.com/zerodown/zerodown/internal/testharness"
	"github.com/zerodown/zerodown/workflows"
)

// On a namespace without zerodown's search attributes, setup registers them, lists works
// afterwards, and a second run changes nothing and says so.
func TestSetupRegistersSearchAttributesOnce(t *testing.T) {
	srv := testharness.StartBareServer(t) // skips under -short
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	registered := func() map[string]enumspb.IndexedValueType {
		resp, err := srv.Client.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: srv.Namespace})
		require.NoError(t, err)
		return resp.GetCustomAttributes()
	}
	for _, name := range workflows.SearchAttributes {
		require.NotContains(t, registered(), name, "the bare server starts without zerodown's attributes")
	}
	r := zerodown(t, nil, "--address", srv.Address, "setup")
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, "search attributes: registered")
	after := registered()
	for _, name := range workflows.SearchAttributes {
		require.Equal(t, enumspb.INDEXED_VALUE_TYPE_KEYWORD, after[name], name)
		require.Contains(t, r.stdout, name)
	}
	require.Contains(t, r.stdout, "retention:")

	r = zerodown(t, nil, "--address", srv.Address, "list")
	require.Equal(t, 0, r.code, r.stderr)

	r = zerodown(t, nil, "--address", srv.Address, "setup")
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, "nothing to do")
	require.NotContains(t, r.stdout, "registered "+workflows.SAService)
	require.Equal(t, after, registered(), "the second run changes nothing")
}
