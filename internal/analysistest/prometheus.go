package analysistest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// PrometheusEnv names a Prometheus binary to use instead of searching for one.
const PrometheusEnv = "PROMETHEUS"

// PrometheusInstallHint is what to do when Prometheus is missing.
const PrometheusInstallHint = "install it with: sudo apt-get install -y prometheus (Debian/Ubuntu; CI does this in .ci/run), or set $" + PrometheusEnv + " to a prometheus binary"

// PrometheusBinary finds Prometheus: $PROMETHEUS, then PATH, then /usr/bin/prometheus
// (the Debian package's, in case PATH is minimal).
func PrometheusBinary() (string, error) {
	if p := os.Getenv(PrometheusEnv); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("$%s=%s: %w; %s", PrometheusEnv, p, err, PrometheusInstallHint)
		}
		return p, nil
	}
	if p, err := exec.LookPath("prometheus"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/bin/prometheus"); err == nil {
		return "/usr/bin/prometheus", nil
	}
	return "", errors.New("prometheus was not found ($" + PrometheusEnv + ", PATH, /usr/bin); " + PrometheusInstallHint)
}

// Prometheus is a Prometheus server started for a test or a benchmark.
type Prometheus struct {
	URL string
	cmd *exec.Cmd
	log string
}

// ScrapeInterval is the test server's scrape interval: short, so that checks of a few
// seconds have several samples.
const ScrapeInterval = time.Second

// StartPrometheus starts bin on a free loopback port, storing its data in dir and
// scraping the targets listed in sdFile (the local cloud's targets.json) every second.
// It returns once the server answers queries.
func StartPrometheus(ctx context.Context, bin, sdFile, dir string) (*Prometheus, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	// honor_labels keeps the demo service's own version label (equal to the local
	// cloud's); refresh_interval backs up the file watch.
	config := fmt.Sprintf(`global:
  scrape_interval: %[1]s
  scrape_timeout: %[1]s
  evaluation_interval: %[1]s
scrape_configs:
  - job_name: zerodown
    honor_labels: true
    file_sd_configs:
      - files: [%[2]q]
        refresh_interval: 1s
`, ScrapeInterval, sdFile)
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o644); err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "prometheus.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(bin,
		"--config.file="+cfgPath,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--log.level=warn",
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	p := &Prometheus{URL: "http://" + addr, cmd: cmd, log: logPath}
	exited := make(chan error, 1) // Wait also reaps the process once it is stopped
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(time.Minute)
	for {
		if ready(p.URL) {
			return p, nil
		}
		select {
		case err := <-exited:
			return nil, fmt.Errorf("prometheus exited (%v): %s", err, p.Log())
		case <-ctx.Done():
			p.kill()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.kill()
			return nil, fmt.Errorf("prometheus not ready after a minute: %s", p.Log())
		}
	}
}

func ready(url string) bool {
	resp, err := http.Get(url + "/-/ready")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// Log returns the server's log, for a failing test.
func (p *Prometheus) Log() string {
	b, _ := os.ReadFile(p.log)
	return strings.TrimSpace(string(b))
}

// WaitTargets waits until Prometheus scrapes n healthy targets.
func (p *Prometheus) WaitTargets(ctx context.Context, n int) error {
	for {
		up, err := p.upTargets()
		if err == nil && up >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %d targets up (have %d, err %v): %w", n, up, err, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (p *Prometheus) upTargets() (int, error) {
	resp, err := http.Get(p.URL + "/api/v1/targets?state=active")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var body struct {
		Data struct {
			ActiveTargets []struct {
				Health string `json:"health"`
			} `json:"activeTargets"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return 0, err
	}
	up := 0
	for _, t := range body.Data.ActiveTargets {
		if t.Health == "up" {
			up++
		}
	}
	return up, nil
}

// Stop ends the server: SIGTERM, then SIGKILL after five seconds.
func (p *Prometheus) Stop() {
	if p.cmd.Process == nil {
		return
	}
	pid := p.cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	for range 50 {
		if syscall.Kill(pid, 0) != nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.kill()
}

func (p *Prometheus) kill() { _ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL) }

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
