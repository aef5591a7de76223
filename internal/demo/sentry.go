package demo

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"github.com/zerodown/zerodown/internal/sentrytest"
	"github.com/zerodown/zerodown/schemas"
)

// startSentry serves a stand-in for Sentry (Sentry cannot run here: see
// internal/sentrytest) when the spec's canary analysis asks Sentry, and points the spec at
// it. The fleet reports to it with sentry-go (SENTRY_DSN in the local cloud's
// environment, which instances inherit); the worker asks its web API with a token made
// for this run (SENTRY_AUTH_TOKEN in the worker's environment only).
func (w *World) startSentry(spec *schemas.Spec) error {
	cfg := spec.Canary.Analysis.Sentry
	if spec.Canary.Analysis.Provider != schemas.AnalysisSentry || cfg == nil {
		return nil
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	s, err := sentrytest.Start(cfg.Organization, cfg.Project, "sntrys_demo_"+hex.EncodeToString(b))
	if err != nil {
		return fmt.Errorf("start the stand-in for Sentry: %w", err)
	}
	w.sentry = s
	cfg.URL = s.URL()
	w.Say("Sentry: a stand-in for Sentry (which cannot run here) at %s, organization %s, project %s; the fleet reports to it with sentry-go", s.URL(), cfg.Organization, cfg.Project)
	return nil
}

// sentryFleetEnv is what the local cloud passes on to every instance.
func (w *World) sentryFleetEnv() []string {
	if w.sentry == nil {
		return nil
	}
	return []string{"SENTRY_DSN=" + w.sentry.DSN(), "SENTRY_ENVIRONMENT=" + w.spec.Environment}
}

// sentryWorkerEnv is the worker's token.
func (w *World) sentryWorkerEnv() []string {
	if w.sentry == nil {
		return nil
	}
	return []string{schemas.SentryTokenEnv + "=" + w.sentry.Token}
}

// sentrySummary lists what Sentry saw, for the demo's summary.
func (w *World) sentrySummary() []string {
	if w.sentry == nil {
		return nil
	}
	var out []string
	for _, is := range w.sentry.Issues() {
		out = append(out, fmt.Sprintf("Sentry issue %s: %q, first seen in %s, %d events", is.ID, is.Title, is.FirstRelease, is.Count))
	}
	if len(out) == 0 {
		out = append(out, "Sentry: no issue")
	}
	return out
}
