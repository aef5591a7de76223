package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/getsentry/sentry-go"
)

// sentryFlushTimeout bounds how long a stopping instance waits to deliver what it has
// not yet sent to Sentry.
const sentryFlushTimeout = 2 * time.Second

// startSentry makes the instance report to Sentry at dsn, as a service watched by
// Sentry does: its release is its version, every API request is a transaction (what
// Sentry counts requests by) and every 5xx answer an error event. It returns the
// handler wrapper for board.Config.Observe and a flush for shutdown.
func startSentry(dsn, version, environment string) (func(http.Handler) http.Handler, func(), error) {
	err := sentry.Init(sentry.ClientOptions{
		Dsn:              dsn,
		Release:          version,
		Environment:      environment,
		EnableTracing:    true,
		TracesSampleRate: 1, // one transaction per request: errors per request need the requests
	})
	if err != nil {
		return nil, nil, fmt.Errorf("--sentry-dsn: %w", err)
	}
	return reportToSentry, func() { sentry.Flush(sentryFlushTimeout) }, nil
}

// captureHandled reports an error the service recovered from, on the request's hub.
func captureHandled(ctx context.Context, err error) {
	hub := sentry.GetHubFromContext(ctx)
	if hub == nil {
		hub = sentry.CurrentHub()
	}
	hub.CaptureException(err)
}

// serverError is a 5xx answer as an error: its message is the answer's, so that Sentry
// groups one fault's events into one issue.
type serverError struct {
	Status  int
	Message string
}

func (e *serverError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Status, http.StatusText(e.Status), e.Message)
}

// reportToSentry wraps each request in a transaction and reports a 5xx answer.
func reportToSentry(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hub := sentry.CurrentHub().Clone()
		ctx := sentry.SetHubOnContext(r.Context(), hub)
		tx := sentry.StartTransaction(ctx, r.Method+" "+r.URL.Path,
			sentry.WithOpName("http.server"), sentry.ContinueFromRequest(r), sentry.WithTransactionSource(sentry.SourceURL))
		rec := &errorRecorder{ResponseWriter: w}
		defer func() {
			tx.Status = sentry.HTTPtoSpanStatus(rec.status())
			tx.Finish()
		}()
		next.ServeHTTP(rec, r.WithContext(tx.Context()))
		if code := rec.status(); code >= 500 {
			hub.Scope().SetTag("http.method", r.Method)
			hub.CaptureException(&serverError{Status: code, Message: rec.message()})
		}
	})
}

// errorRecorder keeps the status and, for an error answer, the start of its body.
type errorRecorder struct {
	http.ResponseWriter
	code int
	body bytes.Buffer
}

const maxErrorBody = 512

func (r *errorRecorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *errorRecorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	if r.code >= 500 && r.body.Len() < maxErrorBody {
		r.body.Write(b[:min(len(b), maxErrorBody-r.body.Len())])
	}
	return r.ResponseWriter.Write(b)
}

func (r *errorRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *errorRecorder) status() int {
	if r.code == 0 {
		return http.StatusOK
	}
	return r.code
}

// message is the board's {"error": "..."} text, or the body as it is.
func (r *errorRecorder) message() string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(r.body.Bytes(), &e) == nil && e.Error != "" {
		return e.Error
	}
	return string(bytes.TrimSpace(r.body.Bytes()))
}
