package activities

// Resolving the version a scheduled release ships: the first line a command prints, or
// the first line an HTTP URL answers (the latest green build), bounded in time and size.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"
	"unicode"

	"github.com/zerodown/zerodown/schemas"
)

// ErrTypeVersionUnresolved is the error type of a version source that answered, but not
// with a version: retrying would not help.
const ErrTypeVersionUnresolved = "VersionUnresolved"

// Bounds of resolving a version.
const (
	// VersionOutputRead is how much of a command's output or a URL's answer is read.
	VersionOutputRead = 4 << 10
	// MaxVersionLen is the longest version a release takes.
	MaxVersionLen = 128
	// DefaultVersionTimeout bounds a version command or GET when the schedule says nothing.
	DefaultVersionTimeout = time.Minute
)

// EnvSchedule names the schedule for a version command.
const EnvSchedule = "ZERODOWN_SCHEDULE"

// ResolveVersionInput says where a scheduled run's version comes from: Command (argv, no
// shell) or URL.
type ResolveVersionInput struct {
	Schedule string        `json:"schedule"`
	Command  []string      `json:"command,omitempty"`
	URL      string        `json:"url,omitempty"`
	Env      []string      `json:"env,omitempty"` // names passed from the worker's environment
	Timeout  time.Duration `json:"timeout,omitempty"`
}

// ResolvedVersion is the version and where it came from, as the release records it.
type ResolvedVersion struct {
	Version string `json:"version"`
	From    string `json:"from"`
}

// ResolveVersion runs the command (in the hooks' clean environment) or GETs the URL, and
// returns the first non-empty line of what it printed, which must be a version: at most
// MaxVersionLen printable characters without spaces. A command that fails, or an answer
// that is not a version, fails for good; a URL that cannot be reached is retried.
func (a *Activities) ResolveVersion(ctx context.Context, in ResolveVersionInput) (ResolvedVersion, error) {
	timeout := in.Timeout
	if timeout <= 0 {
		timeout = DefaultVersionTimeout
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var (
		out  []byte
		from string
		err  error
	)
	switch {
	case len(in.Command) > 0 && in.URL == "":
		from = "command " + strings.Join(in.Command, " ")
		out, err = a.versionFromCommand(cctx, in)
	case in.URL != "" && len(in.Command) == 0:
		from = "GET " + in.URL
		out, err = a.versionFromURL(cctx, in.URL)
	default:
		return ResolvedVersion{}, nonRetryable(ErrTypeInvalidConfig, errors.New("a version source is a command or a URL, exactly one"))
	}
	if err != nil {
		if ctx.Err() != nil {
			return ResolvedVersion{}, ctx.Err()
		}
		if cctx.Err() != nil {
			return ResolvedVersion{}, nonRetryable(ErrTypeVersionUnresolved, fmt.Errorf("%s: no answer within %s", from, timeout))
		}
		return ResolvedVersion{}, err
	}
	v, err := firstVersionLine(out)
	if err != nil {
		return ResolvedVersion{}, nonRetryable(ErrTypeVersionUnresolved, fmt.Errorf("%s: %w", from, err))
	}
	return ResolvedVersion{Version: v, From: from}, nil
}

func (a *Activities) versionFromCommand(ctx context.Context, in ResolveVersionInput) ([]byte, error) {
	cmd := exec.CommandContext(ctx, in.Command[0], in.Command[1:]...)
	cmd.Env = HookEnv(&schemas.CommandHook{PassEnv: in.Env}, os.LookupEnv, EnvSchedule+"="+in.Schedule)
	cmd.WaitDelay = hookWaitDelay
	stdout := &headBuffer{max: VersionOutputRead}
	stderr := &tailBuffer{max: hookOutputKept}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		msg := outputTail(redactorFrom(ctx).String(strings.TrimSpace(stderr.String())))
		return nil, nonRetryable(ErrTypeVersionUnresolved, fmt.Errorf("command %s: %v: %s", in.Command[0], err, msg))
	}
	return stdout.buf.Bytes(), nil
}

func (a *Activities) versionFromURL(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, nonRetryable(ErrTypeInvalidConfig, fmt.Errorf("version URL: %w", err))
	}
	resp, err := a.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err) // unreachable: retried
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, VersionOutputRead))
	if err != nil {
		return nil, fmt.Errorf("GET %s: reading the answer: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		err := fmt.Errorf("GET %s answered %d, want 200", url, resp.StatusCode)
		if resp.StatusCode >= 500 {
			return nil, err // the build server may come back
		}
		return nil, nonRetryable(ErrTypeVersionUnresolved, err)
	}
	return body, nil
}

// firstVersionLine is the first non-empty line of out, if it is a version.
func firstVersionLine(out []byte) (string, error) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, VersionOutputRead), VersionOutputRead)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		switch {
		case len(line) > MaxVersionLen:
			return "", fmt.Errorf("printed a first line of %d bytes, not a version (at most %d)", len(line), MaxVersionLen)
		case strings.IndexFunc(line, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }) >= 0:
			return "", fmt.Errorf("printed %q, not a version (no spaces or control characters)", line)
		}
		return line, nil
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("printed a first line longer than %d bytes, not a version", VersionOutputRead)
	}
	return "", errors.New("printed nothing: no version")
}

// headBuffer keeps the first max bytes written to it and drops the rest, so a chatty
// command cannot fill the worker's memory.
type headBuffer struct {
	max int
	buf bytes.Buffer
}

func (b *headBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
