package workerapp

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/zerodown/zerodown/notify"
	"github.com/zerodown/zerodown/redact"
)

// redaction builds the worker's one redactor from its environment, read once at start,
// and the worker's logger that passes every message and attribute through it. Activity
// errors and results go through it too (activities.NewRedactInterceptor), and so do
// notifications (redactingNotifier): nothing that leaves the worker escapes it.
func redaction(logger *slog.Logger) (*redact.Redactor, *slog.Logger) {
	r := redact.FromEnviron(os.Environ())
	logger = RedactingLogger(logger, r)
	logger.Info("redacting secrets from activity errors, logs and notifications", "variables", r.Names())
	return r, logger
}

// RedactingLogger returns a logger that passes every message and attribute through r
// before logger's handler sees them.
func RedactingLogger(logger *slog.Logger, r *redact.Redactor) *slog.Logger {
	return slog.New(&redactHandler{next: logger.Handler(), r: r})
}

// RedactingNotifier returns a notifier that redacts every string of an event (its
// message, its error, who did it...) with r before n posts it.
func RedactingNotifier(n notify.Notifier, r *redact.Redactor) notify.Notifier {
	return redactingNotifier{next: n, r: r}
}

// redactHandler is a slog.Handler that redacts the message and the attributes of each
// record before the handler it wraps sees them.
type redactHandler struct {
	next slog.Handler
	r    *redact.Redactor
}

func (h *redactHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

func (h *redactHandler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, h.r.String(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h *redactHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		red[i] = h.attr(a)
	}
	return &redactHandler{next: h.next.WithAttrs(red), r: h.r}
}

func (h *redactHandler) WithGroup(name string) slog.Handler {
	return &redactHandler{next: h.next.WithGroup(name), r: h.r}
}

// attr redacts an attribute's value: strings, and anything else as the text a handler
// would print (bytes and unexported fields included); groups attribute by attribute.
func (h *redactHandler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.r.String(v.String()))
	case slog.KindGroup:
		group := v.Group()
		red := make([]slog.Attr, len(group))
		for i, g := range group {
			red[i] = h.attr(g)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(red...)}
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, h.r.String(x.Error()))
		case fmt.Stringer:
			return slog.String(a.Key, h.r.String(x.String()))
		default:
			return slog.String(a.Key, h.r.String(fmt.Sprintf("%+v", x)))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

type redactingNotifier struct {
	next notify.Notifier
	r    *redact.Redactor
}

func (n redactingNotifier) Notify(ctx context.Context, req notify.Request) (notify.Result, error) {
	if ev, ok := n.r.Value(req.Event).(notify.Event); ok {
		req.Event = ev
	}
	return n.next.Notify(ctx, req)
}
