package workerapp_test

import (
	"crypto/rand"
	"encoding/base64"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/codec"
	"github.com/zerodown/zerodown/internal/workerapp"
)

// Every client the connection builds seals payloads once keys are set, and a bad key
// set stops the connection with a message naming the variable, not the key.
func TestConnectionSealsPayloadsWhenKeysAreSet(t *testing.T) {
	t.Setenv("TEMPORAL_CONFIG_FILE", t.TempDir()+"/none.toml")
	t.Setenv(codec.KeysFileEnv, "")
	t.Setenv(codec.KeysEnv, "")
	opts, err := workerapp.Connection{}.ClientOptions()
	require.NoError(t, err)
	require.Nil(t, opts.DataConverter, "no keys: the SDK's default converter")

	key := make([]byte, codec.KeySize)
	_, err = rand.Read(key)
	require.NoError(t, err)
	t.Setenv(codec.KeysEnv, "k1 "+base64.StdEncoding.EncodeToString(key))
	opts, err = workerapp.Connection{}.ClientOptions()
	require.NoError(t, err)
	require.NotNil(t, opts.DataConverter)
	p, err := opts.DataConverter.ToPayload("rotate the webhook secret")
	require.NoError(t, err)
	require.Equal(t, codec.EncodingEncrypted, string(p.Metadata[codec.MetadataEncoding]))
	require.NotContains(t, string(p.Data), "webhook")

	t.Setenv(codec.KeysEnv, "k1 c2hvcnQ=")
	_, err = workerapp.Connection{}.ClientOptions()
	require.ErrorContains(t, err, "$"+codec.KeysEnv)
	require.NotContains(t, err.Error(), "c2hvcnQ=")
}
