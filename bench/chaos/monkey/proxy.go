package monkey

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"
)

// call is one request of the worker to the local cloud API, as the proxy relayed it.
type call struct {
	Method, Path string
	Status       int
}

func (c call) String() string { return c.Method + " " + c.Path }

// proxy stands between the worker and the local cloud API (the release spec's
// target.local.endpoint points at it). It relays every call, and after the daemon has
// answered — the instances launched, the attach done — it asks afterCall whether to
// crash the worker before the answer reaches it: the moment idempotency keys exist for.
type proxy struct {
	URL string
	srv *http.Server
}

func startProxy(target string, afterCall func(call)) (*proxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 16}
	rp.ModifyResponse = func(resp *http.Response) error {
		afterCall(call{Method: resp.Request.Method, Path: resp.Request.URL.Path, Status: resp.StatusCode})
		return nil
	}
	// A daemon being restarted refuses connections: the worker sees a 502, as it would
	// see the refusal itself, and retries.
	rp.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, err error) {
		http.Error(w, "local cloud unreachable: "+err.Error(), http.StatusBadGateway)
	}
	p := &proxy{URL: "http://" + ln.Addr().String(), srv: &http.Server{Handler: rp, ReadHeaderTimeout: 10 * time.Second}}
	go func() {
		if err := p.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			panic(err) // cannot happen: the listener is ours and open
		}
	}()
	return p, nil
}

func (p *proxy) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = p.srv.Shutdown(ctx)
}
