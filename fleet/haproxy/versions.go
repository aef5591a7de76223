package haproxy

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"
)

// HAProxy knows nothing of versions. A fixed server's version is what the server says
// at VersionPath when the spec sets one (the truth, whoever installed it), else what
// zerodown recorded when it deployed there (VersionFile). A launched instance's
// version is the local cloud's record of what it launched.

// validVersion keeps what a server answers from becoming a version when it is an
// error page: one short printable word.
var validVersion = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+:~-]{0,63}$`)

// versionProbe asks servers what they run.
type versionProbe struct {
	path, header string
	client       *http.Client
}

func newVersionProbe(path, header string) *versionProbe {
	return &versionProbe{path: path, header: header, client: &http.Client{
		Timeout:   2 * time.Second,
		Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
		// A redirect would make the answer someone else's.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// version asks the server at addr (host:port) for its version.
func (p *versionProbe) version(ctx context.Context, addr string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+p.path, nil)
	if err != nil {
		return "", err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	v := resp.Header.Get(p.header)
	if p.header == "" {
		if resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("GET %s answered %s", req.URL, resp.Status)
		}
		line, _ := bufio.NewReader(io.LimitReader(resp.Body, 256)).ReadString('\n')
		v = strings.TrimSpace(line)
	}
	if !validVersion.MatchString(v) {
		return "", fmt.Errorf("GET %s: %q is not a version", req.URL, v)
	}
	return v, nil
}

// versionFile records the version deployed on each fixed server, as JSON
// {"server": "version"}, replaced atomically on each change.
type versionFile struct {
	path string
	mu   sync.Mutex
}

// maxVersionFile bounds what is read back: a thousand servers take about 100 KB.
const maxVersionFile = 1 << 20

func (f *versionFile) read() (map[string]string, error) {
	m := map[string]string{}
	if f == nil {
		return m, nil
	}
	file, err := os.Open(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return nil, err
	}
	defer file.Close()
	b, err := io.ReadAll(io.LimitReader(file, maxVersionFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxVersionFile {
		return nil, fmt.Errorf("version file %s is larger than %d bytes", f.path, maxVersionFile)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("version file %s: %w", f.path, err)
	}
	return m, nil
}

func (f *versionFile) record(server, version string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, err := f.read()
	if err != nil {
		return err
	}
	m[server] = version
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(f.path), ".versions-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), f.path)
}
