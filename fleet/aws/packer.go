package aws

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/schemas"
)

// bakePacker runs `packer build` on the spec's template with the version as the
// variable "version", reads the AMI from Packer's machine-readable output, and tags it
// so the next release of this version reuses it whatever the template tags.
func (f *Fleet) bakePacker(ctx context.Context, service string, req fleet.BakeRequest) (string, error) {
	if req.Bake.Template == "" {
		return "", fmt.Errorf("%w: bake.template is required with bake.method packer", fleet.ErrInvalidConfig)
	}
	var (
		mu   sync.Mutex
		last = "starting"
	)
	start := time.Now()
	var artifacts []PackerArtifact
	err := f.during(ctx, func() string {
		mu.Lock()
		defer mu.Unlock()
		return fmt.Sprintf("packer build (%s): %s", time.Since(start).Round(time.Second), last)
	}, func(ctx context.Context) error {
		var err error
		artifacts, err = RunPacker(ctx, f.packer, req.Bake.Template, map[string]string{"version": req.Version}, func(l PackerLine) {
			if l.Type == "ui" && len(l.Data) >= 2 {
				mu.Lock()
				last = l.Data[1]
				mu.Unlock()
			}
		})
		return err
	})
	if err != nil {
		return "", err
	}
	ami := pickAMI(artifacts, f.spec.Region)
	if ami == "" {
		return "", fmt.Errorf("%w: packer build finished but reported no AMI for %s (artifacts: %v)", fleet.ErrBakeFailed, f.spec.Region, artifacts)
	}
	if _, err := f.ec2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{ami}, Tags: imageTags(service, req.Version, schemas.BakePacker)}); err != nil {
		return "", fmt.Errorf("tag image %s: %w", ami, err)
	}
	return ami, nil
}

// PackerLine is one line of `packer -machine-readable` output:
// timestamp,target,type,data... with commas in data escaped as %!(PACKER_COMMA).
type PackerLine struct {
	Target string
	Type   string
	Data   []string
}

// ParsePackerLine parses one machine-readable line; ok is false for anything else.
func ParsePackerLine(line string) (l PackerLine, ok bool) {
	parts := strings.Split(strings.TrimRight(line, "\r\n"), ",")
	if len(parts) < 3 || parts[0] == "" || strings.Trim(parts[0], "0123456789") != "" {
		return PackerLine{}, false
	}
	l = PackerLine{Target: parts[1], Type: parts[2]}
	for _, d := range parts[3:] {
		d = strings.ReplaceAll(d, "%!(PACKER_COMMA)", ",")
		d = strings.ReplaceAll(d, `\n`, "\n")
		d = strings.ReplaceAll(d, `\r`, "\r")
		l.Data = append(l.Data, d)
	}
	return l, true
}

// PackerArtifact is what one builder produced: for amazon-ebs, ID is
// "region:ami-...[,region:ami-...]".
type PackerArtifact struct {
	Builder   string
	BuilderID string
	ID        string
}

// RunPacker runs `packer build -machine-readable -var k=v... template`, calls onLine for
// each machine-readable line, and returns the artifacts. A failed build wraps
// fleet.ErrBakeFailed with Packer's error messages. When ctx ends Packer is interrupted,
// not killed, so it cleans up the instance it was building on.
func RunPacker(ctx context.Context, bin, tmpl string, vars map[string]string, onLine func(PackerLine)) ([]PackerArtifact, error) {
	args := []string{"build", "-machine-readable"}
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		args = append(args, "-var", k+"="+vars[k])
	}
	args = append(args, tmpl)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 2 * time.Minute
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stderr tailBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return nil, fmt.Errorf("%w: bake.method packer needs %q on the worker: %v", fleet.ErrInvalidConfig, bin, err)
		}
		return nil, fmt.Errorf("start packer: %w", err)
	}
	arts := map[string]*PackerArtifact{}
	var order []string
	var errs []string
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		l, ok := ParsePackerLine(sc.Text())
		if !ok {
			continue
		}
		if onLine != nil {
			onLine(l)
		}
		switch {
		case l.Type == "ui" && len(l.Data) >= 2 && l.Data[0] == "error":
			errs = append(errs, strings.TrimSpace(l.Data[1]))
		case l.Type == "artifact" && len(l.Data) >= 3:
			key := l.Target + "/" + l.Data[0]
			a, seen := arts[key]
			if !seen {
				a = &PackerArtifact{Builder: l.Target}
				arts[key] = a
				order = append(order, key)
			}
			value := strings.Join(l.Data[2:], ",")
			switch l.Data[1] {
			case "builder-id":
				a.BuilderID = value
			case "id":
				a.ID = value
			}
		}
	}
	_, _ = io.Copy(io.Discard, stdout) // a line too long for the scanner must not block packer
	werr := cmd.Wait()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("packer build interrupted: %w", ctx.Err())
	}
	if werr != nil {
		msg := strings.Join(errs, "; ")
		if msg == "" {
			msg = strings.TrimSpace(stderr.String())
		}
		return nil, fmt.Errorf("%w: packer build %s: %v: %s", fleet.ErrBakeFailed, tmpl, werr, msg)
	}
	out := make([]PackerArtifact, 0, len(order))
	for _, k := range order {
		out = append(out, *arts[k])
	}
	return out, nil
}

// pickAMI finds the AMI for region among the artifacts (the first AMI if none names it).
func pickAMI(arts []PackerArtifact, region string) string {
	first := ""
	for _, a := range arts {
		for _, part := range strings.Split(a.ID, ",") {
			r, ami, ok := strings.Cut(strings.TrimSpace(part), ":")
			if !ok || !strings.HasPrefix(ami, "ami-") {
				continue
			}
			if r == region {
				return ami
			}
			if first == "" {
				first = ami
			}
		}
	}
	return first
}

// tailBuffer keeps the last 4 KiB written to it: enough to explain a failure.
type tailBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > 4096 {
		t.b = t.b[len(t.b)-4096:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
