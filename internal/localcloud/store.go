package localcloud

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
)

const (
	stateFileName   = "state.json"
	targetsFileName = "targets.json"
	stateVersion    = 1
)

// stateFile is the daemon's memory across restarts.
type stateFile struct {
	Version   int               `json:"version"`
	Instances []record          `json:"instances"`
	Launches  map[string]launch `json:"launches"`
	Weights   map[string]int    `json:"weights,omitempty"`
}

// launch is what a launch key stands for: the same key must always answer with the
// same instances, and a different request under a known key is refused.
type launch struct {
	Version string   `json:"version"`
	Count   int      `json:"count"`
	IDs     []string `json:"ids"`
}

func loadState(dir string) (stateFile, error) {
	st := stateFile{Version: stateVersion, Launches: map[string]launch{}}
	b, err := os.ReadFile(filepath.Join(dir, stateFileName))
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("%s: %w", filepath.Join(dir, stateFileName), err)
	}
	if st.Version != stateVersion {
		return st, fmt.Errorf("%s: state version %d, this daemon reads %d", filepath.Join(dir, stateFileName), st.Version, stateVersion)
	}
	if st.Launches == nil {
		st.Launches = map[string]launch{}
	}
	return st, nil
}

// persist writes state.json, and targets.json when the fleet changed. The snapshot is
// taken after saveMu is held, so a write never replaces a newer state with an older one.
func (d *Daemon) persist() {
	d.saveMu.Lock()
	defer d.saveMu.Unlock()
	if d.released {
		return // the state dir belongs to another daemon now
	}
	d.mu.Lock()
	st := stateFile{Version: stateVersion, Launches: d.launches, Weights: d.weights}
	for _, in := range d.ordered() {
		st.Instances = append(st.Instances, in.rec)
	}
	b, err := json.MarshalIndent(st, "", "  ")
	sd := d.sdTargets()
	d.mu.Unlock()
	if err == nil {
		err = writeFileAtomic(filepath.Join(d.cfg.StateDir, stateFileName), b)
	}
	if err != nil {
		d.log.Error("saving state", "err", err)
	}
	if !bytes.Equal(sd, d.lastSD) {
		if err := writeFileAtomic(filepath.Join(d.cfg.StateDir, targetsFileName), sd); err != nil {
			d.log.Error("writing service discovery file", "err", err)
		} else {
			d.lastSD = sd
		}
	}
}

// sdTarget is one entry of a Prometheus file_sd_configs file.
type sdTarget struct {
	Targets []string          `json:"targets"`
	Labels  map[string]string `json:"labels"`
}

// sdTargets lists the live instances for Prometheus; callers hold d.mu.
func (d *Daemon) sdTargets() []byte {
	out := []sdTarget{}
	for _, in := range d.ordered() {
		if !in.rec.live() {
			continue
		}
		out = append(out, sdTarget{
			Targets: []string{in.rec.address()},
			Labels: map[string]string{
				"version":     in.rec.Version,
				"instance_id": in.rec.ID,
				"attached":    strconv.FormatBool(in.rec.Attached),
			},
		})
	}
	b, _ := json.MarshalIndent(out, "", "  ")
	return append(b, '\n')
}

// ordered returns the instances oldest first; callers hold d.mu.
func (d *Daemon) ordered() []*instance {
	out := make([]*instance, 0, len(d.insts))
	for _, in := range d.insts {
		out = append(out, in)
	}
	slices.SortFunc(out, func(a, b *instance) int {
		if c := a.rec.CreatedAt.Compare(b.rec.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.rec.ID, b.rec.ID)
	})
	return out
}

// writeFileAtomic replaces path with data so that readers (a restarted daemon,
// Prometheus) never see a half-written file.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // no-op after the rename
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
