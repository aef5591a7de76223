package local

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/internal/localcloud/api"
)

// WaitHealthy polls the daemon until every instance passes its health checks. It
// fails at once when an instance's process has exited, with the end of its log, since
// a crash on start never heals.
func (f *Fleet) WaitHealthy(ctx context.Context, ids []string) error {
	return f.waitFor(ctx, ids, "healthy", func(in api.Instance) (bool, error) {
		switch in.Status {
		case api.StatusExited:
			return false, exitedError(in)
		case api.StatusStopping, api.StatusTerminated:
			return false, fmt.Errorf("instance %s is %s and will never be healthy", in.ID, in.Status)
		}
		return in.Healthy, nil
	}, false)
}

// WaitDrained polls the daemon until the instances hold no connections. Terminated,
// exited and unknown instances hold none.
func (f *Fleet) WaitDrained(ctx context.Context, ids []string) error {
	return f.waitFor(ctx, ids, "drained", func(in api.Instance) (bool, error) {
		if in.Attached {
			return false, fmt.Errorf("instance %s is still attached: detach it before waiting for it to drain", in.ID)
		}
		return in.Connections == 0 && !in.Draining, nil
	}, true)
}

// waitFor polls until done holds for every instance, reporting progress on each poll
// so that an activity heartbeats while it waits.
func (f *Fleet) waitFor(ctx context.Context, ids []string, what string, done func(api.Instance) (bool, error), missingOK bool) error {
	if len(ids) == 0 {
		return nil
	}
	t := time.NewTicker(f.poll)
	defer t.Stop()
	for {
		st, err := f.state(ctx)
		if err != nil {
			return err
		}
		byID := make(map[string]api.Instance, len(st.Instances))
		for _, in := range st.Instances {
			byID[in.ID] = in
		}
		var pending []string
		for _, id := range ids {
			in, ok := byID[id]
			if !ok {
				if missingOK {
					continue
				}
				return fmt.Errorf("%w: %s", fleet.ErrNotFound, id)
			}
			ok, err := done(in)
			if err != nil {
				return err
			}
			if !ok {
				pending = append(pending, describe(in))
			}
		}
		if len(pending) == 0 {
			fleet.Progress(ctx, fmt.Sprintf("%d/%d %s", len(ids), len(ids), what))
			return nil
		}
		fleet.Progress(ctx, fmt.Sprintf("%d/%d %s; waiting for %s", len(ids)-len(pending), len(ids), what, strings.Join(pending, ", ")))
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s to be %s: %w", strings.Join(pending, ", "), what, ctx.Err())
		case <-t.C:
		}
	}
}

func describe(in api.Instance) string {
	switch {
	case in.Connections > 0:
		return fmt.Sprintf("%s (%d connections)", in.ID, in.Connections)
	case !in.Healthy:
		return fmt.Sprintf("%s (%s, unhealthy)", in.ID, in.Status)
	}
	return in.ID
}

func exitedError(in api.Instance) error {
	why := in.LastError
	if why == "" {
		why = "process ended"
	}
	err := fmt.Errorf("instance %s (%s) %w: %s", in.ID, in.Version, ErrInstanceExited, why)
	if in.LogTail != "" {
		err = fmt.Errorf("%w\nlast lines of %s:\n%s", err, in.LogPath, in.LogTail)
	}
	return err
}
