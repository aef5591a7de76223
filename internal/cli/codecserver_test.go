package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/codec"
	"github.com/zerodown/zerodown/internal/cli"
)

// codec-server refuses to start without keys or with a token file that is not one token,
// and says which setting is wrong.
func TestCodecServerRefusesBadSettings(t *testing.T) {
	t.Setenv(codec.KeysFileEnv, "")
	t.Setenv(codec.KeysEnv, "")
	r := zerodown(t, nil, "codec-server")
	require.Equal(t, cli.ExitUsage, r.code)
	require.Contains(t, r.stderr, "no codec keys")
	require.Contains(t, r.stderr, codec.KeysFileEnv)

	t.Setenv(codec.KeysEnv, "k1 "+strings.Repeat("A", 43)+"=")
	dir := t.TempDir()
	for name, content := range map[string]string{
		"empty":    "\n",
		"two":      "one two\n",
		"too-long": strings.Repeat("x", 5000),
	} {
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
		r = zerodown(t, nil, "codec-server", "--listen", "127.0.0.1:0", "--token-file", path)
		require.Equal(t, cli.ExitUsage, r.code, name)
		require.Contains(t, r.stderr, "--token-file "+path, name)
	}
	r = zerodown(t, nil, "codec-server", "--listen", "127.0.0.1:0", "--token-file", filepath.Join(dir, "missing"))
	require.Equal(t, cli.ExitUsage, r.code)
	require.Contains(t, r.stderr, "no such file")
}
