package workflows

// The release checks its own input: the CLI validates a spec before it starts a release,
// but any client that can reach the namespace (the plain temporal CLI, a script on the
// SDK) can start one, and a worker must not be taken down, or a fleet changed, by a spec
// nobody checked. Validation is pure code, so it is safe in the workflow.

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/zerodown/zerodown/schemas"
)

// Bounds of the parts of a release's input that are not in the spec.
const (
	maxVersionLen   = 128
	maxChangelogLen = 64 << 10
	maxActorLen     = 256
)

// ErrTypeInvalidInput is the error type of a release refused for its input; nothing was
// changed.
const ErrTypeInvalidInput = "InvalidInput"

// checkedSpec returns the spec a release runs with (defaults filled, as Parse fills them)
// or the reason the input is refused, naming the field.
func checkedSpec(in ReleaseInput, workflowID string) (schemas.Spec, error) {
	spec := in.Spec
	schemas.Defaults(&spec)
	if err := schemas.Validate(&spec); err != nil {
		return spec, fmt.Errorf("invalid spec: %w", err)
	}
	if id := spec.ID(); workflowID != id {
		return spec, fmt.Errorf("workflow ID %q does not match the spec: a release of %s/%s runs as %q, so that two releases of one fleet cannot run at once",
			clipped(workflowID), spec.Service, spec.Environment, id)
	}
	for _, f := range []struct {
		name, value string
		max         int
		required    bool
	}{
		{"version", in.Version, maxVersionLen, true},
		{"changelog", in.Changelog, maxChangelogLen, false},
		{"startedBy", in.StartedBy, maxActorLen, false},
	} {
		switch {
		case f.required && strings.TrimSpace(f.value) == "":
			return spec, fmt.Errorf("%s: required", f.name)
		case len(f.value) > f.max:
			return spec, fmt.Errorf("%s: %d bytes, at most %d", f.name, len(f.value), f.max)
		case !utf8.ValidString(f.value):
			return spec, fmt.Errorf("%s: not valid UTF-8", f.name)
		}
	}
	return spec, nil
}

// clipped keeps a hostile value short enough to quote in an error.
func clipped(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
