package workerapp_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/fleet/memory"
	"github.com/zerodown/zerodown/internal/cli"
	"github.com/zerodown/zerodown/internal/testharness"
	"github.com/zerodown/zerodown/internal/workerapp"
	"github.com/zerodown/zerodown/schemas"
)

// connectionEnv lists every variable of the Temporal client environment configuration a
// case may set; each case starts with all of them unset.
var connectionEnv = []string{
	"TEMPORAL_CONFIG_FILE", "TEMPORAL_PROFILE", "TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "TEMPORAL_API_KEY",
	"TEMPORAL_TLS", "TEMPORAL_TLS_SERVER_CA_CERT_PATH", "TEMPORAL_TLS_SERVER_NAME",
	"TEMPORAL_TLS_CLIENT_CERT_PATH", "TEMPORAL_TLS_CLIENT_KEY_PATH", "TEMPORAL_TLS_DISABLE_HOST_VERIFICATION",
}

func setConnectionEnv(t *testing.T, env map[string]string) {
	t.Helper()
	for _, k := range connectionEnv {
		t.Setenv(k, "") // restored when the test ends
		require.NoError(t, os.Unsetenv(k))
	}
	t.Setenv("TEMPORAL_CONFIG_FILE", t.TempDir()+"/none.toml") // no profile of this machine's user
	for k, v := range env {
		t.Setenv(k, v)
	}
}

// zerodownList runs `zerodown --address A list` in-process, as the binary would.
func zerodownList(t *testing.T, address string) (int, string) {
	t.Helper()
	var out, errOut testharness.SyncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := (&cli.App{Stdout: &out, Stderr: &errOut}).Run(ctx, []string{"--address", address, "list"})
	t.Logf("zerodown list -> %d\n%s%s", code, out.String(), errOut.String())
	return code, errOut.String()
}

// The CLI and the worker reach a Temporal behind TLS, mTLS and an API key with nothing
// but the standard environment configuration; each wrong setting fails with a message
// that names it.
func TestTLSAndAPIKeyConnections(t *testing.T) {
	srv := testharness.StartServer(t) // skips under -short
	pki := newTestPKI(t)
	tlsOnly := startFrontProxy(t, srv.Address, proxyConfig{cert: pki.serverCert})
	mtls := startFrontProxy(t, srv.Address, proxyConfig{cert: pki.serverCert, clientCAs: pki.clientCAs})
	const apiKey = "zd-test-key-0123456789"
	keyed := startFrontProxy(t, srv.Address, proxyConfig{cert: pki.serverCert, apiKey: apiKey})

	trustServer := map[string]string{
		"TEMPORAL_TLS": "true", "TEMPORAL_TLS_SERVER_CA_CERT_PATH": pki.caFile, "TEMPORAL_TLS_SERVER_NAME": serverName,
	}
	with := func(extra map[string]string) map[string]string {
		env := map[string]string{}
		for k, v := range trustServer {
			env[k] = v
		}
		for k, v := range extra {
			env[k] = v
		}
		return env
	}
	clientCert := map[string]string{"TEMPORAL_TLS_CLIENT_CERT_PATH": pki.clientCertFile, "TEMPORAL_TLS_CLIENT_KEY_PATH": pki.clientKeyFile}

	for _, tc := range []struct {
		name    string
		proxy   *frontProxy
		env     map[string]string
		wantErr []string // empty: must succeed
	}{
		{"server CA and name", tlsOnly, trustServer, nil},
		{"client certificate", mtls, with(clientCert), nil},
		{"API key", keyed, with(map[string]string{"TEMPORAL_API_KEY": apiKey}), nil},

		{"CA not given", tlsOnly, map[string]string{"TEMPORAL_TLS": "true", "TEMPORAL_TLS_SERVER_NAME": serverName},
			[]string{"unknown authority", "TEMPORAL_TLS_SERVER_CA_CERT_PATH"}},
		{"wrong CA", tlsOnly, with(map[string]string{"TEMPORAL_TLS_SERVER_CA_CERT_PATH": pki.otherCAFile}),
			[]string{"unknown authority", "TEMPORAL_TLS_SERVER_CA_CERT_PATH"}},
		{"wrong server name", tlsOnly, with(map[string]string{"TEMPORAL_TLS_SERVER_NAME": "elsewhere.test"}),
			[]string{"elsewhere.test", "TEMPORAL_TLS_SERVER_NAME"}},
		{"server name not given", tlsOnly, map[string]string{"TEMPORAL_TLS": "true", "TEMPORAL_TLS_SERVER_CA_CERT_PATH": pki.caFile},
			[]string{"127.0.0.1", "TEMPORAL_TLS_SERVER_NAME"}},
		{"client certificate missing", mtls, trustServer,
			[]string{"TEMPORAL_TLS_CLIENT_CERT_PATH"}},
		{"TLS off against a TLS server", tlsOnly, nil,
			[]string{"cannot connect to Temporal at", "TEMPORAL_TLS=true"}},
		{"wrong API key", keyed, with(map[string]string{"TEMPORAL_API_KEY": "zd-stolen-key"}),
			[]string{"invalid API key", "TEMPORAL_API_KEY"}},
		{"API key missing", keyed, trustServer,
			[]string{"invalid API key", "TEMPORAL_API_KEY"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			setConnectionEnv(t, tc.env)
			before, refusedBefore := tc.proxy.Calls.Load(), tc.proxy.KeyRefusals.Load()
			code, stderr := zerodownList(t, tc.proxy.Address)
			if len(tc.wantErr) == 0 {
				require.Equal(t, cli.ExitSucceeded, code, stderr)
				require.Greater(t, tc.proxy.Calls.Load(), before, "the call went through the proxy")
				return
			}
			require.Equal(t, cli.ExitError, code)
			for _, want := range tc.wantErr {
				require.Contains(t, stderr, want)
			}
			require.NotContains(t, stderr, "zd-stolen-key", "an API key never reaches the output")
			if tc.proxy == keyed {
				require.Greater(t, tc.proxy.KeyRefusals.Load(), refusedBefore, "the proxy itself refused the key")
			}
		})
	}

	// The worker connects the same way: through mTLS, then with the API key.
	for name, tc := range map[string]struct {
		proxy *frontProxy
		env   map[string]string
	}{
		"worker with client certificate": {mtls, with(clientCert)},
		"worker with API key":            {keyed, with(map[string]string{"TEMPORAL_API_KEY": apiKey})},
	} {
		t.Run(name, func(t *testing.T) {
			setConnectionEnv(t, tc.env)
			polls := tc.proxy.Polls.Load()
			ready := make(chan workerapp.Ready, 1)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				done <- workerapp.Run(ctx, workerapp.Options{
					Connection: workerapp.Connection{Address: tc.proxy.Address},
					Fleets:     fleet.Registry{schemas.ProviderMemory: memory.New().Factory},
					TaskQueue:  "tls-" + t.Name(), ConnectTimeout: 20 * time.Second, StopTimeout: 5 * time.Second,
					Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
					OnReady: func(r workerapp.Ready) { ready <- r },
				})
			}()
			select {
			case <-ready:
			case err := <-done:
				t.Fatalf("the worker did not start: %v", err)
			case <-time.After(time.Minute):
				t.Fatal("the worker did not start within a minute")
			}
			require.Eventually(t, func() bool { return tc.proxy.Polls.Load() > polls }, 30*time.Second, 50*time.Millisecond,
				"the worker polls through the proxy")
			cancel()
			require.NoError(t, <-done)
		})
	}
}
