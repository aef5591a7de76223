package slackbridge

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Defaults of the bridge's HTTP server.
const (
	// DefaultListen is loopback: put a TLS-terminating proxy (or a tunnel) in front of the
	// bridge; Slack only calls https URLs.
	DefaultListen = "127.0.0.1:3000"
	// DefaultPath is the path to give as the Slack app's Interactivity Request URL.
	DefaultPath = "/slack/actions"
)

// Server runs a Bridge over HTTP.
type Server struct {
	Config
	Listen string // DefaultListen when empty
	Path   string // DefaultPath when empty
	// OnReady, if set, is called with the listening address once requests are served.
	OnReady func(addr string)
}

// Run serves until ctx ends, then stops taking requests and lets the clicks in progress
// finish (for at most DefaultUpdateTimeout plus a little).
func (s Server) Run(ctx context.Context) error {
	b, err := New(s.Config)
	if err != nil {
		return err
	}
	listen, path := s.Listen, s.Path
	if listen == "" {
		listen = DefaultListen
	}
	if path == "" {
		path = DefaultPath
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("slack bridge: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle(path, b)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	b.cfg.Logger.Info("slack bridge listening", "url", "http://"+ln.Addr().String()+path, "users", len(s.Users))
	if s.OnReady != nil {
		s.OnReady(ln.Addr().String())
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		return fmt.Errorf("slack bridge: %w", err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), b.cfg.UpdateTimeout+5*time.Second)
	defer cancel()
	err = srv.Shutdown(sctx)
	b.Close(sctx)
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
