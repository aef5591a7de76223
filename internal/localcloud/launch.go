package localcloud

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"text/template"
	"time"

	"github.com/zerodown/zerodown/internal/localcloud/api"
)

// maxLaunch bounds one launch: a typo in a count must not fork-bomb the machine.
const maxLaunch = 100

// apiError is an error with the HTTP status the API answers it with.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &apiError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

// templateData is what a command template may use.
type templateData struct {
	Version string
	Port    int
	ID      string
	Image   string
}

func render(s string, data templateData) (string, error) {
	t, err := template.New("arg").Option("missingkey=error").Parse(s)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		return "", err
	}
	return b.String(), nil
}

func validateLaunch(req api.LaunchRequest) error {
	switch {
	case req.Key == "":
		return badRequest("key is required: it makes a retried launch return the same instances")
	case req.Version == "":
		return badRequest("version is required")
	case req.Count < 1 || req.Count > maxLaunch:
		return badRequest("count %d is out of range 1..%d", req.Count, maxLaunch)
	case len(req.Command) == 0 || req.Command[0] == "":
		return badRequest("command is required")
	case req.HealthPath != "" && !strings.HasPrefix(req.HealthPath, "/"):
		return badRequest("healthPath %q must start with /", req.HealthPath)
	}
	// Render once with placeholders so a bad template is refused before anything starts.
	probe := templateData{Version: req.Version, Port: 1, ID: "i-0", Image: req.Image}
	for i, a := range req.Command {
		if _, err := render(a, probe); err != nil {
			return badRequest("command[%d]: %v", i, err)
		}
	}
	for k, v := range req.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return badRequest("env: invalid variable name %q", k)
		}
		if _, err := render(v, probe); err != nil {
			return badRequest("env %s: %v", k, err)
		}
	}
	return nil
}

// launch starts req.Count instances, or returns the ones a previous launch with the
// same key started.
func (d *Daemon) launch(req api.LaunchRequest) (api.LaunchResponse, error) {
	if err := validateLaunch(req); err != nil {
		return api.LaunchResponse{}, err
	}
	d.launchMu.Lock()
	defer d.launchMu.Unlock()

	d.mu.Lock()
	if prev, ok := d.launches[req.Key]; ok {
		defer d.mu.Unlock()
		if prev.Version != req.Version || prev.Count != req.Count {
			return api.LaunchResponse{}, &apiError{http.StatusConflict, fmt.Sprintf(
				"launch key %q was used for %d instance(s) of %s, not %d of %s",
				req.Key, prev.Count, prev.Version, req.Count, req.Version)}
		}
		return api.LaunchResponse{Instances: d.viewsOf(prev.IDs)}, nil
	}
	used := map[int]bool{}
	for _, in := range d.insts {
		if in.rec.live() {
			used[in.rec.Port] = true
		}
	}
	d.mu.Unlock()

	healthPath := req.HealthPath
	if healthPath == "" {
		healthPath = d.cfg.DefaultHealthPath
	}
	now := time.Now()
	var created []*instance
	for i := range req.Count {
		port, err := freePort(used)
		if err != nil {
			return api.LaunchResponse{}, err
		}
		used[port] = true
		data := templateData{Version: req.Version, Port: port, ID: newID(), Image: req.Image}
		rec := record{
			ID:         data.ID,
			Version:    req.Version,
			Image:      req.Image,
			LaunchKey:  req.Key,
			Port:       port,
			Env:        map[string]string{},
			HealthPath: healthPath,
			LogPath:    filepath.Join(d.cfg.StateDir, "logs", data.ID+".log"),
			Status:     api.StatusPending,
			CreatedAt:  now.Add(time.Duration(i)), // keeps launch order in listings
		}
		for _, a := range req.Command {
			s, _ := render(a, data) // validated above
			rec.Args = append(rec.Args, s)
		}
		for k, v := range req.Env {
			rec.Env[k], _ = render(v, data)
		}
		created = append(created, newInstance(rec))
	}

	ids := make([]string, len(created))
	d.mu.Lock()
	for i, in := range created {
		d.insts[in.rec.ID] = in
		ids[i] = in.rec.ID
	}
	d.launches[req.Key] = launch{Version: req.Version, Count: req.Count, IDs: ids}
	d.mu.Unlock()
	// Recorded before started: a crash from here on leaves a record to clean up,
	// never a process nobody knows about.
	d.persist()

	for _, in := range created {
		d.start(in)
	}
	d.persist()
	d.mu.Lock()
	defer d.mu.Unlock()
	return api.LaunchResponse{Instances: d.viewsOf(ids), Created: true}, nil
}

// start runs the process of a pending instance.
func (d *Daemon) start(in *instance) {
	d.mu.Lock()
	rec := in.rec
	d.mu.Unlock()

	env := append(os.Environ(),
		fmt.Sprintf("PORT=%d", rec.Port),
		"ZERODOWN_INSTANCE_ID="+rec.ID,
		"ZERODOWN_VERSION="+rec.Version)
	keys := make([]string, 0, len(rec.Env))
	for k := range rec.Env {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		env = append(env, k+"="+rec.Env[k])
	}

	logf, err := os.OpenFile(rec.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err == nil {
		fmt.Fprintf(logf, "%s localcloud: starting %s (%s) on %s: %q\n",
			time.Now().Format(time.RFC3339), rec.ID, rec.Version, rec.address(), rec.Args)
		c, serr := spawn(rec.Args, env, logf, d.cfg.KillInstancesWithDaemon)
		if serr != nil {
			fmt.Fprintf(logf, "%s localcloud: cannot start: %v\n", time.Now().Format(time.RFC3339), serr)
			err = serr
		} else {
			d.started(in, c.Process.Pid, func() (int, string) {
				_ = c.Wait()
				return exitReason(c.ProcessState)
			})
		}
		logf.Close() // the child holds its own descriptor
	}
	if err != nil {
		code := -1
		d.mu.Lock()
		if in.rec.Status == api.StatusPending {
			in.rec.Status = api.StatusExited
			in.rec.ExitCode = &code
			in.rec.LastError = "cannot start: " + err.Error()
			in.rec.EndedAt = time.Now()
		}
		d.mu.Unlock()
		in.markExited()
		d.log.Warn("instance failed to start", "id", rec.ID, "err", err)
	}
}

// started records a freshly spawned process and watches it.
func (d *Daemon) started(in *instance, pid int, wait func() (int, string)) {
	ticks, _, _ := procStat(pid)
	d.mu.Lock()
	in.rec.PID, in.rec.StartTicks = pid, ticks
	stillWanted := in.rec.Status == api.StatusPending
	if stillWanted {
		in.rec.Status = api.StatusRunning
	}
	d.mu.Unlock()
	go func() {
		code, why := wait()
		d.onExit(in, &code, why)
	}()
	if !stillWanted { // terminated while it was being started
		_ = signalGroup(pid, syscall.SIGKILL)
		return
	}
	d.log.Info("instance started", "id", in.rec.ID, "version", in.rec.Version, "pid", pid, "address", in.rec.address())
	d.startHealth(in)
}

// freePort finds a loopback port nobody listens on and no instance of ours owns.
func freePort(used map[int]bool) (int, error) {
	for range 50 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if !used[port] {
			return port, nil
		}
	}
	return 0, fmt.Errorf("no free loopback port")
}

// newID returns an EC2-like instance ID.
func newID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "i-" + hex.EncodeToString(b)
}

// viewsOf returns the API view of the named instances; callers hold d.mu.
func (d *Daemon) viewsOf(ids []string) []api.Instance {
	out := make([]api.Instance, 0, len(ids))
	for _, id := range ids {
		if in, ok := d.insts[id]; ok {
			out = append(out, in.view(d.weights))
		}
	}
	return out
}
