package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/zerodown/zerodown/codec"
)

// maxTokenFileBytes bounds --token-file: a bearer token, not a document.
const maxTokenFileBytes = 4 << 10

func (a *App) codecServerCommand() *cobra.Command {
	var (
		listen, tokenFile string
		origins           []string
		allowEncode       bool
	)
	cmd := &cobra.Command{
		Use:   "codec-server [--listen ADDR] [--origin URL]... [--token-file FILE] [--allow-encode]",
		Short: "Serve the payload codec so the Temporal UI and CLI can read encrypted releases",
		Long: `codec-server decrypts release payloads for the Temporal UI (its "codec endpoint"
setting) and for ` + "`temporal workflow show --codec-endpoint http://ADDR`" + `, with the keys of
$` + codec.KeysFileEnv + ` or $` + codec.KeysEnv + `.

Anyone who can reach it reads every release: keep it on 127.0.0.1 (the UI calls it from
the browser) or behind a proxy that authenticates, and give --token-file so that only
callers sending "Authorization: Bearer <token>" are answered.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			keys, err := codec.LoadKeysFromEnv()
			if err != nil {
				return usageError(err)
			}
			if keys == nil {
				return usagef("no codec keys: set $%s (a file of \"ID BASE64KEY\" lines) or $%s", codec.KeysFileEnv, codec.KeysEnv)
			}
			c, err := codec.New(keys)
			if err != nil {
				return usageError(err)
			}
			opts := codec.ServerOptions{AllowOrigins: origins, AllowEncode: allowEncode}
			if tokenFile != "" {
				if opts.Token, err = readToken(tokenFile); err != nil {
					return usagef("--token-file %s: %v", tokenFile, err)
				}
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return WithCode(ExitError, fmt.Errorf("codec-server --listen %s: %w", listen, err))
			}
			fmt.Fprintf(a.Stderr, "codec server on http://%s (keys %s; origins %s; token %t)\n",
				ln.Addr(), strings.Join(keys.IDs(), ", "), strings.Join(origins, ", "), opts.Token != "")
			return serveUntilDone(cmd.Context(), ln, codec.NewServer(c, opts))
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", "127.0.0.1:8081", "host:port to serve on")
	f.StringSliceVar(&origins, "origin", nil, "web origin of the Temporal UI allowed to call from the browser (e.g. http://localhost:8233); repeatable")
	f.StringVar(&tokenFile, "token-file", "", "file holding the bearer token callers must send")
	f.BoolVar(&allowEncode, "allow-encode", false, "also serve /encode, for signals and updates sent from the UI")
	return cmd
}

func readToken(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, maxTokenFileBytes+1))
	if err != nil {
		return "", err
	}
	if len(raw) > maxTokenFileBytes {
		return "", fmt.Errorf("more than %d bytes", maxTokenFileBytes)
	}
	token := strings.TrimSpace(string(raw))
	if token == "" || strings.ContainsAny(token, " \t\r\n") {
		return "", errors.New("want one token on one line")
	}
	return token, nil
}

// serveUntilDone serves h on ln until ctx ends, then shuts down gracefully.
func serveUntilDone(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, WriteTimeout: time.Minute}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return WithCode(ExitError, fmt.Errorf("codec-server: %w", err))
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		return nil
	}
}
