package board

// The board as a front end: with Config.Backend set, an instance keeps no board of its own
// and calls the back end through the back end's load balancer. The API is proxied, each
// WebSocket is relayed to one on the back end, and /smoke and /sanity check the whole path.
// A release of either service is then felt by the users of the front end.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// BackendVersionHeader carries, on a front end's answer, the version of the back end that
// served it; VersionHeader stays the front end's own.
const BackendVersionHeader = "X-Demoapp-Backend-Version"

// UserHeader names the user an API request acts for; a version that writes owners
// records it as the item's owner.
const UserHeader = "X-Board-User"

// backendCallTimeout bounds one call of the front end to the back end.
const backendCallTimeout = 5 * time.Second

// frontend is what a Server needs to be a front end.
type frontend struct {
	base   *url.URL
	proxy  *httputil.ReverseProxy
	client *http.Client

	mu     sync.Mutex
	relays map[*relay]struct{}
}

func newFrontend(backend string) (*frontend, error) {
	u, err := url.Parse(backend)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("board: Backend %q is not an http(s) base URL", backend)
	}
	u.Path = ""
	transport := &http.Transport{Proxy: nil, MaxIdleConns: 64, MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second}
	f := &frontend{base: u, client: &http.Client{Transport: transport, Timeout: backendCallTimeout}, relays: map[*relay]struct{}{}}
	f.proxy = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u)
			r.Out.Host = u.Host
		},
		Transport: transport,
		ModifyResponse: func(resp *http.Response) error {
			// The answer says which back end served it, and which front end (set by routes).
			resp.Header.Set(BackendVersionHeader, resp.Header.Get(VersionHeader))
			resp.Header.Del(VersionHeader)
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			httpError(w, http.StatusBadGateway, "back end: "+err.Error())
		},
	}
	return f, nil
}

// smoke asks the back end's /smoke through its load balancer: the front end works when
// it reaches a working back end.
func (f *frontend) smoke(ctx context.Context) (map[string]any, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.base.String()+"/smoke", nil)
	if err != nil {
		return nil, err
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("back end: %w", err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(&body); err != nil {
		return nil, fmt.Errorf("back end /smoke answered %d: %w", resp.StatusCode, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("back end /smoke answered %d: %v", resp.StatusCode, body["error"])
	}
	return body, nil
}

func (f *frontend) add(r *relay) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.relays[r] = struct{}{}
}

func (f *frontend) remove(r *relay) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.relays, r)
}

func (f *frontend) all() []*relay {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]*relay, 0, len(f.relays))
	for r := range f.relays {
		out = append(out, r)
	}
	return out
}

// relay is one user's WebSocket, relayed to a WebSocket on the back end. It remembers
// the last seq it passed on, so that when this front end goes away it can tell the user
// where to resume, as the back end does.
type relay struct {
	migrateOnce sync.Once
	migrate     chan struct{}
	done        chan struct{}
}

func (r *relay) askMigrate() { r.migrateOnce.Do(func() { close(r.migrate) }) }

// serveWSRelay dials the back end before it accepts the user, so a back end that cannot
// be reached is a failed dial for the user (who retries), not a dropped session.
func (s *Server) serveWSRelay(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		httpError(w, http.StatusServiceUnavailable, "draining")
		return
	}
	board := r.URL.Query().Get("board")
	if !s.boardParam(w, board) {
		return
	}
	last := int64(-1)
	if v := r.URL.Query().Get("since"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			httpError(w, http.StatusBadRequest, "since must be a non-negative integer")
			return
		}
		last = n
	}
	target := "ws" + strings.TrimPrefix(s.front.base.String(), "http") + "/ws?" + r.URL.RawQuery
	dctx, cancel := context.WithTimeout(r.Context(), backendCallTimeout)
	back, resp, err := websocket.Dial(dctx, target, &websocket.DialOptions{HTTPClient: s.front.client})
	cancel()
	if err != nil {
		code := http.StatusBadGateway
		if resp != nil && resp.StatusCode >= 400 {
			code = resp.StatusCode
		}
		httpError(w, code, "back end: "+err.Error())
		return
	}
	defer back.CloseNow()
	user, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return
	}
	s.requests.WithLabelValues(strconv.Itoa(http.StatusSwitchingProtocols), r.Method).Inc()
	s.wsWG.Add(1)
	defer s.wsWG.Done()
	defer user.CloseNow()
	rl := &relay{migrate: make(chan struct{}), done: make(chan struct{})}
	s.front.add(rl)
	s.wsConns.Inc()
	defer func() {
		s.front.remove(rl)
		s.wsConns.Dec()
		close(rl.done)
	}()
	if s.draining.Load() {
		rl.askMigrate()
	}
	ctx, stop := context.WithCancel(user.CloseRead(s.ctx))
	defer stop()
	back.SetReadLimit(1 << 20)

	// One reader of the back end passes messages on; the loop below owns the user's
	// side, so a reconnect can never be written in the middle of a change.
	type frame struct {
		data []byte
		err  error
	}
	frames := make(chan frame)
	go func() {
		for {
			_, data, err := back.Read(ctx)
			select {
			case frames <- frame{data, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	send := func(data []byte) error {
		wctx, cancel := context.WithTimeout(ctx, writeTimeout)
		defer cancel()
		return user.Write(wctx, websocket.MessageText, data)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-rl.migrate:
			b, _ := json.Marshal(Message{Type: "reconnect", Board: board, Seq: max(last, 0)})
			if send(b) == nil {
				s.migrations.Inc()
				_ = user.Close(websocket.StatusNormalClosure, "reconnect")
			}
			return
		case f := <-frames:
			if f.err != nil {
				// The back end went away without a word: so does this session.
				_ = user.Close(websocket.StatusGoingAway, "back end closed")
				return
			}
			var m Message
			if err := json.Unmarshal(f.data, &m); err != nil {
				_ = user.Close(websocket.StatusInternalError, "bad message from the back end")
				return
			}
			if err := send(f.data); err != nil {
				return
			}
			switch m.Type {
			case "hello", "change":
				last = m.Seq
			case "reconnect":
				// The back end instance goes away: the user reconnects through us.
				_ = user.Close(websocket.StatusNormalClosure, "reconnect")
				return
			}
		}
	}
}

// errSanityFault is the fault of a bad build whose end-to-end path is broken while each
// instance looks healthy.
var errSanityFault = errors.New("injected fault: the sanity path is broken in this build")
