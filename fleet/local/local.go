// Package local is the fleet of the local cloud: instances are processes on loopback
// ports behind the local cloud's load balancer (internal/localcloud, run as
// `zerodown localcloud`). This package only talks to the daemon's API, so the fleet
// and its traffic outlive the worker that drives it.
package local

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/internal/localcloud/api"
	"github.com/zerodown/zerodown/schemas"
)

// DefaultEndpoint is where `zerodown localcloud` listens unless told otherwise.
const DefaultEndpoint = "http://127.0.0.1:7070"

// ErrInstanceExited is wrapped by WaitHealthy when an instance's process ended before
// it became healthy (a crash on start): waiting longer cannot help.
var ErrInstanceExited = errors.New("exited before becoming healthy")

// Fleet drives one local cloud daemon.
type Fleet struct {
	endpoint string
	spec     schemas.LocalSpec
	client   *http.Client
	poll     time.Duration
}

var _ fleet.Fleet = (*Fleet)(nil)

// transport is shared by every Fleet: the worker builds a Fleet per activity, and a
// transport per Fleet kept each one's idle connections open until the process ran out of
// file descriptors (seen: bench/reaction after a few thousand describes).
var transport = &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 16, IdleConnTimeout: time.Minute}

// New returns the fleet served by the daemon at endpoint (DefaultEndpoint if empty)
// whose instances run spec's command.
func New(endpoint string, spec schemas.LocalSpec) *Fleet {
	if endpoint == "" {
		endpoint = DefaultEndpoint
	}
	return &Fleet{
		endpoint: strings.TrimRight(endpoint, "/"),
		spec:     spec,
		// Terminate waits for the instances' grace period: allow for it.
		client: &http.Client{Timeout: time.Minute, Transport: transport},
		poll:   200 * time.Millisecond,
	}
}

// Factory builds the fleet of a local target, using DefaultEndpoint when the target
// names no endpoint.
func Factory(target schemas.Target) (fleet.Fleet, error) {
	return FactoryWith(DefaultEndpoint)(target)
}

// FactoryWith is Factory with another default endpoint (a worker flag).
func FactoryWith(defaultEndpoint string) fleet.Factory {
	return func(target schemas.Target) (fleet.Fleet, error) {
		if target.Local == nil {
			return nil, fmt.Errorf("%w: target.local is required for provider %q", fleet.ErrInvalidConfig, schemas.ProviderLocal)
		}
		if len(target.Local.Command) == 0 || target.Local.Command[0] == "" {
			return nil, fmt.Errorf("%w: target.local.command is empty", fleet.ErrInvalidConfig)
		}
		endpoint := target.Local.Endpoint
		if endpoint == "" {
			endpoint = defaultEndpoint
		}
		u, err := url.Parse(endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("%w: target.local.endpoint %q is not an http(s) URL", fleet.ErrInvalidConfig, endpoint)
		}
		return New(endpoint, *target.Local), nil
	}
}

// Describe lists the instances (terminated ones excluded) and the weights.
func (f *Fleet) Describe(ctx context.Context) (fleet.State, error) {
	st, err := f.state(ctx)
	if err != nil {
		return fleet.State{}, err
	}
	out := fleet.State{Instances: make([]fleet.Instance, 0, len(st.Instances)), Weights: st.Weights}
	for _, in := range st.Instances {
		out.Instances = append(out.Instances, toFleet(in))
	}
	return out, nil
}

// Launch starts req.Count instances of req.Version, or returns the ones a launch with
// the same key started.
func (f *Fleet) Launch(ctx context.Context, req fleet.LaunchRequest) ([]fleet.Instance, error) {
	if req.Count == 0 {
		return nil, nil // an empty batch: nothing to start, nothing to remember
	}
	var resp api.LaunchResponse
	err := f.call(ctx, http.MethodPost, api.PathInstances, api.LaunchRequest{
		Key:        req.Key,
		Version:    req.Version,
		Image:      req.Image,
		Count:      req.Count,
		Command:    f.spec.Command,
		Env:        f.spec.Env,
		HealthPath: f.spec.HealthPath,
	}, &resp)
	if err != nil {
		return nil, fmt.Errorf("launch %s: %w", req.Key, err)
	}
	out := make([]fleet.Instance, 0, len(resp.Instances))
	for _, in := range resp.Instances {
		out = append(out, toFleet(in))
	}
	return out, nil
}

// Attach puts instances in the load balancer; they take traffic once healthy.
func (f *Fleet) Attach(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	return f.call(ctx, http.MethodPost, api.PathAttach, api.IDs{IDs: ids}, nil)
}

// SetWeights sets the per-version traffic share; an empty map means an equal share
// per instance.
func (f *Fleet) SetWeights(ctx context.Context, weights map[string]int) error {
	if weights == nil {
		weights = map[string]int{}
	}
	return f.call(ctx, http.MethodPut, api.PathWeights, weights, nil)
}

// Detach takes instances out of the load balancer; their open connections drain.
func (f *Fleet) Detach(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	return f.call(ctx, http.MethodPost, api.PathDetach, api.DetachRequest{IDs: ids}, nil)
}

// Terminate stops instances; unknown or already terminated ones are fine.
func (f *Fleet) Terminate(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	return f.call(ctx, http.MethodPost, api.PathTerminate, api.IDs{IDs: ids}, nil)
}

func (f *Fleet) state(ctx context.Context) (api.State, error) {
	return f.State(ctx, false)
}

// State is the daemon's own picture of the fleet; with all, terminated instances too
// (every instance it remembers, with its launch key: what a test checks launches against).
func (f *Fleet) State(ctx context.Context, all bool) (api.State, error) {
	path := api.PathState
	if all {
		path += "?all=1"
	}
	var st api.State
	err := f.call(ctx, http.MethodGet, path, nil, &st)
	return st, err
}

// Shutdown asks the daemon to stop, as req says (keepInstances for a restart).
func (f *Fleet) Shutdown(ctx context.Context, req api.ShutdownRequest) error {
	return f.call(ctx, http.MethodPost, api.PathShutdown, req, nil)
}

// call sends one API request. Answers the daemon refuses as wrong are marked
// ErrInvalidConfig or ErrNotFound, so that callers do not retry what cannot succeed.
func (f *Fleet) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, f.endpoint+path, body)
	if err != nil {
		return fmt.Errorf("%w: %v", fleet.ErrInvalidConfig, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := f.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("local cloud at %s is unreachable (is `zerodown localcloud` running?): %w", f.endpoint, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("local cloud %s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		var e api.Error
		msg := strings.TrimSpace(string(b))
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			msg = e.Error
		}
		switch resp.StatusCode {
		case http.StatusNotFound:
			return fmt.Errorf("%w: %s", fleet.ErrNotFound, msg)
		case http.StatusBadRequest, http.StatusConflict:
			return fmt.Errorf("%w: %s", fleet.ErrInvalidConfig, msg)
		}
		return fmt.Errorf("local cloud %s %s: %s: %s", method, path, resp.Status, msg)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("local cloud %s %s: decoding answer: %w", method, path, err)
		}
	}
	return nil
}

func toFleet(in api.Instance) fleet.Instance {
	return fleet.Instance{
		ID:          in.ID,
		Version:     in.Version,
		Address:     in.Address,
		Healthy:     in.Healthy,
		Attached:    in.Attached,
		Draining:    in.Draining,
		Connections: in.Connections,
		LaunchKey:   in.LaunchKey,
		Weight:      in.Weight,
	}
}
