// Command demoapp is the demo service zerodown releases: a small collaborative board
// (HTTP API and WebSocket change streams) whose state lives in a SQLite file shared by
// every instance, so any instance can serve any user and users can move between them.
//
// Fault flags make a bad version for demonstrating automatic rollback:
//
//	demoapp --version v2 --port 8081 --store /tmp/board.db --error-rate 0.3
//
// With --sentry-dsn (or $SENTRY_DSN) it reports its 5xx answers and its requests to
// Sentry through sentry-go, with release = --version, so a bad version's errors show
// in Sentry under its release (sentry.go).
//
// A bad build can also carry its faults inside the binary, as a real bad release
// carries its bug: `go build -ldflags "-X main.bakedFlags=--error-rate=0.3"`.
//
// With --backend it is a front end calling another board's load balancer; with
// --item-owner it is the version that needs the expand migration, which
//
//	demoapp migrate --store /tmp/board.db expand|undo-expand|contract|backup FILE
//
// runs (see board/migrate.go).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/zerodown/zerodown/examples/demoapp/board"
)

// bakedFlags are flags compiled into a build (-ldflags -X); the command line comes after
// them and wins.
var bakedFlags string

func main() {
	if len(os.Args) > 1 && os.Args[1] == "migrate" {
		if err := migrate(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "demoapp migrate:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "demoapp:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		version         = flag.String("version", "", "version this instance runs (required); labels metrics and responses")
		port            = flag.Int("port", 0, "port to listen on at 127.0.0.1 (or use --addr)")
		addr            = flag.String("addr", "", "address to listen on, e.g. 127.0.0.1:8080 (default 127.0.0.1:8080)")
		store           = flag.String("store", "demoapp.db", "SQLite file shared by all instances")
		errorRate       = flag.Float64("error-rate", 0, "fault: fraction of API requests answered 500 (0..1)")
		handledErrors   = flag.Float64("handled-error-rate", 0, "fault: fraction of API requests hitting a bug the service recovers from (answered right, reported to Sentry) (0..1)")
		latency         = flag.Duration("latency", 0, "fault: latency added to every API request")
		backend         = flag.String("backend", "", "be a front end: the back end's load balancer, e.g. http://127.0.0.1:8080")
		itemOwner       = flag.Bool("item-owner", false, "write items.owner (needs the expand migration; the version after it has this baked in)")
		failSanity      = flag.Bool("fail-sanity", false, "fault: /sanity answers 500 while /smoke and /healthz pass")
		failHealth      = flag.Bool("fail-health", false, "fault: /healthz answers 503")
		unhealthyAfter  = flag.Duration("unhealthy-after", 0, "fault: /healthz answers 503 once this long has passed since start")
		crashOnStart    = flag.Bool("crash-on-start", false, "fault: exit 1 right after starting")
		shutdownTimeout = flag.Duration("shutdown-timeout", 10*time.Second, "bound on graceful shutdown after SIGTERM")
		drainDelay      = flag.Duration("drain-delay", 0, "after SIGTERM, keep serving with /healthz 503 this long before closing the listener")
		migrateOnTerm   = flag.Bool("migrate-on-sigterm", true, "after SIGTERM, tell WebSocket clients to reconnect elsewhere (false: just close them)")
		poll            = flag.Duration("poll", 50*time.Millisecond, "how often to poll the store for changes made through other instances")
		logLevel        = flag.String("log-level", "info", "debug, info, warn or error")
		sentryDSN       = flag.String("sentry-dsn", os.Getenv("SENTRY_DSN"), "report errors and requests to Sentry at this DSN, with release = --version (default $SENTRY_DSN; empty: no reporting)")
		sentryEnv       = flag.String("sentry-environment", os.Getenv("SENTRY_ENVIRONMENT"), "Sentry environment of the reports (default $SENTRY_ENVIRONMENT)")
	)
	if err := flag.CommandLine.Parse(append(strings.Fields(bakedFlags), os.Args[1:]...)); err != nil {
		return err
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("version", *version, "pid", os.Getpid())

	if *version == "" {
		return errors.New("--version is required")
	}
	listen := *addr
	switch {
	case listen != "" && *port != 0:
		return errors.New("use --port or --addr, not both")
	case *port != 0:
		listen = net.JoinHostPort("127.0.0.1", strconv.Itoa(*port))
	case listen == "":
		listen = "127.0.0.1:8080"
	}
	if *crashOnStart {
		log.Error("crashing on start, as asked by --crash-on-start")
		os.Exit(1)
	}

	var observe func(http.Handler) http.Handler
	onHandledError := func(_ context.Context, err error) { log.Debug("handled error", "err", err) }
	if *sentryDSN != "" {
		wrap, flush, err := startSentry(*sentryDSN, *version, *sentryEnv)
		if err != nil {
			return err
		}
		defer flush()
		observe, onHandledError = wrap, captureHandled
	}

	st, err := board.OpenStore(*store)
	if err != nil {
		return err
	}
	defer st.Close()
	if *itemOwner {
		if err := st.WriteOwners(); err != nil {
			return err
		}
	}
	srv, err := board.New(board.Config{
		Version:          *version,
		Store:            st,
		Backend:          *backend,
		FailSanity:       *failSanity,
		ErrorRate:        *errorRate,
		HandledErrorRate: *handledErrors,
		OnHandledError:   onHandledError,
		Latency:          *latency,
		FailHealth:       *failHealth,
		UnhealthyAfter:   *unhealthyAfter,
		PollInterval:     *poll,

		Observe:             observe,
		NoShutdownMigration: !*migrateOnTerm,
		Logger:              log,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		srv.Close()
		return err
	}
	log.Info("demoapp listening", "addr", ln.Addr().String(), "store", *store,
		"error_rate", *errorRate, "latency", *latency, "fail_health", *failHealth, "unhealthy_after", *unhealthyAfter)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // a second signal kills at once, for an operator who cannot wait
	}()
	return srv.Serve(ctx, ln, *drainDelay, *shutdownTimeout)
}

// migrate runs `demoapp migrate --store FILE ACTION [ARG]`, a DBA's script for the board.
func migrate(args []string) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	store := fs.String("store", "", "SQLite file of the board (required)")
	timeout := fs.Duration("timeout", time.Minute, "bound on the migration")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *store == "" || fs.NArg() == 0 {
		return errors.New("usage: demoapp migrate --store FILE expand|undo-expand|contract|backup FILE")
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	return board.Migrate(ctx, *store, fs.Arg(0), fs.Args()[1:]...)
}
