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

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

// Load reads a release spec from a YAML (or JSON) file; see Parse. Files the spec names
// (canary.approval.signersFile) are read relative to the spec's directory and embedded.
func Load(path string) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
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

// Parse turns a YAML (or JSON) document into a validated Spec with every default filled.
// When the document is not a valid spec the error is a *ValidationError naming each field
// that is wrong.
func Parse(data []byte) (*Spec, error) {
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
	return checkSemantics(s, nil)
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
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, &ValidationError{Errors: []FieldError{{Message: err.Error()}}}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var s Spec
	if err := dec.Decode(&s); err != nil {
		fe := FieldError{Message: err.Error()}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			fe = FieldError{Path: te.Field, Message: fmt.Sprintf("cannot hold %s", te.Value)}
		}
		return nil, &ValidationError{Errors: []FieldError{fe}}
	}
	return &s, nil
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
	c := converter{lines: map[string]int{}}
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
	lines map[string]int
	errs  []FieldError
}

func (c *converter) fail(path string, line int, msg string) {
	c.errs = append(c.errs, FieldError{Path: path, Message: msg, Line: line})
}

// maxDepth stops alias bombs and absurd nesting; a real spec is about six levels deep.
const maxDepth = 64

func (c *converter) value(n *yaml.Node, path string, depth int) any {
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
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merges = append(merges, v)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			c.fail(path, k.Line, "field names must be plain words")
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
			sub := converter{lines: map[string]int{}}
			merged, ok := sub.value(src, path, depth+1).(map[string]any)
			c.errs = append(c.errs, sub.errs...)
			if !ok {
				c.fail(path, src.Line, "<< must merge a mapping")
				continue
			}
			for k, val := range merged {
				if _, ok := m[k]; ok {
					continue
				}
				m[k] = val
				p := joinKey(path, k)
				for sp, line := range sub.lines {
					if sp == p || strings.HasPrefix(sp, p+".") || strings.HasPrefix(sp, p+"[") {
						c.lines[sp] = line
					}
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
