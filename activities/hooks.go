package activities

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"

	"github.com/zerodown/zerodown/schemas"
)

// HookInput runs one hook against the given new instances.
type HookInput struct {
	Target  schemas.Target `json:"target"`
	Hook    schemas.Hook   `json:"hook"`
	Stage   string         `json:"stage"` // preTraffic | postPromote
	Version string         `json:"version"`
	IDs     []string       `json:"ids"`
}

// RunHook runs an HTTP check against each instance directly (not through the load
// balancer, so a bad instance cannot hide behind good ones), or a command. The workflow
// retries a failing hook a few times before it rolls back.
func (a *Activities) RunHook(ctx context.Context, in HookInput) error {
	f, err := a.fleet(in.Target)
	if err != nil {
		return err
	}
	st, err := f.Describe(ctx)
	if err != nil {
		return classify(err)
	}
	var addrs []string
	for _, id := range in.IDs {
		inst, ok := st.Find(id)
		if !ok {
			return fmt.Errorf("hook %s: instance %s is gone", in.Hook.Label(), id)
		}
		addrs = append(addrs, inst.Address)
	}
	if h := in.Hook.HTTP; h != nil {
		for i, addr := range addrs {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+h.Path, nil)
			if err != nil {
				return nonRetryable(ErrTypeInvalidConfig, err)
			}
			resp, err := a.HTTP.Do(req)
			if err != nil {
				return fmt.Errorf("hook %s on %s: %w", in.Hook.Label(), in.IDs[i], err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != h.Expect {
				return fmt.Errorf("hook %s on %s: GET %s answered %d, want %d", in.Hook.Label(), in.IDs[i], h.Path, resp.StatusCode, h.Expect)
			}
		}
		return nil
	}
	if c := in.Hook.Command; c != nil && len(c.Args) > 0 {
		cmd := exec.CommandContext(ctx, c.Args[0], c.Args[1:]...)
		cmd.Env = append(os.Environ(),
			"ZERODOWN_STAGE="+in.Stage,
			"ZERODOWN_VERSION="+in.Version,
			"ZERODOWN_INSTANCES="+strings.Join(addrs, ","))
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			tail := out.String()
			if len(tail) > 512 {
				tail = tail[len(tail)-512:]
			}
			return fmt.Errorf("hook %s: %v: %s", in.Hook.Label(), err, strings.TrimSpace(tail))
		}
		return nil
	}
	return nonRetryable(ErrTypeInvalidConfig, fmt.Errorf("hook %s has neither http nor command", in.Hook.Label()))
}
