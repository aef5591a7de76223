package workerapp_test

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// frontProxy stands where a production Temporal's TLS-terminating, API-key-checking
// front door stands (Temporal Cloud, an Envoy or nginx in front of a self-hosted
// cluster): it terminates TLS (mTLS when clientCAs are set), refuses calls without the
// bearer API key when apiKey is set, and forwards every gRPC call, byte for byte, to the
// real dev server behind it. Temporal's own server cannot be given TLS from the dev
// server's command line, hence the proxy.
type frontProxy struct {
	Address string
	// Calls counts calls forwarded (so a test knows traffic really went through it).
	Calls atomic.Int64
	// Polls counts the task queue polls among them: a worker's long polls last up to a
	// minute, so "a call after the worker was ready" may never come, "a poll" must.
	Polls atomic.Int64
	// KeyRefusals counts calls refused for a missing or wrong API key.
	KeyRefusals atomic.Int64
}

type proxyConfig struct {
	cert      tls.Certificate
	clientCAs *certPool
	apiKey    string
	// refusePrefix refuses calls of methods starting with it, as Temporal Cloud refuses
	// operator calls to a key that may not administer the namespace.
	refusePrefix string
}

func startFrontProxy(t *testing.T, backend string, cfg proxyConfig) *frontProxy {
	t.Helper()
	conn, err := grpc.NewClient(backend, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	tlsConfig := &tls.Config{Certificates: []tls.Certificate{cfg.cert}, MinVersion: tls.VersionTLS12}
	if cfg.clientCAs != nil {
		tlsConfig.ClientCAs = cfg.clientCAs.pool
		tlsConfig.ClientAuth = tls.RequireAndVerifyClientCert
	}
	p := &frontProxy{}
	srv := grpc.NewServer(
		grpc.Creds(credentials.NewTLS(tlsConfig)),
		grpc.ForceServerCodec(rawCodec{}),
		grpc.UnknownServiceHandler(func(_ any, ss grpc.ServerStream) error {
			if method, _ := grpc.MethodFromServerStream(ss); cfg.refusePrefix != "" && strings.HasPrefix(method, cfg.refusePrefix) {
				return status.Error(codes.PermissionDenied, "Request unauthorized.")
			}
			return p.forward(ss, conn, cfg.apiKey)
		}),
	)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Stop(); _ = conn.Close() })
	p.Address = ln.Addr().String()
	return p
}

func (p *frontProxy) forward(ss grpc.ServerStream, backend *grpc.ClientConn, apiKey string) error {
	method, _ := grpc.MethodFromServerStream(ss)
	md, _ := metadata.FromIncomingContext(ss.Context())
	md = md.Copy()
	if apiKey != "" {
		got, _ := strings.CutPrefix(strings.Join(md.Get("authorization"), ""), "Bearer ")
		if subtle.ConstantTimeCompare([]byte(got), []byte(apiKey)) != 1 {
			p.KeyRefusals.Add(1)
			return status.Error(codes.Unauthenticated, "invalid API key")
		}
		md.Delete("authorization") // the dev server behind needs none
	}
	p.Calls.Add(1)
	if strings.Contains(method, "/Poll") {
		p.Polls.Add(1)
	}
	ctx, cancel := context.WithCancel(metadata.NewOutgoingContext(ss.Context(), md))
	defer cancel()
	cs, err := backend.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, method, grpc.ForceCodec(rawCodec{}))
	if err != nil {
		return err
	}
	go func() {
		for {
			var f rawFrame
			if err := ss.RecvMsg(&f); err != nil {
				_ = cs.CloseSend()
				return
			}
			if err := cs.SendMsg(&f); err != nil {
				return
			}
		}
	}()
	if hdr, err := cs.Header(); err == nil {
		_ = ss.SendHeader(hdr)
	}
	for {
		var f rawFrame
		err := cs.RecvMsg(&f)
		if errors.Is(err, io.EOF) {
			ss.SetTrailer(cs.Trailer())
			return nil
		}
		if err != nil {
			ss.SetTrailer(cs.Trailer())
			return err
		}
		if err := ss.SendMsg(&f); err != nil {
			return err
		}
	}
}

// rawFrame and rawCodec pass gRPC messages through undecoded.
type rawFrame struct{ b []byte }

type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return v.(*rawFrame).b, nil }
func (rawCodec) Unmarshal(data []byte, v any) error {
	v.(*rawFrame).b = append([]byte(nil), data...)
	return nil
}
func (rawCodec) Name() string { return "proto" }
