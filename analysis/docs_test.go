package analysis_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/analysis/scrape/expr"
	"github.com/zerodown/zerodown/schemas"
)

// docs/analysis.md is what users copy from: its spec examples must validate and its
// scrape queries must parse.
func TestAnalysisDocExamples(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "docs", "analysis.md"))
	require.NoError(t, err)
	doc := string(b)

	specs := 0
	for _, m := range regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(doc, -1) {
		if !strings.HasPrefix(m[1], "canary:") {
			continue
		}
		spec, err := schemas.Parse([]byte("service: board\nenvironment: prod\ntarget: {provider: memory, instances: 4}\n" + m[1]))
		require.NoError(t, err, "docs/analysis.md example:\n%s", m[1])
		if spec.Canary.Analysis.Provider == schemas.AnalysisScrape {
			for _, metric := range spec.Canary.Analysis.Metrics {
				_, err := expr.Parse(metric.Query)
				require.NoError(t, err, metric.Query)
			}
		}
		specs++
	}
	require.Equal(t, 4, specs)

	// The list of demo service queries: one per line, a comment after it.
	block := regexp.MustCompile("(?s)Examples for the demo service.*?```\n(.*?)```").FindStringSubmatch(doc)
	require.NotNil(t, block)
	queries := 0
	for _, line := range strings.Split(strings.TrimSpace(block[1]), "\n") {
		q, _, _ := strings.Cut(line, "#")
		_, err := expr.Parse(strings.TrimSpace(q))
		require.NoError(t, err, line)
		queries++
	}
	require.Equal(t, 5, queries)
}
