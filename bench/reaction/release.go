package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/zerodown/zerodown/analysis"
	"github.com/zerodown/zerodown/internal/analysistest"
	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/workflows"
)

// releaseRun releases the bad build for real (failureLimit 1, automatic rollback) and
// measures from the failure's start to the Fail check in the release's status, to the
// canary's detach from the load balancer, and to the last request it answered.
func (b *bench) releaseRun(ctx context.Context, provider string, i int, mode string) (row, error) {
	r := row{mode: mode, provider: provider, run: i}
	if b.lbLoad == nil {
		b.lbAddr = b.world.Cloud.LBAddr()
		b.lbLoad = analysistest.StartLoad([]string{b.lbAddr}, loadRate, analysistest.SmokePath)
	}
	b.lbLoad.SetPath(b.lbAddr, analysistest.SmokePath)
	defer b.lbLoad.SetPath(b.lbAddr, analysistest.SmokePath)

	spec := schemas.Spec{
		Service: "reaction", Environment: fmt.Sprintf("%s-%s-%d", mode, provider, i),
		Target: schemas.Target{Provider: schemas.ProviderLocal, Instances: len(b.baseline), HealthTimeout: schemas.Duration(time.Minute),
			Local: &schemas.LocalSpec{Command: b.world.Command(filepath.Join(b.o.dir, "releases", "{{.Version}}", "demoapp"))}},
		Canary: schemas.Canary{Instances: 1, Soak: schemas.Duration(30 * b.o.interval), Analysis: b.spec(provider)},
		Drain:  schemas.Drain{Timeout: schemas.Duration(5 * time.Second)},
	}
	if mode == "steps" {
		spec.Canary.Traffic = stepShares
	}
	schemas.Defaults(&spec)
	spec.Rollback.Automatic = true
	if err := schemas.Validate(&spec); err != nil {
		return r, err
	}
	c := b.temporal.Client()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: spec.ID(), TaskQueue: workflows.TaskQueue},
		workflows.ReleaseWorkflowName, workflows.ReleaseInput{Spec: spec, Version: bad, StartedBy: "bench"})
	if err != nil {
		return r, err
	}
	ended := make(chan error, 1)
	go func() { ended <- run.Get(ctx, nil) }()

	// The canary takes traffic once attached; the failure starts after two checks.
	canaryID, attachedAt, err := b.waitCanary(ctx, ended)
	if err != nil {
		return r, err
	}
	if mode == "steps" {
		// The failure starts in the 25 % step, two checks after it began.
		if attachedAt, err = b.waitWeight(ctx, ended, stepShares[1]); err != nil {
			return r, err
		}
	}
	t0 := b.failAt(attachedAt, 2)
	select {
	case <-time.After(time.Until(t0)):
	case err := <-ended:
		return r, fmt.Errorf("release ended before the canary failed (a false alarm?): %v", err)
	case <-ctx.Done():
		return r, ctx.Err()
	}
	b.lbLoad.SetPath(b.lbAddr, analysistest.APIPath)

	var detached, verdict time.Time
	deadline := t0.Add(5*b.o.interval + 30*time.Second)
	lastQuery := time.Time{}
	for detached.IsZero() || verdict.IsZero() {
		now := time.Now()
		if now.After(deadline) {
			return r, fmt.Errorf("after %s: detached %v, Fail verdict %v", now.Sub(t0).Round(time.Second), !detached.IsZero(), !verdict.IsZero())
		}
		if detached.IsZero() {
			ins, err := b.world.Instances(ctx, canaryID)
			if err != nil {
				return r, err
			}
			if len(ins) == 0 || !ins[0].Attached {
				detached = now
			} else if mode == "steps" {
				if st, err := b.world.Fleet().Describe(ctx); err == nil && st.Weights[bad] == 0 {
					detached = now
				}
			}
		}
		if verdict.IsZero() && now.Sub(lastQuery) >= 100*time.Millisecond {
			lastQuery = now
			if st, err := status(ctx, c, spec.ID()); err == nil {
				for _, ch := range st.Checks {
					if ch.Verdict == analysis.Fail && !ch.Time.Before(t0) {
						verdict, r.summary = ch.Time, ch.Summary
						break
					}
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case err := <-ended:
		var rolledBack bool
		if st, qerr := status(context.Background(), c, spec.ID()); qerr == nil {
			rolledBack = st.Phase == workflows.PhaseRolledBack
		}
		if !rolledBack {
			return r, fmt.Errorf("release did not roll back: %v", err)
		}
	case <-time.After(2 * time.Minute):
		return r, errors.New("release still running two minutes after the canary was detached")
	}
	if st, err := status(context.Background(), c, spec.ID()); err == nil {
		for _, ch := range st.Checks {
			if ch.Verdict == analysis.Fail && ch.Time.Before(t0) {
				r.falseAlarms++
			}
		}
	}
	r.verdict, r.detached = verdict.Sub(t0), detached.Sub(t0)
	if last := b.lbLoad.LastServed(canaryID); !last.IsZero() {
		r.lastServed = last.Sub(t0)
	}
	return r, nil
}

// waitCanary waits until the release's canary (the one instance of the bad version)
// is attached and healthy.
func (b *bench) waitCanary(ctx context.Context, ended <-chan error) (string, time.Time, error) {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		st, err := b.world.Fleet().Describe(ctx)
		if err != nil {
			return "", time.Time{}, err
		}
		for _, in := range st.Instances {
			if in.Version == bad && in.Attached && in.Healthy {
				return in.ID, time.Now(), nil
			}
		}
		select {
		case err := <-ended:
			return "", time.Time{}, fmt.Errorf("release ended before its canary took traffic: %v", err)
		case <-ctx.Done():
			return "", time.Time{}, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return "", time.Time{}, errors.New("no canary attached within two minutes")
}

// stepShares are the traffic steps of the steps mode.
var stepShares = []int{5, 25, 50}

// waitWeight waits until the balancer gives the bad canary share percent of requests.
func (b *bench) waitWeight(ctx context.Context, ended <-chan error, share int) (time.Time, error) {
	deadline := time.Now().Add(time.Duration(len(stepShares)) * 30 * b.o.interval)
	for time.Now().Before(deadline) {
		st, err := b.world.Fleet().Describe(ctx)
		if err != nil {
			return time.Time{}, err
		}
		if st.Weights[bad] == share {
			return time.Now(), nil
		}
		select {
		case err := <-ended:
			return time.Time{}, fmt.Errorf("release ended before its canary took %d%%: %v", share, err)
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return time.Time{}, fmt.Errorf("the canary never took %d%% of requests", share)
}

func status(ctx context.Context, c client.Client, id string) (workflows.Status, error) {
	var st workflows.Status
	v, err := c.QueryWorkflow(ctx, id, "", workflows.QueryStatus)
	if err != nil {
		return st, err
	}
	return st, v.Get(&st)
}
