package codec_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"

	"github.com/zerodown/zerodown/codec"
)

type releaseInput struct {
	Service   string
	Changelog string
}

var secretInput = releaseInput{Service: "board", Changelog: "rotate the payment provider's webhook secret"}

func newKey(t *testing.T) string {
	t.Helper()
	k := make([]byte, codec.KeySize)
	_, err := rand.Read(k)
	require.NoError(t, err)
	return base64.StdEncoding.EncodeToString(k)
}

func newCodec(t *testing.T, lines ...string) *codec.Codec {
	t.Helper()
	keys, err := codec.ParseKeys(strings.Join(lines, "\n"))
	require.NoError(t, err)
	c, err := codec.New(keys)
	require.NoError(t, err)
	return c
}

// What the SDK writes into history through the codec holds no plaintext, and reads back.
func TestDataConverterSealsPayloads(t *testing.T) {
	c := newCodec(t, "k1 "+newKey(t))
	dc := converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c)
	p, err := dc.ToPayload(secretInput)
	require.NoError(t, err)
	wire, err := proto.Marshal(p)
	require.NoError(t, err)
	require.NotContains(t, string(wire), "webhook secret")
	require.NotContains(t, string(wire), "json/plain", "the inner encoding is sealed too")
	require.Equal(t, "k1", string(p.Metadata[codec.MetadataKeyID]))
	var back releaseInput
	require.NoError(t, dc.FromPayload(p, &back))
	require.Equal(t, secretInput, back)
}

// A new current key seals from now on; the old one still opens older history.
func TestKeyRotation(t *testing.T) {
	oldKey, newKeyText := newKey(t), newKey(t)
	before := newCodec(t, "2025 "+oldKey)
	sealedBefore, err := before.Encode([]*commonpb.Payload{plain("v1")})
	require.NoError(t, err)

	after := newCodec(t, "# rotated", "2026 "+newKeyText, "2025 "+oldKey)
	sealedAfter, err := after.Encode([]*commonpb.Payload{plain("v2")})
	require.NoError(t, err)
	require.Equal(t, "2026", string(sealedAfter[0].Metadata[codec.MetadataKeyID]))

	opened, err := after.Decode(append(sealedBefore, sealedAfter...))
	require.NoError(t, err)
	require.Equal(t, "v1", string(opened[0].Data))
	require.Equal(t, "v2", string(opened[1].Data))

	// Once the old key is dropped, its payloads say which key they need.
	_, err = newCodec(t, "2026 "+newKeyText).Decode(sealedBefore)
	require.ErrorContains(t, err, `sealed with key "2025", which is not among the keys given`)
}

func TestDecodeRefusesAlteredPayloads(t *testing.T) {
	// One key under two IDs: only the authenticated ID tells a relabelled payload apart.
	key := newKey(t)
	c := newCodec(t, "a "+key, "b "+key)
	sealed, err := c.Encode([]*commonpb.Payload{plain("approve")})
	require.NoError(t, err)

	flipped := proto.Clone(sealed[0]).(*commonpb.Payload)
	flipped.Data[len(flipped.Data)-1] ^= 1
	_, err = c.Decode([]*commonpb.Payload{flipped})
	require.ErrorContains(t, err, "wrong key or altered data")

	relabelled := proto.Clone(sealed[0]).(*commonpb.Payload)
	relabelled.Metadata[codec.MetadataKeyID] = []byte("b")
	_, err = c.Decode([]*commonpb.Payload{relabelled})
	require.ErrorContains(t, err, "wrong key or altered data", "the key ID is authenticated")

	short := proto.Clone(sealed[0]).(*commonpb.Payload)
	short.Data = short.Data[:5]
	_, err = c.Decode([]*commonpb.Payload{short})
	require.ErrorContains(t, err, "truncated")
}

// History written before encryption was turned on stays readable.
func TestDecodePassesPlainPayloadsThrough(t *testing.T) {
	c := newCodec(t, "k "+newKey(t))
	out, err := c.Decode([]*commonpb.Payload{plain("old")})
	require.NoError(t, err)
	require.Equal(t, "old", string(out[0].Data))
}

func TestParseKeysNamesTheProblem(t *testing.T) {
	good := newKey(t)
	short := base64.StdEncoding.EncodeToString([]byte("sixteen byte key"))
	for _, tc := range []struct{ text, want string }{
		{"", "no key given"},
		{"# only a comment\n", "no key given"},
		{"k1", `line 1: want "ID BASE64KEY"`},
		{"k1 " + good + "\nk1 " + good, `line 2: key ID "k1" given twice`},
		{"bad/id " + good, `key ID "bad/id"`},
		{"k1 not-base64!", `key "k1" is not base64`},
		{"k1 " + short, `key "k1" has 16 bytes; AES-256 needs 32`},
		{strings.Repeat("#", codec.MaxKeysBytes+1), "more than the"},
	} {
		_, err := codec.ParseKeys(tc.text)
		require.ErrorContains(t, err, tc.want, "%.40q", tc.text)
		if len(tc.text) > 3 {
			require.NotContains(t, err.Error(), good, "an error never shows key material")
		}
	}
	var many strings.Builder
	for i := range codec.MaxKeys + 1 {
		many.WriteString("k" + strings.Repeat("x", i%3) + string(rune('a'+i%26)) + string(rune('a'+i/26)) + " " + good + "\n")
	}
	_, err := codec.ParseKeys(many.String())
	require.ErrorContains(t, err, "more than 64 keys")
}

func TestLoadKeysFromEnv(t *testing.T) {
	t.Setenv(codec.KeysFileEnv, "")
	t.Setenv(codec.KeysEnv, "")
	keys, err := codec.LoadKeysFromEnv()
	require.NoError(t, err)
	require.Nil(t, keys, "no keys: encryption off")

	k1, k2 := newKey(t), newKey(t)
	t.Setenv(codec.KeysEnv, "new "+k2+";old "+k1)
	keys, err = codec.LoadKeysFromEnv()
	require.NoError(t, err)
	require.Equal(t, []string{"new", "old"}, keys.IDs())

	file := filepath.Join(t.TempDir(), "keys")
	require.NoError(t, os.WriteFile(file, []byte("fromfile "+k1+"\n"), 0o600))
	t.Setenv(codec.KeysFileEnv, file)
	keys, err = codec.LoadKeysFromEnv()
	require.NoError(t, err)
	require.Equal(t, "fromfile", keys.Current, "the file wins over the variable")

	t.Setenv(codec.KeysFileEnv, filepath.Join(t.TempDir(), "missing"))
	_, err = codec.LoadKeysFromEnv()
	require.ErrorContains(t, err, "missing")
}

func plain(s string) *commonpb.Payload {
	return &commonpb.Payload{Metadata: map[string][]byte{"encoding": []byte("json/plain")}, Data: []byte(s)}
}

// The SDK's own remote codec client, which `temporal --codec-endpoint` uses, decodes
// through the server; without the token it is refused.
func TestServerDecodesForTheTemporalCLI(t *testing.T) {
	c := newCodec(t, "k "+newKey(t))
	srv := httptest.NewServer(codec.NewServer(c, codec.ServerOptions{Token: "s3cret"}))
	defer srv.Close()
	dc := converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c)
	sealed, err := dc.ToPayloads(secretInput)
	require.NoError(t, err)

	remote := converter.NewRemotePayloadCodec(converter.RemotePayloadCodecOptions{
		Endpoint: srv.URL,
		ModifyRequest: func(r *http.Request) error {
			r.Header.Set("Authorization", "Bearer s3cret")
			return nil
		},
	})
	opened, err := remote.Decode(sealed.Payloads)
	require.NoError(t, err)
	require.Contains(t, string(opened[0].Data), "webhook secret")

	noToken := converter.NewRemotePayloadCodec(converter.RemotePayloadCodecOptions{Endpoint: srv.URL})
	_, err = noToken.Decode(sealed.Payloads)
	require.ErrorContains(t, err, "Unauthorized")

	_, err = remote.Encode([]*commonpb.Payload{plain("x")})
	require.ErrorContains(t, err, "Not Found", "encode is off unless asked for")
}

// The Temporal UI calls from the browser: a CORS preflight, then a POST with the
// namespace header and the payloads as JSON.
func TestServerDecodesForTheTemporalUI(t *testing.T) {
	c := newCodec(t, "k "+newKey(t))
	const ui = "http://localhost:8233"
	srv := httptest.NewServer(codec.NewServer(c, codec.ServerOptions{AllowOrigins: []string{ui}, AllowEncode: true, MaxBodyBytes: 1 << 16}))
	defer srv.Close()

	pre, err := http.NewRequest(http.MethodOptions, srv.URL+"/decode", nil)
	require.NoError(t, err)
	pre.Header.Set("Origin", ui)
	pre.Header.Set("Access-Control-Request-Method", "POST")
	resp, err := http.DefaultClient.Do(pre)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	require.Equal(t, ui, resp.Header.Get("Access-Control-Allow-Origin"))
	require.Contains(t, resp.Header.Get("Access-Control-Allow-Headers"), "X-Namespace")

	sealed, err := c.Encode([]*commonpb.Payload{plain(`{"Changelog":"rotate the webhook secret"}`)})
	require.NoError(t, err)
	body, err := json.Marshal(map[string]any{"payloads": []map[string]any{{
		"metadata": map[string]string{
			"encoding":          base64.StdEncoding.EncodeToString(sealed[0].Metadata["encoding"]),
			codec.MetadataKeyID: base64.StdEncoding.EncodeToString(sealed[0].Metadata[codec.MetadataKeyID]),
		},
		"data": base64.StdEncoding.EncodeToString(sealed[0].Data),
	}}})
	require.NoError(t, err)
	post := func(path string, body []byte, origin string) (*http.Response, string) {
		req, err := http.NewRequest(http.MethodPost, srv.URL+path, bytes.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Namespace", "default")
		req.Header.Set("Origin", origin)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp, string(b)
	}
	resp, out := post("/decode", body, ui)
	require.Equal(t, http.StatusOK, resp.StatusCode, out)
	require.Equal(t, ui, resp.Header.Get("Access-Control-Allow-Origin"))
	var decoded struct {
		Payloads []struct {
			Data []byte `json:"data"`
		} `json:"payloads"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &decoded))
	require.Contains(t, string(decoded.Payloads[0].Data), "rotate the webhook secret")

	resp, _ = post("/decode", body, "https://evil.example")
	require.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"), "other origins get no CORS grant")

	resp, out = post("/encode", []byte(`{"payloads":[{"metadata":{"encoding":"anNvbi9wbGFpbg=="},"data":"InNpZ25hbCI="}]}`), ui)
	require.Equal(t, http.StatusOK, resp.StatusCode, out)
	require.NotContains(t, out, "InNpZ25hbCI=")

	resp, _ = post("/decode", bytes.Repeat([]byte(" "), 1<<17), ui)
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	resp, _ = post("/decode", []byte("{not json"), ui)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
}
