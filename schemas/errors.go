package schemas

import (
	"fmt"
	"math/big"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// FieldError is one problem with a spec, tied to the field it is about.
type FieldError struct {
	// Path is the field, dotted: "canary.soak", "hooks.preTraffic[0].http.expect";
	// empty when the problem is with the document as a whole.
	Path string `json:"path"`
	// Message says what is wrong in plain words, without the path.
	Message string `json:"message"`
	// Line is the field's line in the YAML file, 0 when unknown (e.g. for a spec built in code).
	Line int `json:"line,omitempty"`
}

func (e FieldError) Error() string {
	if e.Path == "" {
		return e.Message
	}
	return e.Path + ": " + e.Message
}

// ValidationError lists everything wrong with a spec, one entry per distinct problem.
type ValidationError struct {
	Errors []FieldError `json:"errors"`
}

// Error prints one line per field: `canary.soak: "4 hours" is not a duration (use 4h)`.
func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Errors))
	for i, fe := range e.Errors {
		lines[i] = fe.Error()
	}
	return strings.Join(lines, "\n")
}

// sorted puts errors in file order (then path order) without duplicates, so output is stable
// although the validator walks maps in random order.
func sorted(errs []FieldError) []FieldError {
	sort.SliceStable(errs, func(i, j int) bool {
		if errs[i].Line != errs[j].Line {
			return errs[i].Line < errs[j].Line
		}
		return errs[i].Path < errs[j].Path
	})
	out := errs[:0]
	for i, e := range errs {
		if i > 0 && e.Path == errs[i-1].Path && e.Message == errs[i-1].Message {
			continue
		}
		out = append(out, e)
	}
	if len(out) > maxErrors {
		more := len(out) - maxErrors
		out = append(out[:maxErrors], FieldError{Message: fmt.Sprintf("... and %d more %s", more, plural(more, "error", "errors"))})
	}
	return out
}

// maxErrors is the most errors reported for one spec: enough to fix a real one, and a
// hostile one gets a few screens, not a flood.
const maxErrors = 50

// Paths ---------------------------------------------------------------------------------

var identRE = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$-]*$`)

// joinKey appends an object key to a dotted path; keys that would read ambiguously
// (dots, spaces: only possible in maps such as env) are quoted.
func joinKey(parent, key string) string {
	if !identRE.MatchString(key) {
		return parent + "[" + strconv.Quote(key) + "]"
	}
	if parent == "" {
		return key
	}
	return parent + "." + key
}

func joinIndex(parent string, i int) string {
	return parent + "[" + strconv.Itoa(i) + "]"
}

// dotted turns the validator's instance location into a dotted path, using the document to
// tell array indexes from keys.
func dotted(doc any, tokens []string) string {
	path, cur := "", doc
	for _, tok := range tokens {
		switch v := cur.(type) {
		case []any:
			i, _ := strconv.Atoi(tok)
			path = joinIndex(path, i)
			cur = nil
			if i >= 0 && i < len(v) {
				cur = v[i]
			}
		case map[string]any:
			path = joinKey(path, tok)
			cur = v[tok]
		default:
			path = joinKey(path, tok)
			cur = nil
		}
	}
	return path
}

func valueAt(doc any, tokens []string) any {
	cur := doc
	for _, tok := range tokens {
		switch v := cur.(type) {
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(v) {
				return nil
			}
			cur = v[i]
		case map[string]any:
			cur = v[tok]
		default:
			return nil
		}
	}
	return cur
}

// Translation of the library's errors ----------------------------------------------------

// translator flattens the validator's tree of causes into one FieldError per problem.
type translator struct {
	cs    *compiledSchema
	doc   any
	lines map[string]int
	out   []FieldError
}

func (t *translator) add(path, msg string) {
	t.out = append(t.out, FieldError{Path: path, Message: msg, Line: t.lines[path]})
}

func (t *translator) walk(e *jsonschema.ValidationError) {
	switch k := e.ErrorKind.(type) {
	case *kind.Schema, *kind.Group, *kind.AllOf, *kind.Reference:
		for _, c := range e.Causes {
			t.walk(c)
		}
	case *kind.AnyOf, *kind.OneOf:
		// A schema that states the rule in words says it better than any branch's failure.
		if msg := t.custom(e); msg != "" {
			t.add(dotted(t.doc, e.InstanceLocation), msg)
			return
		}
		if o, ok := k.(*kind.OneOf); ok && len(o.Subschemas) > 0 {
			t.add(dotted(t.doc, e.InstanceLocation), "matches more than one of its allowed forms")
			return
		}
		if best := mostSpecific(e.Causes); best != nil {
			t.walk(best)
		}
	default:
		t.leaf(e)
	}
}

// mostSpecific picks the branch of a failed anyOf/oneOf that got furthest into the document:
// its errors are the ones the user most likely needs to see.
func mostSpecific(causes []*jsonschema.ValidationError) *jsonschema.ValidationError {
	var best *jsonschema.ValidationError
	bestDepth, bestCount := -1, 0
	for _, c := range causes {
		depth, count := leafStats(c)
		if depth > bestDepth || (depth == bestDepth && count < bestCount) {
			best, bestDepth, bestCount = c, depth, count
		}
	}
	return best
}

func leafStats(e *jsonschema.ValidationError) (depth, count int) {
	if len(e.Causes) == 0 {
		return len(e.InstanceLocation), 1
	}
	for _, c := range e.Causes {
		d, n := leafStats(c)
		depth = max(depth, d)
		count += n
	}
	return depth, count
}

// custom is the schema's own wording for a failed rule (the errorMessage keyword).
func (t *translator) custom(e *jsonschema.ValidationError) string {
	msg, _ := t.cs.node(e.SchemaURL)["errorMessage"].(string)
	return msg
}

func (t *translator) leaf(e *jsonschema.ValidationError) {
	loc := e.InstanceLocation
	path := dotted(t.doc, loc)
	value := valueAt(t.doc, loc)
	node := t.cs.node(e.SchemaURL)
	custom := t.custom(e)
	msg := func(generic string) string {
		if custom != "" {
			return custom
		}
		return generic
	}
	switch k := e.ErrorKind.(type) {
	case *kind.Type:
		// The type is checked first, so a wrong type is always reported as such,
		// whatever the schema says about the rule behind it.
		if f, _ := node["format"].(string); strings.HasPrefix(f, "go-duration") {
			t.add(path, notADuration(describe(value), ""))
			return
		}
		t.add(path, fmt.Sprintf("must be %s, not %s", typeWords(k.Want), describe(value)))
	case *kind.Required:
		for _, m := range k.Missing {
			p := joinKey(path, m)
			t.out = append(t.out, FieldError{Path: p, Message: msg("is required"), Line: t.lines[path]})
		}
	case *kind.DependentRequired:
		for _, m := range k.Missing {
			p := joinKey(path, m)
			t.out = append(t.out, FieldError{Path: p, Message: msg(fmt.Sprintf("is required when %s is set", k.Prop)), Line: t.lines[path]})
		}
	case *kind.AdditionalProperties:
		known := propertyNames(node)
		for _, p := range k.Properties {
			m := fmt.Sprintf("unknown field %s", quoteClipped(p))
			if custom != "" { // a map whose keys follow a rule (env) says which
				m = fmt.Sprintf("key %s %s", quoteClipped(p), custom)
			} else if s := closest(p, known); s != "" {
				m += fmt.Sprintf(" (did you mean %q?)", s)
			}
			t.out = append(t.out, FieldError{Path: path, Message: m, Line: t.lines[joinKey(path, p)]})
		}
	case *kind.Enum:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = fmt.Sprint(w)
		}
		t.add(path, msg(fmt.Sprintf("must be one of %s, not %s", strings.Join(want, ", "), describe(value))))
	case *kind.Const:
		t.add(path, msg(fmt.Sprintf("must be %v", k.Want)))
	case *kind.Format:
		if strings.HasPrefix(k.Want, "go-duration") && k.Err != nil {
			t.add(path, k.Err.Error()) // our own formats word the whole message
			return
		}
		t.add(path, msg(fmt.Sprintf("%s is not a valid %s", describe(value), k.Want)))
	case *kind.Pattern:
		t.add(path, msg(fmt.Sprintf("%s does not match %s", quoteClipped(k.Got), k.Want)))
	case *kind.Minimum:
		if k.Want.Sign() == 0 {
			t.add(path, msg("must not be negative"))
			return
		}
		t.add(path, msg("must be at least "+ratString(k.Want)))
	case *kind.Maximum:
		t.add(path, msg(fmt.Sprintf("must be at most %s, not %s", ratString(k.Want), describe(value))))
	case *kind.ExclusiveMinimum:
		t.add(path, msg("must be more than "+ratString(k.Want)))
	case *kind.ExclusiveMaximum:
		t.add(path, msg("must be less than "+ratString(k.Want)))
	case *kind.MinItems:
		if k.Want == 1 {
			t.add(path, msg("must not be empty"))
		} else {
			t.add(path, msg(fmt.Sprintf("must have at least %d items", k.Want)))
		}
	case *kind.MaxItems:
		if k.Want == 0 {
			t.add(path, msg("must be empty"))
		} else {
			t.add(path, msg(fmt.Sprintf("must have at most %d items, not %d", k.Want, k.Got)))
		}
	case *kind.MinLength:
		if k.Want == 1 {
			t.add(path, msg("must not be empty"))
		} else {
			t.add(path, msg(fmt.Sprintf("must be at least %d characters long", k.Want)))
		}
	case *kind.MaxLength:
		t.add(path, msg(fmt.Sprintf("must be at most %d characters long, not %d", k.Want, k.Got)))
	case *kind.MaxProperties:
		t.add(path, msg(fmt.Sprintf("must have at most %d entries, not %d", k.Want, k.Got)))
	case *kind.UniqueItems:
		i, j := k.Duplicates[0], k.Duplicates[1]
		arr, _ := value.([]any)
		shown := "this item"
		if j < len(arr) {
			shown = describe(arr[j])
		}
		t.add(joinIndex(path, j), fmt.Sprintf("%s is listed twice (also at %s)", shown, joinIndex(path, i)))
	case *kind.Not, *kind.FalseSchema:
		t.add(path, msg("is not allowed here"))
	default:
		// Keywords this schema does not use; name the rule rather than print nothing.
		t.add(path, msg("breaks the schema's "+strings.Join(e.ErrorKind.KeywordPath(), "/")+" rule"))
	}
}

func propertyNames(node map[string]any) []string {
	props, _ := node["properties"].(map[string]any)
	names := make([]string, 0, len(props))
	for n := range props {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// closest is the known field a typo most likely meant: same letters in another case, or
// at most two edits away.
func closest(got string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if strings.EqualFold(k, got) {
			return k
		}
		if d := editDistance(strings.ToLower(got), strings.ToLower(k)); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

func typeWords(want []string) string {
	words := make([]string, len(want))
	for i, w := range want {
		switch w {
		case "integer":
			words[i] = "a whole number"
		case "number":
			words[i] = "a number"
		case "string":
			words[i] = "a string"
		case "boolean":
			words[i] = "true or false"
		case "array":
			words[i] = "a list"
		case "object":
			words[i] = "a mapping of fields"
		default:
			words[i] = w
		}
	}
	return strings.Join(words, " or ")
}

// describe shows a value from the document in an error message.
func describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "empty"
	case string:
		return quoteClipped(v)
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	default:
		return fmt.Sprint(v)
	}
}

// maxQuoted is how much of a value an error message quotes: enough to recognise it,
// never the whole of a hostile one.
const maxQuoted = 64

// quoteClipped quotes s for a message, cut to its first maxQuoted characters.
func quoteClipped(s string) string {
	if utf8.RuneCountInString(s) <= maxQuoted {
		return strconv.Quote(s)
	}
	r := []rune(s[:min(len(s), 4*maxQuoted)])
	return fmt.Sprintf("%s... (%d bytes)", strconv.Quote(string(r[:maxQuoted])), len(s))
}

func ratString(r *big.Rat) string {
	if r.IsInt() {
		return r.Num().String()
	}
	f, _ := r.Float64()
	return strconv.FormatFloat(f, 'g', -1, 64)
}
