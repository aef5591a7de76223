package activities

// The in-place mode's side effects: the deploy command that puts a version on one fixed
// server, and what the fleet does beyond fleet.Fleet for servers upgraded where they
// stand (maintenance, the record of versions).

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/schemas"
)

// ErrTypeDeployFailed is the error of a deploy command that exited non-zero or outlived
// its timeout: non-retryable, the release rolls back.
const ErrTypeDeployFailed = "DeployFailed"

// The variables a deploy command always gets.
const (
	EnvServer  = "ZERODOWN_SERVER"  // the server's name in the backend
	EnvRelease = "ZERODOWN_RELEASE" // the release's workflow ID
	// EnvVersion (ZERODOWN_VERSION) is the version put on the server.
)

// InPlaceFleet is what an in-place release needs of a fleet beyond fleet.Fleet. It has
// the methods of fleet/haproxy's InPlace, which this package does not import (the
// workflows link it, and must not link an I/O library); a test holds the two together.
type InPlaceFleet interface {
	fleet.Fleet
	Maintenance(ctx context.Context, ids []string) error
	RecordVersion(ctx context.Context, id, version string) error
}

// DeployInput puts Version on one fixed server.
type DeployInput struct {
	Target  schemas.Target `json:"target"`
	Deploy  schemas.Deploy `json:"deploy"`
	Server  string         `json:"server"`
	Version string         `json:"version"`
	Release string         `json:"release,omitempty"`
}

// DeployOutput says how long the deploy took.
type DeployOutput struct {
	Took time.Duration `json:"took"`
}

// Deploy runs the spec's deploy command for one server, rendered for it, in the clean
// environment of command hooks (HookEnv), bounded by deploy.timeout. The worker's
// heartbeat interceptor beats while it runs, so a worker that dies mid-deploy makes
// Temporal run it again elsewhere within seconds: deploy commands must be safe to run
// twice, as an Ansible play is. A command that exits non-zero or outlives its timeout
// fails for good with the end of its output, redacted.
func (a *Activities) Deploy(ctx context.Context, in DeployInput) (DeployOutput, error) {
	srv, ok := fixedServer(in.Target, in.Server)
	if !ok {
		return DeployOutput{}, nonRetryable(ErrTypeInvalidConfig, fmt.Errorf("deploy: %s is not in target.haproxy.servers", in.Server))
	}
	args, err := in.Deploy.DeployCommand(schemas.DeployVars{Server: srv.Name, Address: srv.Address, Version: in.Version, Vars: srv.Vars})
	if err != nil {
		return DeployOutput{}, nonRetryable(ErrTypeInvalidConfig, err)
	}
	if len(args) == 0 {
		return DeployOutput{}, nonRetryable(ErrTypeInvalidConfig, errors.New("deploy.command is empty"))
	}
	timeout := in.Deploy.TimeoutOrDefault()
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(cctx, args[0], args[1:]...)
	cmd.Env = HookEnv(&schemas.CommandHook{PassEnv: in.Deploy.PassEnv, Env: in.Deploy.Env}, os.LookupEnv,
		EnvServer+"="+srv.Name, EnvVersion+"="+in.Version, EnvRelease+"="+in.Release)
	out := &tailBuffer{max: hookOutputKept}
	cmd.Stdout, cmd.Stderr = out, out
	// A child left in the background keeps the output open: stop reading it soon after.
	cmd.WaitDelay = hookWaitDelay
	start := time.Now()
	err = cmd.Run()
	took := time.Since(start)
	tail := func() string { return outputTail(redactorFrom(ctx).String(out.String())) }
	switch {
	case err == nil:
		return DeployOutput{Took: took}, nil
	case ctx.Err() != nil:
		return DeployOutput{}, ctx.Err() // cancelled, or the activity timed out: Temporal decides
	case cctx.Err() != nil:
		return DeployOutput{}, nonRetryable(ErrTypeDeployFailed, fmt.Errorf("deploy of %s on %s still running after %s (deploy.timeout), killed: %s", in.Version, srv.Name, timeout, tail()))
	}
	return DeployOutput{}, nonRetryable(ErrTypeDeployFailed, fmt.Errorf("deploy of %s on %s: %v: %s", in.Version, srv.Name, err, tail()))
}

// fixedServer finds a server of the target's spec.
func fixedServer(t schemas.Target, name string) (schemas.HAProxyServer, bool) {
	if t.HAProxy == nil {
		return schemas.HAProxyServer{}, false
	}
	for _, s := range t.HAProxy.Servers {
		if s.Name == name {
			return s, true
		}
	}
	return schemas.HAProxyServer{}, false
}

// inPlace is the target's fleet as an in-place fleet, or a non-retryable error naming
// the provider that cannot upgrade servers where they stand.
func (a *Activities) inPlace(t schemas.Target) (InPlaceFleet, error) {
	f, err := a.fleet(t)
	if err != nil {
		return nil, err
	}
	ip, ok := f.(InPlaceFleet)
	if !ok {
		return nil, nonRetryable(ErrTypeNotSupported, fmt.Errorf("provider %s cannot upgrade servers in place (no maintenance or version record)", t.Provider))
	}
	return ip, nil
}

// Maintenance takes fixed servers out of service entirely while they are upgraded: no
// traffic, and no health checks to call them down.
func (a *Activities) Maintenance(ctx context.Context, in IDsInput) error {
	f, err := a.inPlace(in.Target)
	if err != nil {
		return err
	}
	return classify(f.Maintenance(ctx, in.IDs))
}

// RecordVersionInput records the version deployed on one fixed server.
type RecordVersionInput struct {
	Target  schemas.Target `json:"target"`
	Server  string         `json:"server"`
	Version string         `json:"version"`
}

// RecordVersion records what was deployed on a server, for fleets whose servers cannot
// tell their version (target.haproxy.versionFile).
func (a *Activities) RecordVersion(ctx context.Context, in RecordVersionInput) error {
	f, err := a.inPlace(in.Target)
	if err != nil {
		return err
	}
	return classify(f.RecordVersion(ctx, strings.TrimSpace(in.Server), in.Version))
}
