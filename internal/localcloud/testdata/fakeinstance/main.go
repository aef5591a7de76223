// Command fakeinstance is the instance the local cloud tests start: a tiny HTTP server
// with the behaviours the load balancer must handle. It is not the demo service.
//
//	/              answers "<version> <id>"
//	/healthz       200, or 503 once POST /admin/health?ok=false (or FAKE_MODE=unhealthy)
//	/slow?ms=N     answers after N milliseconds
//	/ws            WebSocket echo
//	/admin/refuse  closes the listener but keeps the process (connection refused)
//
// FAKE_MODE=crash makes it print an error and exit 3 at once (a crash on start). On
// SIGTERM it stops accepting, finishes in-flight requests and exits 0.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"
)

func main() {
	port := flag.Int("port", 0, "port to listen on (127.0.0.1)")
	version := flag.String("version", "v0", "version to report")
	id := flag.String("id", "", "instance id to report")
	flag.Parse()

	if os.Getenv("FAKE_MODE") == "crash" {
		fmt.Fprintln(os.Stderr, "boom: cannot open the database")
		os.Exit(3)
	}
	var healthy atomic.Bool
	healthy.Store(os.Getenv("FAKE_MODE") != "unhealthy")

	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Demoapp-Version", *version) // as the demo service does, for loadgen's counts
		fmt.Fprintf(w, "%s %s\n", *version, *id)
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if !healthy.Load() {
			http.Error(w, "unhealthy", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("POST /admin/health", func(w http.ResponseWriter, r *http.Request) {
		healthy.Store(r.URL.Query().Get("ok") != "false")
	})
	mux.HandleFunc("POST /admin/refuse", func(w http.ResponseWriter, r *http.Request) {
		ln.Close()
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
			fmt.Fprintf(w, "slow %s %s\n", *version, *id)
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx := context.Background()
		for {
			typ, msg, err := c.Read(ctx)
			if err != nil {
				return
			}
			if err := c.Write(ctx, typ, msg); err != nil {
				return
			}
		}
	})

	srv := &http.Server{Handler: mux}
	done := make(chan struct{})
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		<-sig
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx) // in-flight requests finish
		close(done)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	<-done
}
