package haproxy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/zerodown/zerodown/fleet"
)

// WaitHealthy returns when HAProxy's own health checks pass for every server. The
// servers must be in drain or ready: HAProxy does not check servers in maintenance,
// so waiting on one would never end. For a launched fleet, servers HAProxy lost are
// added again first.
func (f *Fleet) WaitHealthy(ctx context.Context, ids []string) error {
	if err := f.known(ids); err != nil {
		return err
	}
	if f.launched != nil {
		// The local cloud fails at once, with the log, for a process that died.
		if err := f.launched.WaitHealthy(ctx, ids); err != nil {
			return err
		}
		if _, err := f.describeLaunched(ctx); err != nil {
			return err
		}
	}
	return f.waitFor(ctx, ids, "healthy", func(s Server, ok bool) (bool, string, error) {
		switch {
		case !ok:
			return false, "", fmt.Errorf("%w: %s is not a server of backend %s", fleet.ErrNotFound, s.Name, f.backend)
		case s.Admin == StateMaint:
			return false, "", fmt.Errorf("%w: %s is in maintenance, where HAProxy does not check it: set it to drain (no traffic, checks run) before waiting for it to be healthy", fleet.ErrInvalidConfig, s.Name)
		}
		return s.Healthy(), checkWords(s), nil
	})
}

// WaitDrained returns when the servers hold no session (HAProxy's scur) and no queued
// request. A held WebSocket is a session: it keeps the wait going until it closes.
// Servers that are gone hold nothing. The wait carries on through a restart of
// HAProxy, reporting it as progress, until ctx ends.
func (f *Fleet) WaitDrained(ctx context.Context, ids []string) error {
	return f.waitFor(ctx, ids, "drained", func(s Server, ok bool) (bool, string, error) {
		switch {
		case !ok:
			return true, "", nil
		case s.Admin == StateReady:
			return false, "", fmt.Errorf("%s is still in service: detach (drain) it before waiting for it to drain", s.Name)
		case s.Sessions+s.Queued == 0:
			return true, "", nil
		}
		if s.Queued > 0 {
			return false, fmt.Sprintf("%d sessions, %d queued", s.Sessions, s.Queued), nil
		}
		return false, fmt.Sprintf("%d sessions", s.Sessions), nil
	})
}

// checkWords is HAProxy's account of a server's last check.
func checkWords(s Server) string {
	words := []string{}
	for _, w := range []string{s.CheckStatus, s.CheckDesc, s.LastCheck} {
		if w != "" {
			words = append(words, w)
		}
	}
	if len(words) == 0 {
		return "not checked yet"
	}
	return strings.Join(words, ": ")
}

// waitFor polls the backend until done holds for every server, reporting progress on
// each poll so that an activity heartbeats while it waits. An unreachable Runtime API
// (HAProxy restarting) is progress, not an error: the wait goes on until ctx ends.
func (f *Fleet) waitFor(ctx context.Context, ids []string, what string, done func(s Server, ok bool) (bool, string, error)) error {
	if len(ids) == 0 {
		return nil
	}
	if err := f.known(ids); err != nil {
		return err
	}
	t := time.NewTicker(f.Poll)
	defer t.Stop()
	var pending []string
	for {
		servers, err := f.servers(ctx)
		switch {
		case errors.Is(err, ErrUnreachable):
			fleet.Progress(ctx, fmt.Sprintf("waiting for %s to be %s: %v", strings.Join(ids, ", "), what, err))
		case err != nil && ctx.Err() == nil:
			return err
		case err != nil: // ctx ended during the poll: said below
		default:
			byName := make(map[string]Server, len(servers))
			for _, s := range servers {
				byName[s.Name] = s
			}
			pending = pending[:0]
			for _, id := range ids {
				s, ok := byName[id]
				if !ok {
					s.Name = id
				}
				ok, why, err := done(s, ok)
				if err != nil {
					return err
				}
				if !ok {
					pending = append(pending, fmt.Sprintf("%s (%s)", id, why))
				}
			}
			if len(pending) == 0 {
				fleet.Progress(ctx, fmt.Sprintf("%d/%d %s", len(ids), len(ids), what))
				return nil
			}
			fleet.Progress(ctx, fmt.Sprintf("%d/%d %s; waiting for %s", len(ids)-len(pending), len(ids), what, strings.Join(pending, ", ")))
		}
		select {
		case <-ctx.Done():
			if len(pending) == 0 && err != nil {
				return fmt.Errorf("waiting for %s to be %s: %w (last: %v)", strings.Join(ids, ", "), what, ctx.Err(), err)
			}
			return fmt.Errorf("waiting for %s to be %s: %w", strings.Join(pending, ", "), what, ctx.Err())
		case <-t.C:
		}
	}
}
