package schemas_test

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/analysis/prom"
	"github.com/zerodown/zerodown/schemas"
)

// The hostile corpus (testdata/hostile) in process: each file is refused with the words
// its "# expect:" comments name, well within a watchdog. internal/cli's hostile test runs
// the same files through the zerodown binary under a memory cap.
func TestHostileCorpusIsRefused(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "hostile", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".yaml"), func(t *testing.T) {
			b, err := os.ReadFile(f)
			require.NoError(t, err)
			var expect []string
			sc := bufio.NewScanner(bytes.NewReader(b))
			for sc.Scan() {
				if want, ok := strings.CutPrefix(sc.Text(), "# expect: "); ok {
					expect = append(expect, want)
				}
			}
			require.NotEmpty(t, expect, "the file says what its refusal contains with # expect:")

			err = hangWatchdog(t, func() error { _, err := schemas.Load(f); return err })
			var verr *schemas.ValidationError
			require.ErrorAs(t, err, &verr)
			for _, want := range expect {
				require.Contains(t, err.Error()+lines(verr), want)
			}
		})
	}
}

// lines adds what the CLI prints before each error (line N:), for expectations that name a line.
func lines(verr *schemas.ValidationError) string {
	var b strings.Builder
	for _, fe := range verr.Errors {
		fmt.Fprintf(&b, "\nline %d: %s", fe.Line, fe.Error())
	}
	return b.String()
}

// hangWatchdog runs f and crashes the test binary if it hangs: a hung Parse cannot be
// stopped from outside, and a crash keeps the failing case in the output.
func hangWatchdog(t *testing.T, f func() error) error {
	t.Helper()
	watchdog := time.AfterFunc(20*time.Second, func() { panic(t.Name() + ": still running after 20s") })
	defer watchdog.Stop()
	return f()
}

func TestOversizedSpecsAreRefusedUnread(t *testing.T) {
	big := bytes.Repeat([]byte("#"), schemas.MaxSpecBytes+1)
	_, err := schemas.Parse(big)
	require.EqualError(t, err, "the spec is 1048577 bytes; a spec may be at most 1 MiB (1048576 bytes)")

	path := filepath.Join(t.TempDir(), "big.yaml")
	require.NoError(t, os.WriteFile(path, big, 0o600))
	_, err = schemas.Load(path)
	require.EqualError(t, err, "the spec is 1048577 bytes; a spec may be at most 1 MiB (1048576 bytes)")

	// A device that never ends is read no further than the limit.
	if _, statErr := os.Stat("/dev/zero"); statErr == nil {
		err = hangWatchdog(t, func() error { _, err := schemas.Load("/dev/zero"); return err })
		require.EqualError(t, err, "the spec is more than 1 MiB; a spec may be at most 1 MiB (1048576 bytes)")
	}

	// Exactly at the limit is read and judged on its content.
	atLimit := append([]byte(base), bytes.Repeat([]byte("#"), schemas.MaxSpecBytes-len(base))...)
	_, err = schemas.Parse(atLimit)
	require.NoError(t, err)
}

// Aliases of long strings make a small file a big release input: the spec as JSON (what
// the workflow carries) is bounded too, by Parse and Validate alike.
func TestSpecsAreBoundedAsTheReleaseCarriesThem(t *testing.T) {
	// The anchor stands where a long string is allowed; each alias copies it into an argument.
	var b strings.Builder
	b.WriteString(base + "bake: {userData: &long " + strings.Repeat("y", 4000) + "}\nhooks:\n  preTraffic:\n")
	for range 5 {
		b.WriteString("    - command: {args: [")
		b.WriteString(strings.Repeat("*long, ", 100))
		b.WriteString("z]}\n")
	}
	doc := b.String()
	_, err := schemas.Parse([]byte(doc))
	require.ErrorContains(t, err, "once encoded as JSON, as a release carries it; at most 1 MiB")
	require.Less(t, len(doc), 64<<10)

	s := &schemas.Spec{Service: "board", Environment: "prod", Target: schemas.Target{Provider: schemas.ProviderMemory, Instances: 4}}
	schemas.Defaults(s)
	arg := strings.Repeat("y", schemas.MaxArgLength)
	for range 5 {
		args := make([]string, 100)
		for i := range args {
			args[i] = arg
		}
		s.Hooks.PreTraffic = append(s.Hooks.PreTraffic, schemas.Hook{Command: &schemas.CommandHook{Args: args}, Timeout: schemas.Duration(time.Second)})
	}
	require.ErrorContains(t, schemas.Validate(s), "once encoded as JSON, as a release carries it; at most 1 MiB")
}

func TestNonUTF8IsRefusedWithItsLine(t *testing.T) {
	_, err := schemas.Parse([]byte(base + "bake: {userData: \"caf\xe9\"}\n"))
	var verr *schemas.ValidationError
	require.ErrorAs(t, err, &verr)
	require.Equal(t, []schemas.FieldError{{Message: "line 6: byte 0xE9 at column 22 is not UTF-8 text; save the spec as UTF-8", Line: 6}}, verr.Errors)
}

// Aliases are fine in the small: the budget counts expanded values, not their use.
func TestAliasesWithinTheBudgetStillWork(t *testing.T) {
	s, err := schemas.Parse([]byte(base + `canary:
  approval:
    required: true
    approvers: &people [alice, bob]
    groups: {sre: *people}
`))
	require.Error(t, err, "a group must be used") // the point is that it parses and is judged
	require.Nil(t, s)
	require.Contains(t, err.Error(), "canary.approval.groups.sre: is never used")
}

// A spec built in code is held to the same maxima by Validate, with the same words, and
// the checks stay linear however big the lists are.
func TestValidateRefusesHugeSpecsBuiltInCode(t *testing.T) {
	valid := func() *schemas.Spec {
		s := &schemas.Spec{Service: "board", Environment: "prod", Target: schemas.Target{Provider: schemas.ProviderMemory, Instances: 4}}
		schemas.Defaults(s)
		s.Rollback.Automatic = true
		return s
	}
	require.NoError(t, schemas.Validate(valid()))

	approvers := make([]string, 40_000)
	for i := range approvers {
		approvers[i] = fmt.Sprintf("person%d", i)
	}
	cases := []struct {
		name   string
		change func(*schemas.Spec)
		want   string
	}{
		{"40,000 approvers", func(s *schemas.Spec) {
			s.Canary.Approval.Required = true
			s.Canary.Approval.Approvers = approvers
		}, "canary.approval.approvers: must have at most 100 items, not 40000"},
		{"50 MB hook name", func(s *schemas.Spec) {
			s.Hooks.PreTraffic = []schemas.Hook{{Name: strings.Repeat("x", 50<<20), Command: &schemas.CommandHook{Args: []string{"true"}}, Timeout: schemas.Duration(time.Second)}}
		}, "hooks.preTraffic[0].name: must be at most 1024 characters long, not 52428800"},
		{"largest int instances", func(s *schemas.Spec) { s.Target.Instances = math.MaxInt }, "target.instances: must be at most 10000, not 9223372036854775807"},
		{"overflowing batch", func(s *schemas.Spec) { s.Promote.Batch = "99999999999999999999" }, "promote.batch: must be a count from 1 to 10000"},
		{"batch above the fleet maximum", func(s *schemas.Spec) { s.Promote.Batch = "20000" }, `promote.batch: is "20000"; a batch is at most 10000 instances`},
		{"failure limit", func(s *schemas.Spec) { s.Canary.Analysis.FailureLimit = 99999999999 }, "canary.analysis.failureLimit: must be at most 1000, not 99999999999"},
		{"millisecond checks", func(s *schemas.Spec) {
			s.Canary.Soak = schemas.Duration(4 * time.Hour)
			s.Canary.Analysis.Interval = schemas.Duration(time.Millisecond)
		}, "canary.analysis.interval: is 1ms; checks run at most once a second (at least 1s)"},
		{"too many checks", func(s *schemas.Spec) {
			s.Canary.Soak = schemas.Duration(100 * time.Hour)
			s.Canary.Analysis.Interval = schemas.Duration(time.Second)
		}, "canary.soak: 100h is 360000 analysis intervals of 1s; a soak makes at most 100000 checks"},
		{"too many samples", func(s *schemas.Spec) {
			s.Canary.Soak = schemas.Duration(24 * time.Hour)
			s.Canary.Analysis.Interval = schemas.Duration(24 * time.Hour)
			s.Canary.Analysis.Step = schemas.Duration(time.Second)
		}, "canary.analysis.step: 1s gives 86400 samples per check of 24h; at most 11000"},
		{"endless post-promotion", func(s *schemas.Spec) {
			s.Canary.Analysis.Interval = schemas.Duration(time.Second)
			s.Canary.Analysis.PostPromotion = schemas.Duration(1000 * time.Hour)
		}, "canary.analysis.postPromotion: 1000h is 3600000 analysis intervals of 1s"},
		{"a timeout of centuries", func(s *schemas.Spec) { s.Drain.Timeout = schemas.Duration(200 * 365 * 24 * time.Hour) }, "drain.timeout: 1752000h0m0s is longer than 8760h (365 days)"},
		{"the same person twice", func(s *schemas.Spec) {
			s.Canary.Approval.Required = true
			s.Canary.Approval.Count = 2
			s.Canary.Approval.Approvers = []string{"alice", "bob", " Alice "}
		}, `canary.approval.approvers[2]: " Alice " names the same person as canary.approval.approvers[0] ("alice")`},
		{"the same person twice in a group", func(s *schemas.Spec) {
			s.Canary.Approval.Required = true
			s.Canary.Approval.Approvers = []string{"group:sre"}
			s.Canary.Approval.Groups = map[string][]string{"sre": {"bob", "BOB"}}
		}, `canary.approval.groups.sre[1]: "BOB" names the same person as canary.approval.groups.sre[0] ("bob")`},
		{"many env variables", func(s *schemas.Spec) {
			s.Target.Provider = schemas.ProviderLocal
			s.Target.Local = &schemas.LocalSpec{Command: []string{"x"}, HealthPath: "/healthz", Env: map[string]string{}}
			for i := range 300 {
				s.Target.Local.Env[fmt.Sprintf("V%d", i)] = "x"
			}
		}, "target.local.env: must have at most 256 entries, not 300"},
		{"a long env name", func(s *schemas.Spec) {
			s.Target.Provider = schemas.ProviderLocal
			s.Target.Local = &schemas.LocalSpec{Command: []string{"x"}, HealthPath: "/healthz", Env: map[string]string{strings.Repeat("V", 300): "x"}}
		}, `target.local.env: key "VVVV`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := valid()
			c.change(s)
			err := hangWatchdog(t, func() error { return schemas.Validate(s) })
			var verr *schemas.ValidationError
			require.ErrorAs(t, err, &verr)
			require.Contains(t, err.Error(), c.want)
			require.Less(t, len(err.Error()), 2048, "the refusal quotes the input only in part")
		})
	}
}

func TestQueriesAreCheckedAtValidateTime(t *testing.T) {
	spec := func(provider, query string) string {
		url := ""
		if provider == schemas.AnalysisPrometheus {
			url = "prometheusURL: http://127.0.0.1:9090, "
		}
		return base + fmt.Sprintf("canary: {analysis: {provider: %s, %smetrics: [{name: m, query: %q, max: 1}]}}\n", provider, url, query)
	}
	good := []struct{ provider, query string }{
		{schemas.AnalysisScrape, `rate(http_requests_total{code=~"5.."}) / rate(http_requests_total)`},
		{schemas.AnalysisScrape, `rate(http_requests_total{version="{{.Version}}"})`},
		{schemas.AnalysisPrometheus, `sum(rate(http_requests_total{instance=~"{{.Instances}}",code=~"5.."}[{{.Window}}])) / sum(rate(http_requests_total{instance=~"{{.Instances}}"}[{{.Window}}]))`},
		{schemas.AnalysisPrometheus, `up{instance_id=~{{printf "%q" .InstanceIDs}}} # a comment (with an unbalanced bracket`},
		{schemas.AnalysisPrometheus, `{{if .Version}}up{version="{{.Version}}"}{{else}}up{{end}}`},
	}
	for _, g := range good {
		_, err := schemas.Parse([]byte(spec(g.provider, g.query)))
		require.NoError(t, err, "%s: %s", g.provider, g.query)
	}
	const path = "canary.analysis.metrics[0].query: "
	bad := []struct{ provider, query, want string }{
		{schemas.AnalysisScrape, "rate(((((", path + "is not a scrape query: at 6: rate takes a metric selector"},
		{schemas.AnalysisScrape, "rate(x[5m])", path + "is not a scrape query: at 7: scrape queries take no range"},
		{schemas.AnalysisScrape, `rate(x{version="{{.Window}}"})`, path + "cannot be filled in"},
		{schemas.AnalysisPrometheus, "sum(rate(x[5m])", path + "is not PromQL: at 4: ( is never closed"},
		{schemas.AnalysisPrometheus, `x{a="b}`, path + "is not PromQL: at 5: string not closed"},
		{schemas.AnalysisPrometheus, "x)", path + "is not PromQL: at 2: unexpected )"},
		{schemas.AnalysisPrometheus, "{{.Vesion}}", path + "cannot be filled in"},
		{schemas.AnalysisPrometheus, "{{.Version", path + "is not a valid template"},
		{schemas.AnalysisPrometheus, "{{range 1000000000000}}{{end}}up", path + "uses {{range}}"},
		{schemas.AnalysisPrometheus, `{{define "a"}}{{template "a"}}{{template "a"}}{{end}}{{template "a"}}`, path + "defines templates"},
		{schemas.AnalysisPrometheus, `{{printf "%0900000d" 1}}`, path + "renders to more than 4096 characters"},
		{schemas.AnalysisPrometheus, "{{/* nothing */}}", path + "is not PromQL: the query is empty"},
	}
	for _, b := range bad {
		err := hangWatchdog(t, func() error { _, err := schemas.Parse([]byte(spec(b.provider, b.query))); return err })
		require.ErrorContains(t, err, b.want, "%s: %s", b.provider, b.query)
	}
}

// A spec with a thousand errors gets the first fifty and a count of the rest.
func TestErrorsAreCapped(t *testing.T) {
	var b strings.Builder
	b.WriteString(base)
	for i := range 1000 {
		fmt.Fprintf(&b, "unknown%d: 1\n", i)
	}
	_, err := schemas.Parse([]byte(b.String()))
	var verr *schemas.ValidationError
	require.ErrorAs(t, err, &verr)
	require.Len(t, verr.Errors, 51)
	require.Equal(t, "... and 950 more errors", verr.Errors[50].Message)
}

// The fields validate fills a PromQL template with are those the prometheus provider
// fills it with: a query valid at run time is valid at validate time.
func TestPromQueryFieldsMatchTheProvider(t *testing.T) {
	fields := reflect.TypeOf(prom.TemplateData{})
	require.Positive(t, fields.NumField())
	for i := range fields.NumField() {
		name := fields.Field(i).Name
		_, err := schemas.Parse([]byte(base + fmt.Sprintf(`canary: {analysis: {provider: prometheus, prometheusURL: "http://127.0.0.1:9090", metrics: [{name: m, query: 'up{x="{{.%s}}"}', max: 1}]}}`+"\n", name)))
		require.NoError(t, err, "{{.%s}}", name)
	}
}
