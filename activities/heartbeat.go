package activities

import (
	"context"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/interceptor"
)

// AutoHeartbeatEvery is how often the heartbeat interceptor beats for a running
// activity; the workflow's heartbeat timeouts are a few times longer.
const AutoHeartbeatEvery = 2 * time.Second

// NewHeartbeatInterceptor returns a worker interceptor that heartbeats every activity
// that has a heartbeat timeout, every `every` while it runs, repeating the details the
// activity last recorded itself (an activity that resumes from an earlier attempt's
// details records them again as it starts, before the first beat). Temporal learns
// that a worker died mid-activity only from a missed heartbeat or the start-to-close
// timeout; with every activity beating, a short heartbeat timeout brings a release
// back within seconds of a worker crash instead of after the activity's whole timeout.
func NewHeartbeatInterceptor(every time.Duration) interceptor.WorkerInterceptor {
	return &heartbeatWorker{every: every}
}

type heartbeatWorker struct {
	interceptor.WorkerInterceptorBase
	every time.Duration
}

func (w *heartbeatWorker) InterceptActivity(_ context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	i := &heartbeatInbound{every: w.every}
	i.Next = next
	return i
}

type heartbeatInbound struct {
	interceptor.ActivityInboundInterceptorBase
	every time.Duration
	out   *heartbeatOutbound
}

func (i *heartbeatInbound) Init(outbound interceptor.ActivityOutboundInterceptor) error {
	i.out = &heartbeatOutbound{}
	i.out.Next = outbound
	return i.Next.Init(i.out)
}

func (i *heartbeatInbound) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (any, error) {
	if activity.GetInfo(ctx).HeartbeatTimeout <= 0 || i.every <= 0 {
		return i.Next.ExecuteActivity(ctx, in)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(i.every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				i.out.beat(ctx)
			}
		}
	})
	defer wg.Wait()
	defer close(done)
	return i.Next.ExecuteActivity(ctx, in)
}

type heartbeatOutbound struct {
	interceptor.ActivityOutboundInterceptorBase
	mu      sync.Mutex
	details []any
}

func (o *heartbeatOutbound) RecordHeartbeat(ctx context.Context, details ...any) {
	o.mu.Lock()
	o.details = details
	o.mu.Unlock()
	o.Next.RecordHeartbeat(ctx, details...)
}

func (o *heartbeatOutbound) beat(ctx context.Context) {
	o.mu.Lock()
	details := o.details
	o.mu.Unlock()
	o.Next.RecordHeartbeat(ctx, details...)
}
