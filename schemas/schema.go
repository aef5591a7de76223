package schemas

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// SchemaJSON is release.schema.json, for `zerodown schema` and editors.
//
//go:embed release.schema.json
var SchemaJSON []byte

const schemaURL = "release.schema.json"

// compiled is the schema compiled once, with its raw document kept for the
// errorMessage lookups the library does not know about.
var compiled = sync.OnceValues(func() (*compiledSchema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(SchemaJSON))
	if err != nil {
		return nil, fmt.Errorf("release.schema.json: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.RegisterFormat(&jsonschema.Format{Name: "go-duration", Validate: func(v any) error { return checkDuration(v, false) }})
	c.RegisterFormat(&jsonschema.Format{Name: "go-duration-positive", Validate: func(v any) error { return checkDuration(v, true) }})
	if err := c.AddResource(schemaURL, doc); err != nil {
		return nil, fmt.Errorf("release.schema.json: %w", err)
	}
	sch, err := c.Compile(schemaURL)
	if err != nil {
		return nil, fmt.Errorf("release.schema.json: %w", err)
	}
	return &compiledSchema{schema: sch, doc: doc}, nil
})

type compiledSchema struct {
	schema *jsonschema.Schema
	doc    any
}

// node returns the schema object at a location such as "file:///x/release.schema.json#/$defs/hook".
func (c *compiledSchema) node(location string) map[string]any {
	_, frag, _ := strings.Cut(location, "#")
	cur := c.doc
	for _, tok := range strings.Split(strings.TrimPrefix(frag, "/"), "/") {
		if tok == "" {
			continue
		}
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		switch v := cur.(type) {
		case map[string]any:
			cur = v[tok]
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(v) {
				return nil
			}
			cur = v[i]
		default:
			return nil
		}
	}
	m, _ := cur.(map[string]any)
	return m
}

// durationRE is the Go duration syntax without a sign: the schema's pattern, so editors and
// zerodown accept the same strings.
var durationRE = regexp.MustCompile(`^(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$`)

// checkDuration is the go-duration format: its error is the whole message the user sees.
func checkDuration(v any, positive bool) error {
	s, ok := v.(string)
	if !ok {
		return nil // the type keyword reports it
	}
	if strings.HasPrefix(strings.TrimSpace(s), "-") {
		return fmt.Errorf("%q must not be negative", s)
	}
	d, err := time.ParseDuration(s)
	if err != nil || !durationRE.MatchString(s) {
		return errors.New(notADuration(strconv.Quote(s), s))
	}
	if positive && d <= 0 {
		return fmt.Errorf("must be longer than 0s")
	}
	if d > MaxDuration {
		return fmt.Errorf("%s is longer than %s (365 days), the longest duration a spec may hold", s, FormatDuration(MaxDuration))
	}
	return nil
}

var (
	looseDurationRE = regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?)\s*([A-Za-zµμ]+)\.?$`)
	unitWords       = map[string]string{
		"ns": "ns", "nanosecond": "ns", "nanoseconds": "ns",
		"us": "us", "µs": "µs", "μs": "μs", "microsecond": "us", "microseconds": "us",
		"ms": "ms", "msec": "ms", "msecs": "ms", "millisecond": "ms", "milliseconds": "ms",
		"s": "s", "sec": "s", "secs": "s", "second": "s", "seconds": "s",
		"m": "m", "min": "m", "mins": "m", "minute": "m", "minutes": "m",
		"h": "h", "hr": "h", "hrs": "h", "hour": "h", "hours": "h",
	}
)

// notADuration words the error for a value that is not a duration, with the closest
// valid spelling when one is obvious ("4 hours" → 4h, "2d" → 48h).
func notADuration(shown, raw string) string {
	hint := "use e.g. 30s, 5m or 4h"
	if s := suggestDuration(raw); s != "" {
		hint = "use " + s
	}
	return fmt.Sprintf("%s is not a duration (%s)", shown, hint)
}

func suggestDuration(raw string) string {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return ""
	}
	// "1h 30m", "4H": spaces or capitals only.
	if c := strings.ToLower(strings.Join(strings.Fields(raw), "")); c != raw && durationRE.MatchString(c) {
		if _, err := time.ParseDuration(c); err == nil {
			return c
		}
	}
	m := looseDurationRE.FindStringSubmatch(raw)
	if m == nil {
		return ""
	}
	num, unit := m[1], strings.ToLower(m[2])
	if u, ok := unitWords[unit]; ok {
		return num + u
	}
	hours := map[string]float64{"d": 24, "day": 24, "days": 24, "w": 168, "wk": 168, "week": 168, "weeks": 168}[unit]
	if hours == 0 {
		return ""
	}
	n, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return ""
	}
	return strconv.FormatFloat(n*hours, 'f', -1, 64) + "h"
}

// FormatDuration prints a duration the way people write it: 1h, not 1h0m0s; the CLI
// uses it too.
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
