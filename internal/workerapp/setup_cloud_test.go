package workerapp_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/internal/cli"
	"github.com/zerodown/zerodown/internal/testharness"
	"github.com/zerodown/zerodown/workflows"
)

// Where the operator API is refused (Temporal Cloud to a worker's API key; here a
// stand-in proxy in front of a bare dev server refuses it the way Cloud answers),
// `zerodown setup` prints the tcld commands for each attribute and exits 1.
func TestSetupPrintsCloudStepsWhenRefused(t *testing.T) {
	srv := testharness.StartBareServer(t) // skips under -short
	pki := newTestPKI(t)
	const apiKey = "zd-worker-key"
	cloud := startFrontProxy(t, srv.Address, proxyConfig{cert: pki.serverCert, apiKey: apiKey, refusePrefix: "/temporal.api.operatorservice."})
	setConnectionEnv(t, map[string]string{
		"TEMPORAL_TLS_SERVER_CA_CERT_PATH": pki.caFile, "TEMPORAL_TLS_SERVER_NAME": serverName, "TEMPORAL_API_KEY": apiKey,
	})
	var out, errOut testharness.SyncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := (&cli.App{Stdout: &out, Stderr: &errOut}).Run(ctx, []string{"--address", cloud.Address, "--namespace", srv.Namespace, "setup"})
	t.Logf("setup -> %d\n%s%s", code, out.String(), errOut.String())
	require.Equal(t, cli.ExitError, code)
	require.Contains(t, out.String(), "refused to register them")
	for _, name := range workflows.SearchAttributes {
		require.Contains(t, out.String(), `tcld namespace search-attributes add --namespace default --search-attribute "`+name+`=Keyword"`)
	}
	require.Contains(t, errOut.String(), "search attributes are not registered on default")
	require.NotContains(t, out.String()+errOut.String(), apiKey)
}
