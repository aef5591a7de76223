package monkey

import (
	"context"
	"slices"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/zerodown/zerodown/workflows"
)

// snapshot is what the server says of the current release: its phase (the search
// attribute, upserted at each phase change) and the activities in flight. The server
// answers while the worker is dead, which is when the monkey needs to know.
type snapshot struct {
	OK      bool // the server answered
	At      time.Time
	RunID   string
	Running bool
	Phase   workflows.Phase
	// Started lists the activities a worker is running now; Scheduled those waiting for one.
	Started, Scheduled []string
}

// activity names the activity the release is in, started first.
func (s snapshot) activity() string {
	if len(s.Started) > 0 {
		return s.Started[0]
	}
	if len(s.Scheduled) > 0 {
		return s.Scheduled[0]
	}
	return ""
}

// watcher describes the release every few hundred milliseconds.
type watcher struct {
	c  client.Client
	id string

	mu   sync.Mutex
	last snapshot
	subs []func(snapshot)

	cancel context.CancelFunc
	done   chan struct{}
}

func watch(c client.Client, id string, every time.Duration) *watcher {
	ctx, cancel := context.WithCancel(context.Background())
	w := &watcher{c: c, id: id, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			s := w.describe(ctx)
			w.mu.Lock()
			w.last = s
			subs := slices.Clone(w.subs)
			w.mu.Unlock()
			for _, f := range subs {
				f(s)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return w
}

// onSnapshot calls f with every new snapshot, on the watcher's goroutine.
func (w *watcher) onSnapshot(f func(snapshot)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.subs = append(w.subs, f)
}

func (w *watcher) now() snapshot {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last
}

func (w *watcher) stop() {
	w.cancel()
	<-w.done
}

func (w *watcher) describe(ctx context.Context) snapshot { return describeRelease(ctx, w.c, w.id) }

// describeRelease asks the server about the latest run of the release id.
func describeRelease(ctx context.Context, c client.Client, id string) snapshot {
	s := snapshot{At: time.Now()}
	dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	resp, err := c.DescribeWorkflowExecution(dctx, id, "")
	if err != nil {
		return s
	}
	info := resp.GetWorkflowExecutionInfo()
	s.OK = true
	s.RunID = info.GetExecution().GetRunId()
	s.Running = info.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
	if p, ok := info.GetSearchAttributes().GetIndexedFields()[workflows.SAPhase]; ok {
		var phase string
		if converter.GetDefaultDataConverter().FromPayload(p, &phase) == nil {
			s.Phase = workflows.Phase(phase)
		}
	}
	for _, a := range resp.GetPendingActivities() {
		name := a.GetActivityType().GetName()
		if a.GetState() == enumspb.PENDING_ACTIVITY_STATE_STARTED {
			s.Started = append(s.Started, name)
		} else {
			s.Scheduled = append(s.Scheduled, name)
		}
	}
	return s
}
