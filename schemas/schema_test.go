package schemas_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/schemas"
)

func schemaDoc(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	require.NoError(t, json.Unmarshal(schemas.SchemaJSON, &doc))
	return doc
}

// resolve follows a local $ref ("#/$defs/x") and merges the referring node's own keywords
// (description, default) over the target's.
func resolve(root, node map[string]any) map[string]any {
	ref, ok := node["$ref"].(string)
	if !ok {
		return node
	}
	target := root
	for _, tok := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		target = target[tok].(map[string]any)
	}
	out := map[string]any{}
	for k, v := range resolve(root, target) {
		out[k] = v
	}
	for k, v := range node {
		if k != "$ref" {
			out[k] = v
		}
	}
	return out
}

// Every object says what it accepts, and every field says what it is for: the schema is
// the reference editors show.
func TestSchemaIsClosedAndDocumented(t *testing.T) {
	root := schemaDoc(t)
	var walk func(where string, node map[string]any)
	walk = func(where string, node map[string]any) {
		if props, ok := node["properties"].(map[string]any); ok && node["type"] == "object" {
			require.Equal(t, false, node["additionalProperties"], "%s must refuse unknown fields", where)
			for name, p := range props {
				prop := resolve(root, p.(map[string]any))
				desc, _ := prop["description"].(string)
				require.NotEmpty(t, desc, "%s.%s has no description", where, name)
				walk(where+"."+name, prop)
			}
		}
		if items, ok := node["items"].(map[string]any); ok {
			walk(where+"[]", resolve(root, items))
		}
	}
	walk("spec", root)
}

// The defaults stated in the schema are the ones Parse fills in.
func TestSchemaDefaultsMatchCode(t *testing.T) {
	root := schemaDoc(t)
	s, err := schemas.Parse([]byte(`
service: board
environment: prod
target: {provider: local, instances: 2, local: {command: [x]}}
canary: {analysis: {provider: scrape, metrics: [{name: e, query: q, max: 1, mannWhitney: {}}]}}
hooks: {preTraffic: [{http: {path: /smoke}}]}
`))
	require.NoError(t, err)
	b, err := json.Marshal(s)
	require.NoError(t, err)
	var got map[string]any
	require.NoError(t, json.Unmarshal(b, &got))

	// Fields the spec above writes: their values are not defaults.
	written := map[string]bool{
		"spec.service": true, "spec.environment": true, "spec.target.provider": true, "spec.target.instances": true,
		"spec.target.local.command": true, "spec.canary.analysis.provider": true,
		"spec.canary.analysis.metrics[0].name": true, "spec.canary.analysis.metrics[0].query": true, "spec.canary.analysis.metrics[0].max": true,
		"spec.hooks.preTraffic[0].http.path": true,
	}
	checked := 0
	var walk func(where string, node map[string]any, value any)
	walk = func(where string, node map[string]any, value any) {
		switch v := value.(type) {
		case map[string]any:
			props, _ := node["properties"].(map[string]any)
			for name, p := range props {
				prop := resolve(root, p.(map[string]any))
				def, hasDefault := prop["default"]
				val, present := v[name]
				if hasDefault && !written[where+"."+name] {
					if _, isObject := def.(map[string]any); !isObject {
						if !present { // omitempty drops zero values; zero defaults read as absent
							val = zero(def)
						}
						require.Equal(t, normalizeDefault(def), normalizeDefault(val), "%s.%s", where, name)
						checked++
					}
				}
				if present {
					walk(where+"."+name, prop, val)
				}
			}
		case []any:
			if items, ok := node["items"].(map[string]any); ok {
				for i, item := range v {
					walk(fmt.Sprintf("%s[%d]", where, i), resolve(root, items), item)
				}
			}
		}
	}
	walk("spec", root, got)
	require.GreaterOrEqual(t, checked, 20, "every default in the schema is checked")
}

func zero(v any) any {
	switch v.(type) {
	case string:
		return ""
	case float64:
		return float64(0)
	case bool:
		return false
	}
	return nil
}

// normalizeDefault compares durations by value: the schema says 10m, Go prints 10m0s.
func normalizeDefault(v any) any {
	if s, ok := v.(string); ok {
		var d schemas.Duration
		if err := json.Unmarshal([]byte(fmt.Sprintf("%q", s)), &d); err == nil {
			return d.D().String()
		}
		if s == "" {
			return "0s"
		}
	}
	return v
}

// The examples in the user's reference must stay valid specs.
func TestDocExamplesAreValid(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "docs", "spec.md"))
	require.NoError(t, err)
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(b), -1)
	n := 0
	for _, m := range blocks {
		if !strings.Contains(m[1], "service:") {
			continue
		}
		_, err := schemas.Parse([]byte(m[1]))
		require.NoError(t, err, "docs/spec.md example:\n%s", m[1])
		n++
	}
	require.Equal(t, 2, n)
}
