package workerapp_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/internal/workerapp"
	"github.com/zerodown/zerodown/schemas"
)

func TestConnectionFlagsOverrideEnvironment(t *testing.T) {
	t.Setenv("TEMPORAL_CONFIG_FILE", t.TempDir()+"/none.toml")
	t.Setenv("TEMPORAL_ADDRESS", "temporal.example:7233")
	t.Setenv("TEMPORAL_NAMESPACE", "releases")

	opts, err := workerapp.Connection{}.ClientOptions()
	require.NoError(t, err)
	require.Equal(t, "temporal.example:7233", opts.HostPort)
	require.Equal(t, "releases", opts.Namespace)

	opts, err = workerapp.Connection{Address: "127.0.0.1:7233", Namespace: "ci"}.ClientOptions()
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:7233", opts.HostPort)
	require.Equal(t, "ci", opts.Namespace)
}

func TestConnectionDefaults(t *testing.T) {
	t.Setenv("TEMPORAL_CONFIG_FILE", t.TempDir()+"/none.toml")
	unsetenv(t, "TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "TEMPORAL_PROFILE")
	opts, err := workerapp.Connection{}.ClientOptions()
	require.NoError(t, err)
	require.Equal(t, "localhost:7233", opts.HostPort)
	require.Equal(t, "default", opts.Namespace)
}

func TestConnectionProfileFromConfigFile(t *testing.T) {
	file := t.TempDir() + "/temporal.toml"
	require.NoError(t, writeFile(file, "[profile.staging]\naddress = \"staging:7233\"\nnamespace = \"stg\"\n"))
	unsetenv(t, "TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "TEMPORAL_PROFILE")
	opts, err := workerapp.Connection{ConfigFile: file, Profile: "staging"}.ClientOptions()
	require.NoError(t, err)
	require.Equal(t, "staging:7233", opts.HostPort)
	require.Equal(t, "stg", opts.Namespace)

	_, err = workerapp.Connection{ConfigFile: file, Profile: "prod"}.ClientOptions()
	require.ErrorContains(t, err, "prod")
}

func TestBuildFleets(t *testing.T) {
	reg, err := workerapp.BuildFleets([]string{"local", " memory"}, "http://127.0.0.1:7070")
	require.NoError(t, err)
	require.Contains(t, reg, schemas.ProviderLocal)
	require.Contains(t, reg, schemas.ProviderMemory)

	reg, err = workerapp.BuildFleets(nil, "")
	require.NoError(t, err)
	require.Len(t, reg, len(workerapp.DefaultProviders))

	_, err = workerapp.BuildFleets([]string{"gcp"}, "")
	require.ErrorContains(t, err, `unknown fleet provider "gcp"`)
}

func TestRunFailsFastWhenTemporalIsUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := workerapp.Run(ctx, workerapp.Options{
		Connection:     workerapp.Connection{Address: "127.0.0.1:1"},
		ConnectTimeout: time.Second,
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	var ce *workerapp.ConnectError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, "127.0.0.1:1", ce.Address)
}

// A metrics port that another process holds fails the start, before the worker connects
// to Temporal (which here would fail too, with another message).
func TestRunRefusesTakenMetricsPort(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = taken.Close() })
	t.Setenv("TEMPORAL_ADDRESS", "127.0.0.1:1") // nothing listens on port 1
	err = workerapp.Run(context.Background(), workerapp.Options{MetricsAddress: taken.Addr().String()})
	require.ErrorContains(t, err, "metrics listener")
	require.ErrorContains(t, err, "address already in use")
}

func writeFile(path, text string) error { return os.WriteFile(path, []byte(text), 0o644) }

// unsetenv removes variables for the test: envconfig treats a set but empty variable
// as a value, so t.Setenv(k, "") would not do.
func unsetenv(t *testing.T, keys ...string) {
	for _, k := range keys {
		t.Setenv(k, "") // restores the old value when the test ends
		require.NoError(t, os.Unsetenv(k))
	}
}
