package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

// Load reads a release spec from a YAML (or JSON) file; see Parse. It reads at most
// MaxSpecBytes, whatever the file is (a device, a pipe, a huge log). Files the spec names
// (canary.approval.signersFile) are read relative to the spec's directory and embedded.
func Load(path string) (*Spec, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxSpecBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxSpecBytes {
		size := "more than 1 MiB"
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			size = fmt.Sprintf("%d bytes", st.Size())
		}
		return nil, tooLarge(size)
	}
	spec, err := Parse(data)
	if err != nil {
		return nil, err
	}
	if err := resolveSignersFile(spec, filepath.Dir(path)); err != nil {
		return nil, err
	}
	return spec, nil
}

func tooLarge(size string) error {
	return &ValidationError{Errors: []FieldError{{Message: fmt.Sprintf("the spec is %s; a spec may be at most 1 MiB (%d bytes)", size, MaxSpecBytes)}}}
}

// maxSeparators bounds the bytes that can start a YAML value. The YAML parser builds its
// whole tree before the value budget can be counted, at about 250 bytes of memory a
// value, and `{a,a,a...}` makes a value of every byte: 1 MiB of it took 250 MiB. Every
// value but the first starts after one of these bytes, so counting them, even inside
// strings, bounds the tree at twice their number; a real spec holds a few thousand.
const maxSeparators = 4 * MaxDocumentValues

// tooDense refuses a document with more than maxSeparators of them, naming the line
// where the count ran out.
func tooDense(data []byte) error {
	n, line := 0, 1
	for _, b := range data {
		switch b {
		case '\n':
			line++
			n++
		case ',', '-', ':', '[', '{', '?':
			n++
		default:
			continue
		}
		if n > maxSeparators {
			return &ValidationError{Errors: []FieldError{{
				Message: fmt.Sprintf("line %d: the spec holds more than %d separators (, - : [ { ? and line breaks), each of which can start a value; a spec holds a few thousand", line, maxSeparators),
				Line:    line,
			}}}
		}
	}
	return nil
}

// notUTF8 refuses a document that is not UTF-8 text, naming where the first bad byte is.
func notUTF8(data []byte) error {
	for i := 0; i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && n <= 1 {
			line := bytes.Count(data[:i], []byte("\n")) + 1
			col := i - (bytes.LastIndexByte(data[:i], '\n') + 1) + 1
			return &ValidationError{Errors: []FieldError{{
				Message: fmt.Sprintf("line %d: byte 0x%02X at column %d is not UTF-8 text; save the spec as UTF-8", line, data[i], col),
				Line:    line,
			}}}
		}
		i += n
	}
	return nil
}

// Parse turns a YAML (or JSON) document into a validated Spec with every default filled.
// When the document is not a valid spec the error is a *ValidationError naming each field
// that is wrong.
func Parse(data []byte) (*Spec, error) {
	if len(data) > MaxSpecBytes {
		return nil, tooLarge(fmt.Sprintf("%d bytes", len(data)))
	}
	if !utf8.Valid(data) {
		return nil, notUTF8(data)
	}
	if err := tooDense(data); err != nil {
		return nil, err
	}
	doc, lines, err := parseYAML(data)
	if err != nil {
		return nil, err
	}
	if err := validateDocument(doc, lines); err != nil {
		return nil, err
	}
	normalize(doc)
	spec, err := decode(doc)
	if err != nil {
		return nil, err
	}
	Defaults(spec)
	// A bool cannot say whether it was written, so the document decides: rollback is
	// automatic unless the spec says otherwise.
	if !isSet(doc, "rollback", "automatic") {
		spec.Rollback.Automatic = defaultRollbackIsAutomatic
	}
	if err := checkSemantics(spec, lines); err != nil {
		return nil, err
	}
	b, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	if err := checkEncodedSize(b); err != nil {
		return nil, err
	}
	return spec, nil
}

// Validate checks a Spec built in code with the same schema and rules as Parse. It does not
// fill defaults: call Defaults first, so that e.g. an empty promote.strategy becomes rolling.
func Validate(s *Spec) error {
	if s == nil {
		return &ValidationError{Errors: []FieldError{{Message: "no spec"}}}
	}
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return err
	}
	if err := validateDocument(doc, nil); err != nil {
		return err
	}
	if err := checkSignersEmbedded(s); err != nil {
		return err
	}
	if err := checkSemantics(s, nil); err != nil {
		return err
	}
	return checkEncodedSize(b)
}

// checkEncodedSize bounds a spec as a release carries it (JSON, in the workflow's input
// and history): within every limit, aliases of long strings can still make it large, and
// Temporal refuses payloads of a few MiB with a less helpful error.
func checkEncodedSize(b []byte) error {
	if len(b) <= MaxSpecBytes {
		return nil
	}
	return &ValidationError{Errors: []FieldError{{Message: fmt.Sprintf("the spec is %d bytes once encoded as JSON, as a release carries it; at most 1 MiB (%d bytes)", len(b), MaxSpecBytes)}}}
}

// validateDocument runs the schema over a generic document (maps, slices, scalars).
func validateDocument(doc any, lines map[string]int) error {
	cs, err := compiled()
	if err != nil {
		return err // a broken embedded schema: a bug, caught by the tests
	}
	err = cs.schema.Validate(doc)
	if err == nil {
		return nil
	}
	var verr *jsonschema.ValidationError
	if !errors.As(err, &verr) {
		return err
	}
	t := translator{cs: cs, doc: doc, lines: lines}
	t.walk(verr)
	if len(t.out) == 0 { // cannot happen, but never report "invalid" with no reason
		t.out = append(t.out, FieldError{Message: verr.Error()})
	}
	return &ValidationError{Errors: sorted(t.out)}
}

// normalize rewrites what YAML users naturally write into the form the Go types hold:
// `batch: 2` is the string "2".
func normalize(doc any) {
	root, _ := doc.(map[string]any)
	p, _ := root["promote"].(map[string]any)
	switch b := p["batch"].(type) {
	case int:
		p["batch"] = strconv.Itoa(b)
	case int64:
		p["batch"] = strconv.FormatInt(b, 10)
	case uint64:
		p["batch"] = strconv.FormatUint(b, 10)
	case float64:
		p["batch"] = strconv.FormatFloat(b, 'f', -1, 64)
	case json.Number:
		p["batch"] = b.String()
	}
}

func isSet(doc any, path ...string) bool {
	cur := doc
	for _, k := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		if cur, ok = m[k]; !ok {
			return false
		}
	}
	return true
}

// decode moves a validated document into the Go types. Unknown fields are refused here too,
// so a field missing from the schema but present in the types (or the reverse) shows up in tests.
func decode(doc any) (*Spec, error) {
	var s Spec
	if err := decodeInto(doc, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// decodeInto decodes a validated document into a spec's Go type (a release's or a
// change's), refusing fields the type does not have and naming a field that cannot hold
// its value.
func decodeInto(doc any, v any) error {
	b, err := json.Marshal(doc)
	if err != nil {
		return &ValidationError{Errors: []FieldError{{Message: err.Error()}}}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		fe := FieldError{Message: err.Error()}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			fe = FieldError{Path: te.Field, Message: fmt.Sprintf("cannot hold %s", te.Value)}
		}
		return &ValidationError{Errors: []FieldError{fe}}
	}
	return nil
}

// YAML ----------------------------------------------------------------------------------

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseYAML reads one YAML document into generic values the schema validator understands,
// with the line of every field so that errors can point into the file.
func parseYAML(data []byte) (any, map[string]int, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil, &ValidationError{Errors: []FieldError{{Message: "the spec is empty"}}}
		}
		return nil, nil, yamlError(err)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, nil, yamlError(err)
	default:
		return nil, nil, &ValidationError{Errors: []FieldError{{
			Message: fmt.Sprintf("line %d: a second YAML document starts here; put one spec in each file", extra.Line),
			Line:    extra.Line,
		}}}
	}
	c := converter{lines: map[string]int{}, budget: &valueBudget{left: MaxDocumentValues}}
	doc := c.value(&root, "", 0)
	if len(c.errs) > 0 {
		return nil, nil, &ValidationError{Errors: sorted(c.errs)}
	}
	return doc, c.lines, nil
}

func yamlError(err error) error {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &ValidationError{Errors: []FieldError{{Message: fmt.Sprintf("line %d: %s", line, m[2]), Line: line}}}
	}
	return &ValidationError{Errors: []FieldError{{Message: strings.TrimPrefix(msg, "yaml: ")}}}
}

type converter struct {
	lines  map[string]int
	errs   []FieldError
	budget *valueBudget // shared by the converters of merged mappings
}

// valueBudget counts the values a document expands to. Aliases and merge keys copy what
// they name, so nesting them makes the document grow exponentially; depth alone does not
// stop that (nine levels of nine aliases are 9^9 values from 600 bytes).
type valueBudget struct {
	left     int
	exceeded bool
}

func (c *converter) fail(path string, line int, msg string) {
	c.errs = append(c.errs, FieldError{Path: path, Message: msg, Line: line})
}

// maxDepth stops absurd nesting; a real spec is about six levels deep.
const maxDepth = 64

// spend takes one value (or field name) from the budget, and reports false once it is
// spent, with an error the first time.
func (c *converter) spend(path string, line int) bool {
	if c.budget.left--; c.budget.left >= 0 {
		return true
	}
	if !c.budget.exceeded {
		c.budget.exceeded = true
		c.fail(path, line, fmt.Sprintf("the document holds more than %d values once its aliases (*name) and merge keys (<<) are expanded; a spec holds a few hundred", MaxDocumentValues))
	}
	return false
}

func (c *converter) value(n *yaml.Node, path string, depth int) any {
	if !c.spend(path, n.Line) {
		return nil
	}
	if depth > maxDepth {
		c.fail(path, n.Line, "is nested too deeply")
		return nil
	}
	if _, ok := c.lines[path]; !ok {
		c.lines[path] = n.Line
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil
		}
		return c.value(n.Content[0], path, depth+1)
	case yaml.AliasNode:
		return c.value(n.Alias, path, depth+1)
	case yaml.MappingNode:
		return c.mapping(n, path, depth)
	case yaml.SequenceNode:
		arr := make([]any, len(n.Content))
		for i, item := range n.Content {
			p := joinIndex(path, i)
			c.lines[p] = item.Line
			arr[i] = c.value(item, p, depth+1)
		}
		return arr
	case yaml.ScalarNode:
		return c.scalar(n, path)
	}
	return nil
}

func (c *converter) mapping(n *yaml.Node, path string, depth int) any {
	m := map[string]any{}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !c.spend(path, k.Line) {
			return m
		}
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merges = append(merges, v)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			c.fail(path, k.Line, "field names must be plain words")
			continue
		}
		if len(k.Value) > maxFieldNameLength {
			c.fail(path, k.Line, fmt.Sprintf("holds a field name of %d bytes; field names and keys are at most %d", len(k.Value), maxFieldNameLength))
			continue
		}
		p := joinKey(path, k.Value)
		if _, dup := m[k.Value]; dup {
			c.fail(p, k.Line, fmt.Sprintf("is set twice (lines %d and %d)", c.lines[p], k.Line))
			continue
		}
		c.lines[p] = k.Line
		m[k.Value] = c.value(v, p, depth+1)
	}
	// YAML merge keys (<<: *base): fields written in the mapping win over merged ones.
	for _, v := range merges {
		srcs := []*yaml.Node{v}
		if v.Kind == yaml.SequenceNode {
			srcs = v.Content
		}
		for _, src := range srcs {
			// Converted apart so that its lines never overwrite those of the fields written here.
			sub := converter{lines: map[string]int{}, budget: c.budget}
			merged, ok := sub.value(src, path, depth+1).(map[string]any)
			c.errs = append(c.errs, sub.errs...)
			if c.budget.exceeded {
				return m
			}
			if !ok {
				c.fail(path, src.Line, "<< must merge a mapping")
				continue
			}
			taken := map[string]bool{}
			for k, val := range merged {
				if _, ok := m[k]; ok {
					continue
				}
				m[k] = val
				taken[k] = true
			}
			// The lines of what was taken: one pass, whatever the size of the source.
			for sp, line := range sub.lines {
				if k, ok := topKey(path, sp); ok && taken[k] {
					c.lines[sp] = line
				}
			}
		}
	}
	return m
}

func (c *converter) scalar(n *yaml.Node, path string) any {
	switch n.ShortTag() {
	case "!!null":
		return nil
	case "!!bool", "!!int", "!!float":
		var v any
		if err := n.Decode(&v); err != nil {
			c.fail(path, n.Line, err.Error())
			return nil
		}
		if f, ok := v.(float64); ok && (math.IsInf(f, 0) || math.IsNaN(f)) {
			c.fail(path, n.Line, "must be a finite number")
			return nil
		}
		return v
	default:
		// Strings, and what YAML would turn into timestamps or binary: the schema judges
		// them as written.
		return n.Value
	}
}

// topKey is the key of the mapping at parent that the path sp goes through (the inverse of
// joinKey): topKey("canary", "canary.analysis.metrics[0]") is "analysis".
func topKey(parent, sp string) (string, bool) {
	rest, ok := strings.CutPrefix(sp, parent)
	if !ok || rest == "" {
		return "", false
	}
	if parent != "" && rest[0] == '.' {
		rest = rest[1:]
	} else if rest[0] == '[' {
		quoted, err := strconv.QuotedPrefix(rest[1:])
		if err != nil {
			return "", false // an index, not a key
		}
		k, err := strconv.Unquote(quoted)
		return k, err == nil
	} else if parent != "" {
		return "", false
	}
	if end := strings.IndexAny(rest, ".["); end >= 0 {
		rest = rest[:end]
	}
	return rest, rest != ""
}
