// Command loadgen puts a demo-service load on a URL (the load balancer) and prints what
// users lost: failed requests by cause, latency percentiles, dropped WebSocket sessions
// and missed updates.
//
//	loadgen --target http://127.0.0.1:8080 --rate 100 --duration 1m --ws-clients 20
//
// With --duration 0 it runs until SIGINT or SIGTERM. With --marks-stdin every line read
// from standard input marks a moment (release-start, release-end, ...) so the report
// splits latency and failures into windows. The exit status is 0 when nothing was
// lost, 3 when something was, 1 on a usage error.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/zerodown/zerodown/internal/loadgen"
)

func main() {
	var (
		target     = flag.String("target", "http://127.0.0.1:8080", "base URL users reach: the load balancer")
		rate       = flag.Float64("rate", 50, "HTTP requests per second (0: WebSocket clients only)")
		duration   = flag.Duration("duration", 30*time.Second, "how long to run (0: until SIGINT/SIGTERM)")
		writeRatio = flag.Float64("write-ratio", 0.3, "fraction of requests that are writes")
		timeout    = flag.Duration("timeout", 2*time.Second, "per-request timeout")
		maxFlight  = flag.Int("max-in-flight", 0, "cap on concurrent requests (0: from rate and timeout)")
		boards     = flag.String("boards", "loadgen", "comma-separated boards to use")
		wsClients  = flag.Int("ws-clients", 10, "WebSocket clients following board changes")
		sessions   = flag.Int("sessions", 0, "simulated users keeping their cookies, requests spread over them (0: no cookies)")
		settle     = flag.Duration("settle", 2*time.Second, "wait for last updates before checking for lost ones")
		jsonOut    = flag.Bool("json", false, "print the report as JSON")
		marksStdin = flag.Bool("marks-stdin", false, "read mark names from standard input, one a line")
		progress   = flag.Duration("progress", 0, "print a progress line this often (0: never)")
		verbose    = flag.Bool("v", false, "log drops and reconnects")
	)
	flag.Parse()

	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	g, err := loadgen.New(loadgen.Config{
		BaseURL:     *target,
		Rate:        *rate,
		WriteRatio:  *writeRatio,
		Timeout:     *timeout,
		MaxInFlight: *maxFlight,
		Boards:      strings.Split(*boards, ","),
		WSClients:   *wsClients,
		Sessions:    *sessions,
		Settle:      *settle,
		Logger:      slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	if err := g.Start(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if *marksStdin {
		go func() {
			sc := bufio.NewScanner(os.Stdin)
			for sc.Scan() {
				if name := strings.TrimSpace(sc.Text()); name != "" {
					g.Mark(name)
					fmt.Fprintf(os.Stderr, "loadgen: mark %s\n", name)
				}
			}
		}()
	}
	if *progress > 0 {
		go func() {
			t := time.NewTicker(*progress)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					r := g.Report()
					line := fmt.Sprintf("loadgen: %d requests, %d failed, p99 %.1fms", r.Requests, r.Failed, r.Latency.P99)
					if ws := r.WebSocket; ws != nil {
						line += fmt.Sprintf("; ws %d reconnects, %d dropped, %d lost so far", ws.Reconnects, ws.Dropped, ws.Lost)
					}
					fmt.Fprintln(os.Stderr, line)
				}
			}
		}()
	}
	<-ctx.Done()
	r := g.Stop()
	if *jsonOut {
		fmt.Println(string(r.JSON()))
	} else {
		fmt.Print(r.String())
	}
	if !r.ZeroLoss() {
		os.Exit(3)
	}
}
