package localcloud

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"sync"
	"time"

	"github.com/zerodown/zerodown/internal/localcloud/api"
)

// errNoTarget is answered with 503, as an ALB does when no target is healthy.
var errNoTarget = errors.New("no healthy target")

// lbHandler is the load balancer: a reverse proxy whose transport picks the target,
// so that picking, retrying and counting connections happen in one place. The proxy
// handles keep-alive and WebSocket upgrades itself.
func (d *Daemon) lbHandler() http.Handler {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = "http"
			pr.Out.URL.Host = "target" // replaced once a target is chosen
			pr.SetXForwarded()
		},
		Transport:     &lbTransport{d: d},
		FlushInterval: -1, // relay streamed responses as they come
		ErrorHandler:  d.proxyError,
		ErrorLog:      slog.NewLogLogger(d.log.Handler(), slog.LevelDebug),
	}
}

func newBackendTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 nil, // never send loopback traffic to an HTTP_PROXY
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   128,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true, // pass bodies through untouched
	}
}

func (d *Daemon) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, errNoTarget):
		http.Error(w, "no healthy target", http.StatusServiceUnavailable)
	case r.Context().Err() != nil:
		// The client left; nobody reads an answer.
	default:
		d.log.Debug("proxy error", "err", err, "path", r.URL.Path)
		http.Error(w, "bad gateway", http.StatusBadGateway)
	}
}

// lbTransport sends each request to a target it picks, and retries once on another
// target when the first could not be reached before anything was sent.
type lbTransport struct{ d *Daemon }

func (t *lbTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body *guardedBody
	if req.Body != nil && req.Body != http.NoBody {
		body = &guardedBody{rc: req.Body}
	}
	var skip *instance
	var firstErr error
	bucket := requestBucket(req)
	for attempt := 0; ; attempt++ {
		l, err := t.d.acquire(skip, bucket)
		if err != nil {
			if firstErr != nil {
				return nil, firstErr // no other target: report why the first failed
			}
			return nil, err
		}
		ctx, cancel := context.WithCancel(req.Context())
		l.setCancel(cancel)
		out := req.Clone(ctx)
		out.URL.Host = l.addr
		if body != nil {
			out.Body = body
		}
		resp, err := t.d.backend.RoundTrip(out)
		if err != nil {
			aborted := ctx.Err() != nil
			l.release()
			if attempt == 0 && !aborted && req.Context().Err() == nil && retryable(req, body, err) {
				t.d.log.Debug("retrying on another target", "failed", l.id, "err", err)
				skip, firstErr = l.inst, err
				continue
			}
			return nil, err
		}
		resp.Header.Set(api.HeaderInstance, l.id)
		if l.newBucket >= 0 {
			setBucket(resp, l.newBucket)
		}
		t.d.countRouted(l.version)
		resp.Body = l.hold(resp)
		return resp, nil
	}
}

// retryable: a target that refused the connection saw nothing, so any request may go
// elsewhere; after that, only an idempotent request whose body was not read.
func retryable(req *http.Request, body *guardedBody, err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return body == nil || !body.touched()
	}
	return false
}

// guardedBody lets a request body survive a failed attempt: the transport closes the
// body on error, and the server closes the real one when the handler returns.
type guardedBody struct {
	mu   sync.Mutex
	rc   io.ReadCloser
	read bool
}

func (b *guardedBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	b.read = true
	b.mu.Unlock()
	return b.rc.Read(p)
}

func (b *guardedBody) Close() error { return nil }

func (b *guardedBody) touched() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.read
}

// acquire picks a target for a new request or connection and counts it there: in the
// version of the client's bucket (sticky.go), or by weight for a client without one,
// which then gets a bucket of the version it reached. The pick and the count happen
// under d.mu, so once detach returns no new lease can land on the detached instance.
func (d *Daemon) acquire(skip *instance, bucket int) (*lease, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, errNoTarget
	}
	var cands []*instance
	for _, in := range d.insts {
		if in != skip && in.eligible() {
			cands = append(cands, in)
		}
	}
	if len(cands) == 0 {
		return nil, errNoTarget
	}
	layout := bucketLayout(cands, d.weights)
	var in *instance
	newBucket := -1
	if v := versionOfBucket(layout, bucket); bucket >= 0 && v != "" {
		in = pickOf(cands, v)
	} else {
		in = pick(cands, d.weights, &d.rotation)
		if bucket < 0 {
			newBucket = bucketIn(layout, in.rec.Version)
		}
	}
	l := &lease{d: d, inst: in, id: in.rec.ID, version: in.rec.Version, addr: in.rec.address(), newBucket: newBucket}
	in.leases[l] = struct{}{}
	return l, nil
}

// countRouted counts an answer relayed from a version, so that the share each version
// really took can be read from the state, not assumed from the weights.
func (d *Daemon) countRouted(version string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.routed == nil {
		d.routed = map[string]int64{}
	}
	d.routed[version]++
}

// lease is one in-flight request or open WebSocket on a target.
type lease struct {
	d                 *Daemon
	inst              *instance
	id, version, addr string
	// newBucket is the bucket to give a client that came without one, else -1.
	newBucket int

	mu        sync.Mutex
	cancel    context.CancelFunc
	body      io.Closer
	websocket bool
	aborted   bool
	once      sync.Once
}

func (l *lease) setCancel(c context.CancelFunc) {
	l.mu.Lock()
	l.cancel = c
	l.mu.Unlock()
}

func (l *lease) isWebSocket() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.websocket
}

// hold wraps the response body so that the lease ends when the proxy closes it: after
// the last byte of a plain response, or when either side of a WebSocket hangs up.
func (l *lease) hold(resp *http.Response) io.ReadCloser {
	var wrapped io.ReadCloser = &leaseBody{ReadCloser: resp.Body, l: l}
	upgraded := false
	if rwc, ok := resp.Body.(io.ReadWriteCloser); ok && resp.StatusCode == http.StatusSwitchingProtocols {
		// The proxy needs a ReadWriteCloser to splice the upgraded connection.
		wrapped = &leaseConn{leaseBody: leaseBody{ReadCloser: rwc, l: l}, w: rwc}
		upgraded = true
	}
	l.mu.Lock()
	l.body = wrapped
	l.websocket = upgraded
	aborted := l.aborted
	l.mu.Unlock()
	if aborted { // the drain deadline passed while the answer was on its way
		wrapped.Close()
	}
	return wrapped
}

// abort ends the lease early: the drain deadline passed or the target is gone.
func (l *lease) abort() {
	l.mu.Lock()
	l.aborted = true
	cancel, body := l.cancel, l.body
	l.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	if body != nil {
		body.Close()
	}
}

// release uncounts the lease; a draining target with nothing left is drained.
func (l *lease) release() {
	l.once.Do(func() {
		l.mu.Lock()
		cancel := l.cancel
		l.mu.Unlock()
		if cancel != nil {
			cancel()
		}
		d, in := l.d, l.inst
		d.mu.Lock()
		delete(in.leases, l)
		drained := in.draining && len(in.leases) == 0
		if drained {
			in.draining = false
			if in.drainTimer != nil {
				in.drainTimer.Stop()
				in.drainTimer = nil
			}
		}
		d.mu.Unlock()
		if drained {
			d.log.Info("instance drained", "id", l.id)
		}
	})
}

type leaseBody struct {
	io.ReadCloser
	l *lease
}

func (b *leaseBody) Close() error {
	err := b.ReadCloser.Close()
	b.l.release()
	return err
}

type leaseConn struct {
	leaseBody
	w io.Writer
}

func (c *leaseConn) Write(p []byte) (int, error) { return c.w.Write(p) }

// leasesOf lists an instance's open leases; callers hold d.mu and abort them after
// unlocking (aborting releases, which takes d.mu).
func (d *Daemon) leasesOf(in *instance) []*lease {
	out := make([]*lease, 0, len(in.leases))
	for l := range in.leases {
		out = append(out, l)
	}
	return out
}

func abortAll(ls []*lease) {
	for _, l := range ls {
		l.abort()
	}
}
