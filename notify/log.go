package notify

import (
	"context"
	"log/slog"
)

// Log writes events to a logger: the notifier of a worker that has no Slack token, and
// the record of what would have been posted.
type Log struct {
	Logger *slog.Logger // slog.Default() when nil
}

// NewLog returns a Log notifier writing to logger (slog.Default() when nil).
func NewLog(logger *slog.Logger) *Log { return &Log{Logger: logger} }

// Notify logs the event. The thread is a name, so that the caller's "store what comes
// back" works the same with every notifier.
func (l *Log) Notify(ctx context.Context, req Request) (Result, error) {
	logger := l.Logger
	if logger == nil {
		logger = slog.Default()
	}
	e := req.Event
	attrs := []any{"release", e.ReleaseID, "kind", string(e.Kind), "phase", e.Phase, "version", e.Version}
	if e.By != "" {
		attrs = append(attrs, "by", e.By)
	}
	if req.Channel != "" {
		attrs = append(attrs, "channel", req.Channel)
	}
	msg := e.Message
	if msg == "" {
		msg = string(e.Kind)
	}
	logger.InfoContext(ctx, msg, attrs...)
	if e.Changelog != "" {
		logger.InfoContext(ctx, "changelog", "release", e.ReleaseID, "changelog", e.Changelog)
	}
	thread := req.Thread
	if thread == "" {
		thread = "log:" + e.ReleaseID
	}
	return Result{Thread: thread}, nil
}
