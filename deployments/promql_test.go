package deployments_test

import (
	"regexp"
	"strings"
)

// PromQL words that are not metric names: functions, aggregations, keywords.
var promqlWords = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`sum min max avg count stddev stdvar topk bottomk quantile
		count_values group by without on ignoring group_left group_right bool and or unless offset
		rate irate increase delta idelta deriv predict_linear histogram_quantile absent
		absent_over_time abs ceil floor round clamp clamp_min clamp_max label_replace label_join
		vector scalar time timestamp sort sort_desc avg_over_time min_over_time max_over_time
		sum_over_time count_over_time last_over_time quantile_over_time changes resets inf nan`) {
		promqlWords[w] = true
	}
}

var (
	promqlStrings   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	promqlMatchers  = regexp.MustCompile(`\{[^}]*\}`)
	promqlRanges    = regexp.MustCompile(`\[[^\]]*\]`)
	promqlLabelList = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promqlOffset    = regexp.MustCompile(`\boffset\s+\S+`)
	grafanaVars     = regexp.MustCompile(`\$\{?\w+\}?`)
	promqlIdent     = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	promqlNumber    = regexp.MustCompile(`\b\d+(?:\.\d+)?(?:e[+-]?\d+)?[smhdwy]?\b`)
)

// metricNames returns the metric names a PromQL expression selects: what is left once
// strings, label matchers, ranges, label lists, offsets and Grafana variables are gone,
// less PromQL's own words.
func metricNames(expr string) []string {
	e := promqlStrings.ReplaceAllString(expr, `""`)
	e = promqlMatchers.ReplaceAllString(e, " ")
	e = promqlRanges.ReplaceAllString(e, " ")
	e = promqlLabelList.ReplaceAllString(e, " ")
	e = promqlOffset.ReplaceAllString(e, " ")
	e = grafanaVars.ReplaceAllString(e, " ")
	e = promqlNumber.ReplaceAllString(e, " ")
	var names []string
	for _, id := range promqlIdent.FindAllString(e, -1) {
		if !promqlWords[strings.ToLower(id)] {
			names = append(names, id)
		}
	}
	return names
}

// grafanaToPromQL replaces Grafana's variables by values so that the expression parses.
func grafanaToPromQL(expr string) string {
	return strings.NewReplacer(
		"$__rate_interval", "1m", "$__range", "1h", "$__interval", "1m",
		"$worker_job", "zerodown-worker", "$service_job", "demoapp",
	).Replace(expr)
}
