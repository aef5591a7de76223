package codec_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"google.golang.org/protobuf/proto"

	"github.com/zerodown/zerodown/codec"
	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/fleet/memory"
	"github.com/zerodown/zerodown/internal/cli"
	"github.com/zerodown/zerodown/internal/testharness"
	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/workflows"
)

const releaseSpec = `service: board
environment: prod
target: { provider: memory, instances: 2 }
bake: { method: none }
canary:
  instances: 1
  soak: 1s
  analysis: { interval: 1s, provider: health, failureLimit: 2 }
  approval: { required: true, approvers: [alice], timeout: 1h, onTimeout: abort }
promote: { strategy: rolling, batch: 50%, maxUnavailable: 0 }
notify: { slack: { channel: "#release-room-4242" } }
`

const changelog = "Rotate the payment provider's webhook secret\n"

// zerodownCLI runs the CLI in-process with the environment of the test.
func zerodownCLI(t *testing.T, ctx context.Context, stdout, stderr io.Writer, argv ...string) int {
	t.Helper()
	return (&cli.App{Stdout: stdout, Stderr: stderr, PollInterval: 100 * time.Millisecond}).Run(ctx, argv)
}

func runCLI(t *testing.T, argv ...string) (int, string, string) {
	t.Helper()
	var out, errOut testharness.SyncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := zerodownCLI(t, ctx, &out, &errOut, argv...)
	t.Logf("zerodown %v -> %d\n%s%s", argv, code, out.String(), errOut.String())
	return code, out.String(), errOut.String()
}

// A release carried out by the real worker and driven by the real CLI, both with codec
// keys in their environment: it succeeds, the history the server stores holds none of
// the spec, changelog or approval comment in clear, and `zerodown codec-server` opens
// it for the UI's HTTP call and for `temporal workflow show --codec-endpoint`.
func TestEncryptedReleaseThroughWorkerAndCLI(t *testing.T) {
	t.Setenv(codec.KeysFileEnv, "")
	t.Setenv(codec.KeysEnv, "2026 "+newKey(t)+";2025 "+newKey(t))
	srv := testharness.StartServer(t) // skips under -short
	mem := memory.New()
	mem.Seed("v1", 2)
	testharness.StartWorker(t, srv.Client, fleet.Registry{schemas.ProviderMemory: mem.Factory})

	dir := t.TempDir()
	specFile, notesFile := filepath.Join(dir, "board.yaml"), filepath.Join(dir, "CHANGES")
	require.NoError(t, os.WriteFile(specFile, []byte(releaseSpec), 0o600))
	require.NoError(t, os.WriteFile(notesFile, []byte(changelog), 0o600))

	type result struct {
		code        int
		out, errOut string
	}
	waited := make(chan result, 1)
	go func() {
		code, out, errOut := runCLI(t, "--address", srv.Address, "start", "-f", specFile, "--version", "v2", "--changelog", notesFile, "--by", "ci", "--wait")
		waited <- result{code, out, errOut}
	}()
	require.Eventually(t, func() bool {
		code, out, _ := runCLI(t, "--address", srv.Address, "status", "board/prod", "-o", "json")
		var st workflows.Status
		return code == cli.ExitSucceeded && json.Unmarshal([]byte(out), &st) == nil && st.Phase == workflows.PhaseAwaitingApproval
	}, time.Minute, 250*time.Millisecond)
	code, _, stderr := runCLI(t, "--address", srv.Address, "approve", "board/prod", "--by", "alice", "--comment", "graphs look fine, ship the webhook fix")
	require.Equal(t, cli.ExitSucceeded, code, stderr)
	res := <-waited
	require.Equal(t, cli.ExitSucceeded, res.code, res.errOut)
	require.Contains(t, res.out, "succeeded: board v2 to prod")
	st, err := mem.Describe(context.Background())
	require.NoError(t, err)
	require.Equal(t, map[string]int{"v2": 2}, st.ByVersion())

	// The history as the server stores it, read without the codec.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	id := schemas.ReleaseID("board", "prod")
	var raw bytes.Buffer
	var startInput []byte
	it := srv.Client.GetWorkflowHistory(ctx, id, "", false, 0)
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		b, err := proto.Marshal(ev)
		require.NoError(t, err)
		raw.Write(b)
		if in := ev.GetWorkflowExecutionStartedEventAttributes().GetInput(); in != nil {
			startInput, err = json.Marshal(map[string]any{"payloads": uiPayloads(in.GetPayloads())})
			require.NoError(t, err)
		}
	}
	for _, secret := range []string{"webhook secret", "#release-room-4242", "failureLimit", "maxUnavailable", "ship the webhook fix"} {
		require.False(t, strings.Contains(raw.String(), secret), "history holds %q in clear", secret)
	}
	for _, readable := range []string{id, workflows.ReleaseWorkflowName, workflows.TaskQueue, workflows.SAPhase} {
		require.True(t, strings.Contains(raw.String(), readable), "%q is documented as readable", readable)
	}

	// zerodown codec-server, as an operator runs it for the UI.
	tokenFile := filepath.Join(dir, "codec-token")
	require.NoError(t, os.WriteFile(tokenFile, []byte("tok-3141\n"), 0o600))
	const ui = "http://localhost:8233"
	var csErr testharness.SyncBuffer
	csCtx, stopCodecServer := context.WithCancel(context.Background())
	csDone := make(chan int, 1)
	go func() {
		csDone <- zerodownCLI(t, csCtx, io.Discard, &csErr, "codec-server", "--listen", "127.0.0.1:0", "--origin", ui, "--token-file", tokenFile)
	}()
	t.Cleanup(func() { stopCodecServer(); require.Equal(t, 0, <-csDone, csErr.String()) })
	listening := regexp.MustCompile(`codec server on (http://127\.0\.0\.1:\d+)`)
	require.Eventually(t, func() bool { return listening.MatchString(csErr.String()) }, 30*time.Second, 20*time.Millisecond, csErr.String())
	endpoint := listening.FindStringSubmatch(csErr.String())[1]
	require.NotContains(t, csErr.String(), "tok-3141", "the token is never printed")

	post := func(auth string) (int, string) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint+"/decode", bytes.NewReader(startInput))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Namespace", srv.Namespace)
		req.Header.Set("Origin", ui)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(body)
	}
	status, body := post("Bearer tok-3141")
	require.Equal(t, http.StatusOK, status, body)
	var decoded struct {
		Payloads []struct {
			Data []byte `json:"data"`
		} `json:"payloads"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &decoded))
	require.Len(t, decoded.Payloads, 1)
	require.Contains(t, string(decoded.Payloads[0].Data), "webhook secret")
	require.Contains(t, string(decoded.Payloads[0].Data), "#release-room-4242")
	status, _ = post("Bearer wrong")
	require.Equal(t, http.StatusUnauthorized, status)

	// The plain temporal CLI reads the release through the codec server, and cannot without it.
	exe, err := testharness.TemporalCLI()
	require.NoError(t, err)
	show := func(extra ...string) string {
		cmd := exec.CommandContext(ctx, exe, append([]string{"workflow", "show", "--workflow-id", id, "--address", srv.Address, "--output", "json"}, extra...)...)
		cmd.Env = append(os.Environ(), "TEMPORAL_CONFIG_FILE="+filepath.Join(dir, "none.toml"))
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, string(out))
		return string(out)
	}
	opened := startInputOf(t, show("--codec-endpoint", endpoint, "--codec-auth", "Bearer tok-3141"))
	require.Equal(t, "json/plain", string(opened.Metadata["encoding"]))
	require.True(t, strings.Contains(string(opened.Data), "webhook secret"), "temporal workflow show --codec-endpoint opens the input")
	sealed := startInputOf(t, show())
	require.Equal(t, codec.EncodingEncrypted, string(sealed.Metadata["encoding"]))
	require.False(t, strings.Contains(string(sealed.Data), "webhook secret"))
}

// startInputOf picks the start event's input out of `temporal workflow show -o json`.
func startInputOf(t *testing.T, showJSON string) commonpb.Payload {
	t.Helper()
	var history struct {
		Events []struct {
			Started *struct {
				Input struct {
					Payloads []struct {
						Metadata map[string][]byte `json:"metadata"`
						Data     []byte            `json:"data"`
					} `json:"payloads"`
				} `json:"input"`
			} `json:"workflowExecutionStartedEventAttributes"`
		} `json:"events"`
	}
	require.NoError(t, json.Unmarshal([]byte(showJSON), &history))
	require.NotEmpty(t, history.Events)
	started := history.Events[0].Started
	require.NotNil(t, started)
	require.Len(t, started.Input.Payloads, 1)
	p := started.Input.Payloads[0]
	return commonpb.Payload{Metadata: p.Metadata, Data: p.Data}
}

// uiPayloads writes payloads as the Temporal UI posts them: metadata values and data in
// base64, in the proto JSON mapping.
func uiPayloads(ps []*commonpb.Payload) []map[string]any {
	out := make([]map[string]any, 0, len(ps))
	for _, p := range ps {
		md := map[string]string{}
		for k, v := range p.GetMetadata() {
			md[k] = base64.StdEncoding.EncodeToString(v)
		}
		out = append(out, map[string]any{"metadata": md, "data": base64.StdEncoding.EncodeToString(p.GetData())})
	}
	return out
}
