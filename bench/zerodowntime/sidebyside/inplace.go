//go:build unix

package sidebyside

import (
	"fmt"

	"github.com/zerodown/zerodown/internal/demo"
)

// naiveInPlace upgrades each fixed server where it stands, one after the other, as a
// deploy script without zerodown does: stop the process, start the new version on the
// same address, and go on to the next once it answers. It does not take the server out
// of HAProxy first, drain it, or ask for session migration.
func naiveInPlace(w *demo.World, version string) error {
	iw := w.OnPrem()
	if iw == nil {
		return fmt.Errorf("%s needs the on-premises world", InPlaceNaive)
	}
	for _, name := range iw.Names {
		if err := iw.Restart(name, version); err != nil {
			return fmt.Errorf("restart %s on %s: %w", name, version, err)
		}
	}
	return nil
}
