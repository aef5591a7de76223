package schemas

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/template"
	"text/template/parse"

	"github.com/zerodown/zerodown/analysis/scrape/expr"
)

// Metric queries are checked when the spec is, so that a query that cannot run fails
// validate rather than the first check of a canary that is already up. Both providers
// fill the query as a Go template first; the scrape provider's language has its parser
// here (analysis/scrape/expr imports nothing of zerodown), PromQL has none (Prometheus's
// parser would bring the whole Prometheus module), so a rendered PromQL query is checked
// for its shape only: strings closed, brackets balanced.

// promQueryData has the fields of the prometheus provider's query templates
// (prom.TemplateData), with values shaped like real ones.
type promQueryData struct {
	Version     string
	Instances   string
	InstanceIDs string
	Window      string
}

// scrapeQueryData has the one field of the scrape provider's query templates.
type scrapeQueryData struct {
	Version string
}

var (
	samplePromQuery   = promQueryData{Version: "v1.2.3", Instances: `10\\.0\\.0\\.1:8080|10\\.0\\.0\\.2:8080`, InstanceIDs: "i-0a1|i-0a2", Window: "1m"}
	sampleScrapeQuery = scrapeQueryData{Version: "v1.2.3"}
)

// checkQuery says what is wrong with a metric's query for provider, or nothing.
func checkQuery(provider, query string) error {
	switch provider {
	case AnalysisScrape:
		text, err := renderQuery(query, sampleScrapeQuery, "{{.Version}}")
		if err != nil {
			return err
		}
		if _, err := expr.Parse(text); err != nil {
			return fmt.Errorf("is not a scrape query: %v (see docs/analysis.md)", err)
		}
	case AnalysisPrometheus:
		text, err := renderQuery(query, samplePromQuery, "{{.Version}}, {{.Instances}}, {{.InstanceIDs}} and {{.Window}}")
		if err != nil {
			return err
		}
		if err := checkPromQLShape(text); err != nil {
			return fmt.Errorf("is not PromQL: %v", err)
		}
	case AnalysisSentry:
		if !slices.Contains(SentryQueries, query) {
			return fmt.Errorf("is %q; the sentry provider measures one of %s (see docs/analysis.md)", shortenQuery(query), strings.Join(SentryQueries, ", "))
		}
	}
	return nil
}

// renderQuery fills a query template with sample data. Only substitution is allowed:
// range could loop without end (over an integer as much as over nothing), and define
// with template could recurse exponentially, so neither can run on a worker. The
// output is bounded too (printf can pad).
func renderQuery(query string, data any, fields string) (string, error) {
	if !strings.Contains(query, "{{") {
		return query, nil
	}
	t, err := template.New("query").Option("missingkey=error").Parse(query)
	if err != nil {
		return "", fmt.Errorf("is not a valid template: %v", strings.TrimPrefix(err.Error(), "template: "))
	}
	if len(t.Templates()) > 1 {
		return "", errors.New("defines templates ({{define}} or {{block}}); a query may only substitute " + fields)
	}
	if err := onlySubstitution(t.Root); err != nil {
		return "", err
	}
	var out boundedWriter
	if err := t.Execute(&out, data); err != nil {
		if errors.Is(err, errRenderTooLong) {
			return "", fmt.Errorf("renders to more than %d characters", MaxQueryLength)
		}
		return "", fmt.Errorf("cannot be filled in: %v (a query knows %s)", strings.TrimPrefix(err.Error(), "template: "), fields)
	}
	return out.b.String(), nil
}

func onlySubstitution(n parse.Node) error {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := onlySubstitution(c); err != nil {
				return err
			}
		}
	case *parse.IfNode:
		return errors.Join(onlySubstitution(n.List), onlySubstitution(n.ElseList))
	case *parse.WithNode:
		return errors.Join(onlySubstitution(n.List), onlySubstitution(n.ElseList))
	case *parse.RangeNode:
		return errors.New("uses {{range}}; a query may only substitute fields, not loop")
	case *parse.TemplateNode:
		return errors.New("uses {{template}}; a query may only substitute fields")
	}
	return nil
}

var errRenderTooLong = errors.New("rendered query too long")

// boundedWriter keeps at most MaxQueryLength bytes and fails past them.
type boundedWriter struct{ b strings.Builder }

func (w *boundedWriter) Write(p []byte) (int, error) {
	if w.b.Len()+len(p) > MaxQueryLength {
		return 0, errRenderTooLong
	}
	return w.b.Write(p)
}

// checkPromQLShape finds what makes a PromQL query unparsable whatever its functions:
// an unclosed string, an unbalanced bracket, nothing at all. Positions count from 1.
func checkPromQLShape(q string) error {
	if strings.TrimSpace(q) == "" {
		return errors.New("the query is empty")
	}
	type open struct {
		c   byte
		pos int
	}
	var stack []open
	closing := map[byte]byte{')': '(', ']': '[', '}': '{'}
	for i := 0; i < len(q); i++ {
		switch c := q[i]; c {
		case '"', '\'', '`':
			j := i + 1
			for j < len(q) && q[j] != c {
				if q[j] == '\\' && c != '`' {
					j++
				}
				j++
			}
			if j >= len(q) {
				return fmt.Errorf("at %d: string not closed", i+1)
			}
			i = j
		case '#': // a comment, to the end of the line
			for i < len(q) && q[i] != '\n' {
				i++
			}
		case '(', '[', '{':
			stack = append(stack, open{c, i})
		case ')', ']', '}':
			if len(stack) == 0 || stack[len(stack)-1].c != closing[c] {
				return fmt.Errorf("at %d: unexpected %c", i+1, c)
			}
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) > 0 {
		o := stack[len(stack)-1]
		return fmt.Errorf("at %d: %c is never closed", o.pos+1, o.c)
	}
	return nil
}

// shortenQuery keeps an error about a query readable however long the query is.
func shortenQuery(q string) string {
	if len(q) > 64 {
		return q[:61] + "..."
	}
	return q
}
