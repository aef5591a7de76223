package schemas

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

// ChangeSchemaJSON is change.schema.json, for tools that want the schema without the file.
//
//go:embed change.schema.json
var ChangeSchemaJSON []byte

const changeSchemaURL = "change.schema.json"

// The bounds of a change file, beyond those the schema states.
const (
	// MaxChangeBytes bounds a change file and each release spec file it names.
	MaxChangeBytes = 1 << 20
	// MaxChangeSteps bounds the steps of a change (also maxItems in the schema).
	MaxChangeSteps = 200
	// MaxStepAfter bounds a step's after list and a migration's contractAfter.
	MaxStepAfter = 50
	// maxChangeValues bounds the values a change document expands to once YAML aliases and
	// merge keys are expanded, so a few hundred bytes of nested aliases cannot become
	// billions of values. 200 real steps hold a few thousand.
	maxChangeValues = 50_000
)

// The defaults of a change, each also stated with `default` in change.schema.json.
const (
	defaultHoldTimeout      = 48 * time.Hour
	defaultCommandTimeout   = 10 * time.Minute
	defaultCheckRetries     = 3
	defaultCheckInterval    = 10 * time.Second
	defaultCheckTimeout     = 30 * time.Second
	defaultCheckExpect      = 200
	defaultConfirmCount     = 1
	defaultConfirmTimeout   = 24 * time.Hour
	defaultConfirmOnTimeout = OnTimeoutRollback
	defaultMigrationTimeout = 30 * time.Minute
)

// compiledChange is change.schema.json compiled once. It mirrors compiled (schema.go) for
// the second schema, with the same duration formats.
var compiledChange = sync.OnceValues(func() (*compiledSchema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(ChangeSchemaJSON))
	if err != nil {
		return nil, fmt.Errorf("change.schema.json: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.RegisterFormat(&jsonschema.Format{Name: "go-duration", Validate: func(v any) error { return checkDuration(v, false) }})
	c.RegisterFormat(&jsonschema.Format{Name: "go-duration-positive", Validate: func(v any) error { return checkDuration(v, true) }})
	if err := c.AddResource(changeSchemaURL, doc); err != nil {
		return nil, fmt.Errorf("change.schema.json: %w", err)
	}
	sch, err := c.Compile(changeSchemaURL)
	if err != nil {
		return nil, fmt.Errorf("change.schema.json: %w", err)
	}
	return &compiledSchema{schema: sch, doc: doc}, nil
})

// LoadChange reads a change from a YAML (or JSON) file; see ParseChange. Release specs are
// read relative to the file's directory.
func LoadChange(path string) (*ChangeSpec, error) {
	data, err := readBounded(osFiles{}, path)
	if err != nil {
		return nil, err
	}
	return ParseChange(data, filepath.Dir(path))
}

// ParseChange turns a YAML (or JSON) document into a validated ChangeSpec with every
// default filled and every release step's spec read (relative to dir), validated and
// embedded, so that the change's workflow never reads a file (dir "" is the current
// directory). When the document is not a
// valid change the error is a *ValidationError naming each field that is wrong.
func ParseChange(data []byte, dir string) (*ChangeSpec, error) {
	if len(data) > MaxChangeBytes {
		return nil, oneError("", 0, fmt.Sprintf("the change is %d bytes; a change file may be at most 1 MiB (%d bytes)", len(data), MaxChangeBytes))
	}
	if !utf8.Valid(data) {
		return nil, oneError("", 0, "the change is not UTF-8 text; save it as UTF-8")
	}
	if err := precheckChange(data); err != nil {
		return nil, err
	}
	doc, lines, err := parseYAML(data)
	if err != nil {
		return nil, err
	}
	cs, err := compiledChange()
	if err != nil {
		return nil, err // a broken embedded schema: a bug, caught by the tests
	}
	if err := validateAgainst(cs, doc, lines); err != nil {
		return nil, err
	}
	c, err := decodeChange(doc)
	if err != nil {
		return nil, err
	}
	ChangeDefaults(c)
	// A zero retries is a valid choice (try once), so the document decides whether the
	// default applies.
	for i := range c.Steps {
		if c.Steps[i].Check != nil && !stepFieldSet(doc, i, StepCheck, "retries") {
			c.Steps[i].Check.Retries = defaultCheckRetries
		}
	}
	errs := embedReleases(c, dir, lines)
	errs = append(errs, changeSemantics(c, lines, false)...)
	if len(errs) > 0 {
		return nil, &ValidationError{Errors: sorted(errs)}
	}
	return c, nil
}

// ChangeDefaults fills every unset field of a change that has a default. ParseChange calls
// it; call it on a ChangeSpec built in code. As with Defaults, only fields whose zero value
// is not a valid setting are filled: check.retries (default 3) is 0 in code unless set,
// since 0 (try once) is a valid choice; ParseChange decides it from the document.
func ChangeDefaults(c *ChangeSpec) {
	setDuration(&c.HoldTimeout, defaultHoldTimeout)
	for i := range c.Steps {
		s := &c.Steps[i]
		if s.Command != nil {
			setDuration(&s.Command.Timeout, defaultCommandTimeout)
		}
		if k := s.Check; k != nil {
			setDuration(&k.Interval, defaultCheckInterval)
			setDuration(&k.Timeout, defaultCheckTimeout)
			if k.HTTP != nil && k.HTTP.Expect == 0 {
				k.HTTP.Expect = defaultCheckExpect
			}
		}
		if k := s.Confirm; k != nil {
			if k.Count == 0 {
				k.Count = defaultConfirmCount
			}
			setDuration(&k.Timeout, defaultConfirmTimeout)
			if k.OnTimeout == "" {
				k.OnTimeout = defaultConfirmOnTimeout
			}
		}
		if s.Migration != nil {
			setDuration(&s.Migration.Timeout, defaultMigrationTimeout)
		}
	}
}

// stepFieldSet reports whether the document writes steps[i].<kind>.<field>.
func stepFieldSet(doc any, i int, kind, field string) bool {
	root, _ := doc.(map[string]any)
	steps, _ := root["steps"].([]any)
	if i >= len(steps) {
		return false
	}
	return isSet(steps[i], kind, field)
}

// files opens files: anywhere (osFiles) or only beneath a directory (*os.Root).
type files interface {
	Stat(name string) (fs.FileInfo, error)
	Open(name string) (*os.File, error)
}

type osFiles struct{}

func (osFiles) Stat(name string) (fs.FileInfo, error) { return os.Stat(name) }
func (osFiles) Open(name string) (*os.File, error)    { return os.Open(name) }

// readBounded reads at most MaxChangeBytes of a regular file: a FIFO or a device named as
// a spec must not hang or flood the loader.
func readBounded(fsys files, path string) ([]byte, error) {
	// Stat before opening: opening a FIFO blocks until someone writes to it.
	st, err := fsys.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "read", Path: path, Err: errNotRegular}
	}
	f, err := fsys.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err = f.Stat(); err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() { // replaced between the two looks
		return nil, &fs.PathError{Op: "read", Path: path, Err: errNotRegular}
	}
	if st.Size() > MaxChangeBytes {
		return nil, oneError("", 0, fmt.Sprintf("the file is %d bytes; change and release spec files are at most 1 MiB (%d bytes)", st.Size(), MaxChangeBytes))
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxChangeBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxChangeBytes {
		return nil, oneError("", 0, "the file grew past 1 MiB while being read; change and release spec files are at most 1 MiB")
	}
	return data, nil
}

var errNotRegular = errors.New("not a regular file")

func oneError(path string, line int, msg string) *ValidationError {
	return &ValidationError{Errors: []FieldError{{Path: path, Message: msg, Line: line}}}
}

// precheckChange refuses, before the document is expanded into values, a change with too
// many steps (naming steps, whatever else is wrong) and a document whose aliases and merge
// keys would expand it past maxChangeValues. It reads the YAML tree once, counting each
// alias as the size of what it names (memoized, so the count itself is linear).
func precheckChange(data []byte) error {
	var root yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&root); err != nil {
		return nil // parseYAML words the syntax error
	}
	if doc := &root; doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 && doc.Content[0].Kind == yaml.MappingNode {
		m := doc.Content[0]
		for i := 0; i+1 < len(m.Content); i += 2 {
			if k, v := m.Content[i], m.Content[i+1]; k.Value == "steps" && v.Kind == yaml.SequenceNode && len(v.Content) > MaxChangeSteps {
				return oneError("steps", k.Line, fmt.Sprintf("has %d steps; a change has at most %d: split it into several changes", len(v.Content), MaxChangeSteps))
			}
		}
	}
	sizes := map[*yaml.Node]int{}
	var size func(n *yaml.Node, depth int) int
	size = func(n *yaml.Node, depth int) int {
		if s, ok := sizes[n]; ok {
			return s
		}
		if depth > maxDepth {
			return 1 // the converter reports the depth
		}
		sizes[n] = maxChangeValues + 1 // an alias back into itself counts as too many
		s := 1
		if n.Kind == yaml.AliasNode && n.Alias != nil {
			s = size(n.Alias, depth+1)
		}
		for _, c := range n.Content {
			if s += size(c, depth+1); s > maxChangeValues {
				break
			}
		}
		sizes[n] = min(s, maxChangeValues+1)
		return sizes[n]
	}
	if size(&root, 0) > maxChangeValues {
		return oneError("", 0, fmt.Sprintf("the document holds more than %d values once its aliases (*name) and merge keys (<<) are expanded; a change holds a few thousand", maxChangeValues))
	}
	return nil
}

// validateAgainst runs a compiled schema over a generic document, as validateDocument
// does for the release schema.
func validateAgainst(cs *compiledSchema, doc any, lines map[string]int) error {
	err := cs.schema.Validate(doc)
	if err == nil {
		return nil
	}
	var verr *jsonschema.ValidationError
	if !errors.As(err, &verr) {
		return err
	}
	t := translator{cs: cs, doc: doc, lines: lines}
	t.walk(verr)
	if len(t.out) == 0 {
		t.out = append(t.out, FieldError{Message: verr.Error()})
	}
	return &ValidationError{Errors: sorted(t.out)}
}

// decodeChange moves a validated document into the Go types, refusing unknown fields so
// that a field in the schema but not in the types (or the reverse) shows up in tests.
func decodeChange(doc any) (*ChangeSpec, error) {
	var c ChangeSpec
	if err := decodeInto(doc, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// embedReleases reads each release step's spec file beneath dir, validates it with the
// release loader and embeds it. Every problem names the step's spec field; the release
// spec's own errors keep their file and line. Files outside dir (.., absolute or
// symbolic links leading out) are refused: a change reviewed in a pull request must not
// make the validator print pieces of the runner's other files.
func embedReleases(c *ChangeSpec, dir string, lines map[string]int) []FieldError {
	var errs []FieldError
	var root *os.Root
	for i := range c.Steps {
		r := c.Steps[i].Release
		if r == nil {
			continue
		}
		path := fmt.Sprintf("steps[%d].release.spec", i)
		add := func(msg string) {
			errs = append(errs, FieldError{Path: path, Message: msg, Line: lines[path]})
		}
		file := filepath.FromSlash(r.File)
		if !filepath.IsLocal(file) {
			add(fmt.Sprintf("%s is outside the change file's directory; keep release specs beside or beneath the change", r.File))
			continue
		}
		if root == nil {
			if dir == "" {
				dir = "."
			}
			var err error
			if root, err = os.OpenRoot(dir); err != nil {
				add(fmt.Sprintf("cannot open the change file's directory: %v", err))
				continue
			}
			defer root.Close()
		}
		data, err := readBounded(root, file)
		if err != nil {
			var ve *ValidationError
			switch {
			case errors.Is(err, fs.ErrNotExist):
				add(fmt.Sprintf("%s: no such file (release specs are read relative to the change file's directory)", r.File))
			case errors.As(err, &ve):
				add(r.File + ": " + ve.Error())
			default:
				var pe *fs.PathError
				if errors.As(err, &pe) {
					err = pe.Err
				}
				add(fmt.Sprintf("%s: %v", r.File, err))
			}
			continue
		}
		spec, err := Parse(data)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) {
				add(fmt.Sprintf("%s: %v", r.File, err))
				continue
			}
			for _, fe := range ve.Errors {
				at := r.File
				if fe.Line > 0 {
					at = fmt.Sprintf("%s:%d", r.File, fe.Line)
				}
				add(fmt.Sprintf("invalid release spec %s: %s", at, fe.Error()))
			}
			continue
		}
		r.Spec = spec
	}
	return errs
}
