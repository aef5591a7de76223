package codec_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"

	"github.com/zerodown/zerodown/codec"
	"github.com/zerodown/zerodown/internal/cli"
	"github.com/zerodown/zerodown/internal/testharness"
	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/workflows"
)

const historySpec = `
service: %s
environment: prod
target: { provider: memory, instances: 2 }
bake: { method: none }
canary: { instances: 1, soak: 1h }
promote: { strategy: rolling, batch: 50%% }
notify: { slack: { channel: "#release-room-4242" } }
`

// Words of the spec and the changelog that must not be readable in history.
var secretWords = []string{"webhook secret", "#release-room-4242", "maxUnavailable", "failureLimit"}

// rawHistory starts a release of service through c (no worker needed: the start event
// alone holds the spec and the changelog) and returns its history as the server stores it.
func rawHistory(t *testing.T, ctx context.Context, c, plain client.Client, service string) ([]byte, *client.WorkflowRun) {
	t.Helper()
	spec, err := schemas.Parse([]byte(fmt.Sprintf(historySpec, service)))
	require.NoError(t, err)
	run, err := c.ExecuteWorkflow(ctx, cli.StartOptions(spec, "v2"), workflows.ReleaseWorkflowName, workflows.ReleaseInput{
		Spec: *spec, Version: "v2", StartedBy: "alice", Changelog: "Rotate the payment provider's webhook secret",
	})
	require.NoError(t, err)
	var raw bytes.Buffer
	it := plain.GetWorkflowHistory(ctx, run.GetID(), run.GetRunID(), false, 0)
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		b, err := proto.Marshal(ev)
		require.NoError(t, err)
		raw.Write(b)
	}
	t.Cleanup(func() { _ = plain.TerminateWorkflow(context.Background(), run.GetID(), run.GetRunID(), "test over") })
	return raw.Bytes(), &run
}

// With the codec, the history a Temporal server stores holds no spec or changelog text,
// while the same release started without it does; the codec server then decodes the
// start event's input for an HTTP client, as the UI would.
func TestHistoryIsSealedOnADevServer(t *testing.T) {
	srv := testharness.StartServer(t) // skips under -short
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := newCodec(t, "k "+newKey(t))
	sealed, err := client.Dial(client.Options{
		HostPort: srv.Address, Namespace: srv.Namespace,
		DataConverter: converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c),
	})
	require.NoError(t, err)
	defer sealed.Close()

	clear, _ := rawHistory(t, ctx, srv.Client, srv.Client, "plainboard")
	for _, w := range secretWords {
		require.Contains(t, string(clear), w, "the scan sees plaintext when there is no codec")
	}

	raw, run := rawHistory(t, ctx, sealed, srv.Client, "board")
	for _, w := range secretWords {
		require.NotContains(t, string(raw), w, "history holds %q in clear", w)
	}
	require.Contains(t, string(raw), "release/board/prod", "workflow IDs stay readable, as documented")

	// The UI fetches the event and posts its payloads to the codec server.
	ev, err := srv.Client.GetWorkflowHistory(ctx, (*run).GetID(), (*run).GetRunID(), false, 0).Next()
	require.NoError(t, err)
	input := ev.GetWorkflowExecutionStartedEventAttributes().GetInput().GetPayloads()
	require.NotEmpty(t, input)
	hs := httptest.NewServer(codec.NewServer(c, codec.ServerOptions{}))
	defer hs.Close()
	opened, err := converter.NewRemotePayloadCodec(converter.RemotePayloadCodecOptions{Endpoint: hs.URL}).Decode(input)
	require.NoError(t, err)
	require.Contains(t, string(opened[0].Data), "webhook secret")
	require.Contains(t, string(opened[0].Data), "#release-room-4242")
}
