package schemas_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/timerules"
)

// Every value a spec can hold is bounded in the schema editors read: strings by a length,
// numbers by a maximum, lists by a count, maps by a number of keys.
func TestSchemaBoundsEveryValue(t *testing.T) {
	root := schemaDoc(t)
	checked := 0
	seen := map[string]bool{}
	var walk func(where string, node map[string]any)
	walk = func(where string, node map[string]any) {
		node = resolve(root, node)
		if seen[where] {
			return
		}
		seen[where] = true
		types := typesOf(node)
		has := func(k string) bool { _, ok := node[k]; return ok }
		_, enum := node["enum"]
		switch {
		case enum || has("const"):
		case slices.Contains(types, "string"):
			require.True(t, has("maxLength"), "%s: a string without maxLength", where)
			checked++
		}
		if slices.Contains(types, "integer") || slices.Contains(types, "number") && !has("exclusiveMaximum") {
			if slices.Contains(types, "integer") {
				require.True(t, has("maximum"), "%s: an integer without maximum", where)
				checked++
			}
		}
		if slices.Contains(types, "array") {
			require.True(t, has("maxItems"), "%s: a list without maxItems", where)
			checked++
		}
		if props, ok := node["properties"].(map[string]any); ok {
			for name, p := range props {
				walk(where+"."+name, p.(map[string]any))
			}
		}
		if items, ok := node["items"].(map[string]any); ok {
			walk(where+"[]", items)
		}
		// Maps: a bounded number of keys, and bounded values.
		extra, isMap := node["additionalProperties"].(map[string]any)
		patterns, hasPatterns := node["patternProperties"].(map[string]any)
		if isMap || hasPatterns {
			require.True(t, has("maxProperties") || allOfHas(node, "maxProperties"), "%s: a map without maxProperties", where)
			checked++
		}
		if isMap {
			walk(where+"{}", extra)
		}
		for _, p := range patterns {
			walk(where+"{}", p.(map[string]any))
		}
	}
	walk("spec", root)
	require.Greater(t, checked, 50)
}

func typesOf(node map[string]any) []string {
	switch v := node["type"].(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			out = append(out, x.(string))
		}
		return out
	}
	return nil
}

func allOfHas(node map[string]any, key string) bool {
	all, _ := node["allOf"].([]any)
	for _, a := range all {
		if _, ok := a.(map[string]any)[key]; ok {
			return true
		}
	}
	return false
}

// The maxima in the schema are the constants the code uses, and docs/spec.md lists them.
func TestSchemaLimitsMatchCodeAndDocs(t *testing.T) {
	root := schemaDoc(t)
	at := func(path ...string) map[string]any {
		node := root
		for _, p := range path {
			node = resolve(root, node)
			switch p {
			case "[]":
				node = node["items"].(map[string]any)
			case "{}":
				node = node["additionalProperties"].(map[string]any)
			default:
				node = node["properties"].(map[string]any)[p].(map[string]any)
			}
		}
		return resolve(root, node)
	}
	cases := []struct {
		node    map[string]any
		keyword string
		want    int
	}{
		{at("target", "instances"), "maximum", schemas.MaxInstances},
		{at("canary", "instances"), "maximum", schemas.MaxInstances},
		{at("promote", "batch"), "maximum", schemas.MaxInstances},
		{at("promote", "maxUnavailable"), "maximum", schemas.MaxInstances},
		{at("canary", "analysis", "failureLimit"), "maximum", schemas.MaxCheckLimit},
		{at("canary", "analysis", "inconclusiveLimit"), "maximum", schemas.MaxCheckLimit},
		{at("canary", "analysis", "metrics"), "maxItems", schemas.MaxMetrics},
		{at("canary", "analysis", "metrics", "[]", "minSamples"), "maximum", schemas.MaxMinSamples},
		{at("canary", "analysis", "metrics", "[]", "query"), "maxLength", schemas.MaxQueryLength},
		{at("canary", "approval", "count"), "maximum", schemas.MaxApprovalCount},
		{at("canary", "approval", "approvers"), "maxItems", schemas.MaxApprovers},
		{at("canary", "approval", "groups"), "maxProperties", schemas.MaxGroups},
		{at("canary", "approval", "groups", "{}"), "maxItems", schemas.MaxGroupMembers},
		{at("hooks", "preTraffic"), "maxItems", schemas.MaxHooks},
		{at("hooks", "postPromote"), "maxItems", schemas.MaxHooks},
		{at("hooks", "preTraffic", "[]", "command", "args"), "maxItems", schemas.MaxArgs},
		{at("hooks", "preTraffic", "[]", "command", "args", "[]"), "maxLength", schemas.MaxArgLength},
		{at("target", "local", "command"), "maxItems", schemas.MaxArgs},
		{at("target", "aws", "targetGroups"), "maxItems", schemas.MaxListItems},
		{at("target", "aws", "subnets"), "maxItems", schemas.MaxListItems},
		{at("bake", "userData"), "maxLength", schemas.MaxUserDataLength},
		{at("hooks", "preTraffic", "[]", "name"), "maxLength", schemas.MaxStringLength},
		{at("canary", "approval", "approvers", "[]"), "maxLength", schemas.MaxStringLength},
		{at("window"), "maxItems", timerules.MaxWindows},
		{at("window", "[]", "timezone"), "maxLength", timerules.MaxZoneLength},
		{at("goNoGo", "approvers"), "maxItems", schemas.MaxApprovers},
		{at("goNoGo", "count"), "maximum", schemas.MaxApprovalCount},
		{at("goNoGo", "groups"), "maxProperties", schemas.MaxGroups},
	}
	for _, c := range cases {
		require.EqualValues(t, c.want, c.node[c.keyword], "%s of %v", c.keyword, c.node["description"])
	}

	b, err := os.ReadFile(filepath.Join("..", "docs", "spec.md"))
	require.NoError(t, err)
	_, limits, ok := strings.Cut(string(b), "\n## Limits\n")
	require.True(t, ok, "docs/spec.md has a Limits section")
	limits, _, _ = strings.Cut(limits, "\n## ")
	for _, n := range []int{schemas.MaxSpecBytes, schemas.MaxDocumentValues, schemas.MaxInstances, schemas.MaxCheckLimit,
		schemas.MaxMinSamples, schemas.MaxChecks, schemas.MaxSamplesPerCheck, schemas.MaxApprovalCount, schemas.MaxApprovers,
		schemas.MaxGroups, schemas.MaxGroupMembers, schemas.MaxMetrics, schemas.MaxHooks, schemas.MaxArgs, schemas.MaxEnv,
		schemas.MaxListItems, schemas.MaxStringLength, schemas.MaxArgLength, schemas.MaxQueryLength, schemas.MaxUserDataLength} {
		require.Contains(t, limits, fmt.Sprintf("| %s |", thousands(n)), "docs/spec.md's Limits table states %d", n)
	}
}

// thousands writes 10000 as 10,000, as the docs do.
func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
