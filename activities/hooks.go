package activities

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/zerodown/zerodown/schemas"
)

// HookInput runs one hook against the given new instances.
type HookInput struct {
	Target  schemas.Target `json:"target"`
	Hook    schemas.Hook   `json:"hook"`
	Stage   string         `json:"stage"` // preTraffic | postPromote
	Version string         `json:"version"`
	IDs     []string       `json:"ids"`
}

// The variables a command hook always gets from the release.
const (
	EnvStage     = "ZERODOWN_STAGE"     // preTraffic | postPromote
	EnvVersion   = "ZERODOWN_VERSION"   // the version being released
	EnvInstances = "ZERODOWN_INSTANCES" // host:port of each new instance, comma-separated
)

// What a command hook gets of the worker's environment when the spec does not pass more;
// each falls back to a safe default when the worker has none.
var hookBaseEnv = []struct{ name, fallback string }{
	{"PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
	{"HOME", "/"},
	{"LANG", "C.UTF-8"},
}

// HookEnv is the whole environment of a command hook, never the worker's: PATH, HOME and
// LANG (the worker's, else defaults), the variables the hook passes by name (when the
// worker has them), the ones it sets, and last the release's ZERODOWN_* variables, which
// nothing overrides. lookup reads the worker's environment (os.LookupEnv).
func HookEnv(c *schemas.CommandHook, lookup func(string) (string, bool), release ...string) []string {
	env := map[string]string{}
	for _, v := range hookBaseEnv {
		env[v.name] = v.fallback
		if val, ok := lookup(v.name); ok && val != "" {
			env[v.name] = val
		}
	}
	for _, name := range c.PassEnv {
		if val, ok := lookup(name); ok {
			env[name] = val
		}
	}
	maps.Copy(env, c.Env)
	for _, kv := range release {
		name, val, _ := strings.Cut(kv, "=")
		env[name] = val
	}
	out := make([]string, 0, len(env))
	for _, name := range slices.Sorted(maps.Keys(env)) {
		out = append(out, name+"="+env[name])
	}
	return out
}

// hookOutputKept is how much of a command hook's output the worker keeps (the end):
// enough to redact the secrets of the tail whole, bounded against a chatty hook.
const hookOutputKept = 64 << 10

// hookWaitDelay is how long a hook's output is still read after the hook has exited
// (or been killed at its timeout).
const hookWaitDelay = 2 * time.Second

// hookOutputShown is how much of the kept output a failed hook's error shows.
const hookOutputShown = 512

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := len(p)
	if len(p) > b.max {
		p = p[len(p)-b.max:]
	}
	b.buf = append(b.buf, p...)
	if len(b.buf) > 2*b.max { // compact now and then, so writes stay linear
		b.buf = append(b.buf[:0], b.buf[len(b.buf)-b.max:]...)
	}
	return n, nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf[max(0, len(b.buf)-b.max):])
}

// outputTail is the end of a hook's (already redacted) output as an error shows it:
// at most hookOutputShown bytes, starting on a character, valid UTF-8 (the history
// refuses anything else).
func outputTail(s string) string {
	if len(s) > hookOutputShown {
		cut := len(s) - hookOutputShown
		for cut < len(s) && !utf8.RuneStart(s[cut]) {
			cut++
		}
		s = s[cut:]
	}
	return strings.ToValidUTF8(strings.TrimSpace(s), "\uFFFD")
}

// RunHook runs an HTTP check against each instance directly (not through the load
// balancer, so a bad instance cannot hide behind good ones), or a command in a clean
// environment (HookEnv). The workflow retries a failing hook a few times before it rolls
// back. A failed command's error ends with the end of its output, redacted.
func (a *Activities) RunHook(ctx context.Context, in HookInput) error {
	f, err := a.fleet(in.Target)
	if err != nil {
		return err
	}
	st, err := f.Describe(ctx)
	if err != nil {
		return classify(err)
	}
	var addrs []string
	for _, id := range in.IDs {
		inst, ok := st.Find(id)
		if !ok {
			return fmt.Errorf("hook %s: instance %s is gone", in.Hook.Label(), id)
		}
		addrs = append(addrs, inst.Address)
	}
	if h := in.Hook.HTTP; h != nil {
		for i, addr := range addrs {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+h.Path, nil)
			if err != nil {
				return nonRetryable(ErrTypeInvalidConfig, err)
			}
			resp, err := a.HTTP.Do(req)
			if err != nil {
				return fmt.Errorf("hook %s on %s: %w", in.Hook.Label(), in.IDs[i], err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != h.Expect {
				return fmt.Errorf("hook %s on %s: GET %s answered %d, want %d", in.Hook.Label(), in.IDs[i], h.Path, resp.StatusCode, h.Expect)
			}
		}
		return nil
	}
	if c := in.Hook.Command; c != nil && len(c.Args) > 0 {
		cmd := exec.CommandContext(ctx, c.Args[0], c.Args[1:]...)
		cmd.Env = HookEnv(c, os.LookupEnv,
			EnvStage+"="+in.Stage,
			EnvVersion+"="+in.Version,
			EnvInstances+"="+strings.Join(addrs, ","))
		out := &tailBuffer{max: hookOutputKept}
		cmd.Stdout, cmd.Stderr = out, out
		// A child left running in the background (`server &`) keeps the output open:
		// stop reading it shortly after the hook itself has exited.
		cmd.WaitDelay = hookWaitDelay
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("hook %s: %v: %s", in.Hook.Label(), err, outputTail(redactorFrom(ctx).String(out.String())))
		}
		return nil
	}
	return nonRetryable(ErrTypeInvalidConfig, fmt.Errorf("hook %s has neither http nor command", in.Hook.Label()))
}
