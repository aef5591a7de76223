package schemas_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/schemas"
)

const nightChange = "../examples/changes/night.yaml"

func TestLoadNightChange(t *testing.T) {
	c, err := schemas.LoadChange(nightChange)
	require.NoError(t, err)

	require.Equal(t, "night-2026-12-02", c.Name)
	require.Equal(t, "change/night-2026-12-02", schemas.ChangeID(c.Name))
	require.Equal(t, "prod", c.Environment)
	require.Equal(t, 6*time.Hour, c.HoldTimeout.D())
	require.Len(t, c.Steps, 7)

	kinds := make([]string, len(c.Steps))
	for i, s := range c.Steps {
		kinds[i] = s.ID + ":" + s.Kind()
	}
	require.Equal(t, []string{"backup:command", "expand:migration", "api:release", "api-sanity:check", "web:release", "web-sanity:check", "landing:confirm"}, kinds)

	// Release specs are read relative to the change file and embedded, defaults filled.
	api := c.Steps[2].Release
	require.Equal(t, "services/board-api.yaml", api.File)
	require.Equal(t, "v2.4.0", api.Version)
	require.NotNil(t, api.Spec)
	require.Equal(t, "board-api", api.Spec.Service)
	require.Equal(t, "release/board-api/prod", api.Spec.ID())
	require.Equal(t, schemas.StrategyRolling, api.Spec.Promote.Strategy)
	require.Equal(t, "board-web", c.Steps[4].Release.Spec.Service)

	require.Equal(t, 30*time.Minute, c.Steps[0].Command.Timeout.D(), "as written")
	require.Equal(t, []string{"api", "web"}, c.Steps[1].Migration.ContractAfter)
	require.Equal(t, 10*time.Minute, c.Steps[1].Migration.Timeout.D())

	sanity := c.Steps[3].Check
	require.Equal(t, `"ok":true`, sanity.HTTP.Contains)
	require.Equal(t, 3, sanity.Retries)
	require.Equal(t, 4, sanity.Tries())
	require.Equal(t, 30*time.Second, sanity.Timeout.D(), "default")

	landing := c.Steps[6].Confirm
	require.Equal(t, []string{"orders", "invoices", "search"}, landing.Checklist)
	require.Equal(t, 2, landing.Count)
	require.Equal(t, 3*time.Hour, landing.Timeout.D())
	require.True(t, landing.Approval().Eligible("Erin"), "people compare as in approvals")
	require.False(t, landing.Approval().Eligible("mallory"))

	require.Equal(t, [][]string{{"backup"}, {"expand"}, {"api"}, {"api-sanity"}, {"web"}, {"web-sanity"}, {"landing"}}, c.Order())

	// What LoadChange returns is what the workflow accepts as its input.
	require.NoError(t, schemas.ValidateChange(c))
}

func TestChangeDefaults(t *testing.T) {
	c, err := schemas.ParseChange([]byte(`
change: d
environment: prod
steps:
  - { id: a, command: { run: [/bin/true] } }
  - { id: b, check: { http: { url: "http://lb/" } } }
  - { id: c, check: { command: [/bin/true], retries: 0 } }
  - { id: d, confirm: {} }
  - { id: e, migration: { expand: [/bin/true] } }
`), t.TempDir())
	require.NoError(t, err)
	require.Equal(t, 48*time.Hour, c.HoldTimeout.D())
	require.Equal(t, 10*time.Minute, c.Steps[0].Command.Timeout.D())
	b := c.Steps[1].Check
	require.Equal(t, 3, b.Retries)
	require.Equal(t, 10*time.Second, b.Interval.D())
	require.Equal(t, 30*time.Second, b.Timeout.D())
	require.Equal(t, 200, b.HTTP.Expect)
	require.Equal(t, 0, c.Steps[2].Check.Retries, "0 is a choice: try once")
	require.Equal(t, 1, c.Steps[2].Check.Tries())
	d := c.Steps[3].Confirm
	require.Equal(t, 1, d.Count)
	require.Equal(t, 24*time.Hour, d.Timeout.D())
	require.Equal(t, schemas.OnTimeoutRollback, d.OnTimeout)
	require.Equal(t, 30*time.Minute, c.Steps[4].Migration.Timeout.D())

	// The accessors give the same values for a change built in code.
	var zero schemas.ChangeSpec
	require.Equal(t, 48*time.Hour, zero.HoldTimeoutOrDefault())
	require.Equal(t, 10*time.Minute, schemas.CommandStep{}.TimeoutOrDefault())
	require.Equal(t, 10*time.Second, schemas.CheckStep{}.IntervalOrDefault())
	require.Equal(t, 30*time.Second, schemas.CheckStep{}.TimeoutOrDefault())
	require.Equal(t, 200, schemas.HTTPCheck{}.ExpectOrDefault())
	require.Equal(t, 1, schemas.ConfirmStep{}.RequiredConfirmations())
	require.Equal(t, 24*time.Hour, schemas.ConfirmStep{}.TimeoutOrDefault())
	require.Equal(t, schemas.OnTimeoutRollback, schemas.ConfirmStep{}.OnTimeoutOrDefault())
	require.Equal(t, 30*time.Minute, schemas.MigrationStep{}.TimeoutOrDefault())
}

// The hostile corpus: each file says, in `# want: PATH: MESSAGE` lines, the errors it must
// get. Every file is refused with a *ValidationError naming the field, within a bound.
func TestHostileChanges(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "changes", "hostile", "*.yaml"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 30)
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			wants := wantedErrors(t, file)
			require.NotEmpty(t, wants, "%s says what it wants with # want: lines", file)
			err := withinWatchdog(t, func() error {
				_, err := schemas.LoadChange(file)
				return err
			})
			requireFieldErrors(t, err, wants)
		})
	}
}

type wantedError struct{ path, message string }

func wantedErrors(t *testing.T, file string) []wantedError {
	f, err := os.Open(file)
	require.NoError(t, err)
	defer f.Close()
	var wants []wantedError
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "# want: ")
		if !ok {
			continue
		}
		path, msg, ok := strings.Cut(rest, ": ")
		require.True(t, ok, "want line %q is PATH: MESSAGE", rest)
		wants = append(wants, wantedError{path, msg})
	}
	return wants
}

func requireFieldErrors(t *testing.T, err error, wants []wantedError) {
	t.Helper()
	var ve *schemas.ValidationError
	require.True(t, errors.As(err, &ve), "want a *ValidationError, got %v", err)
	for _, w := range wants {
		found := false
		for _, fe := range ve.Errors {
			if fe.Path == w.path && strings.Contains(fe.Message, w.message) {
				found = true
			}
		}
		require.True(t, found, "want %s: %s\ngot:\n%s", w.path, w.message, ve.Error())
	}
}

// withinWatchdog runs f and fails the test if it has not returned in a generous bound or
// allocated more than maxAlloc: a hostile spec must not hang or blow up the loader.
func withinWatchdog(t *testing.T, f func() error) error {
	t.Helper()
	const maxAlloc = 256 << 20
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		runtime.ReadMemStats(&after)
		alloc := after.TotalAlloc - before.TotalAlloc
		t.Logf("allocated %.1f MiB", float64(alloc)/(1<<20))
		require.Less(t, alloc, uint64(maxAlloc), "allocated more than %d MiB", maxAlloc>>20)
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("still validating after 30s")
		return nil
	}
}

// A 10,000-step change is refused naming steps, from a file and as a workflow's input.
func TestHugeChangeRefused(t *testing.T) {
	var b strings.Builder
	b.WriteString("change: huge\nenvironment: prod\nsteps:\n")
	for i := range 10_000 {
		fmt.Fprintf(&b, "  - { id: s%d, after: [s%d], command: { run: [/bin/true] } }\n", i, max(0, i-1))
	}
	err := withinWatchdog(t, func() error {
		_, err := schemas.ParseChange([]byte(b.String()), t.TempDir())
		return err
	})
	requireFieldErrors(t, err, []wantedError{{"steps", "has 10000 steps; a change has at most 200"}})

	c := &schemas.ChangeSpec{Name: "huge", Environment: "prod"}
	for i := range 10_000 {
		c.Steps = append(c.Steps, schemas.Step{ID: fmt.Sprintf("s%d", i), After: []string{fmt.Sprintf("s%d", i+1)}, Command: &schemas.CommandStep{Run: []string{"/bin/true"}}})
	}
	err = withinWatchdog(t, func() error { return schemas.ValidateChange(c) })
	requireFieldErrors(t, err, []wantedError{{"steps", "has 10000 steps"}})
}

// Long lists and strings are refused by the schema's bounds, naming the field.
func TestChangeBounds(t *testing.T) {
	many := make([]string, 51)
	for i := range many {
		many[i] = fmt.Sprintf("s%d", i)
	}
	args := strings.Repeat("x, ", 101) + "x"
	doc := fmt.Sprintf(`
change: bounds
environment: prod
steps:
  - { id: a, after: [%s], command: { run: [%s] } }
  - { id: b, check: { http: { url: "http://lb/", contains: %q } } }
`, strings.Join(many, ", "), args, strings.Repeat("y", 2000))
	_, err := schemas.ParseChange([]byte(doc), t.TempDir())
	requireFieldErrors(t, err, []wantedError{
		{"steps[0].after", "must have at most 50 items"},
		{"steps[0].command.run", "must have at most 100 items"},
		{"steps[1].check.http.contains", "must be at most 1024 characters long"},
	})

	_, err = schemas.ParseChange([]byte("change: big\n# "+strings.Repeat("z", schemas.MaxChangeBytes)+"\n"), t.TempDir())
	requireFieldErrors(t, err, []wantedError{{"", "a change file may be at most 1 MiB"}})
}

// ValidateChange is what the workflow runs on its input: it refuses what LoadChange would,
// also without files, and always in the same order.
func TestValidateChangeOnWorkflowInput(t *testing.T) {
	c, err := schemas.LoadChange(nightChange)
	require.NoError(t, err)

	// A client that did not embed the spec (the plain temporal CLI).
	bare := *c
	bare.Steps = append([]schemas.Step(nil), c.Steps...)
	r := *bare.Steps[2].Release
	r.Spec = nil
	bare.Steps[2].Release = &r
	requireFieldErrors(t, schemas.ValidateChange(&bare), []wantedError{{"steps[2].release.embedded", "is missing"}})

	// An embedded spec that is not valid.
	broken := *c.Steps[4].Release.Spec
	broken.Target.Instances = 0
	bad := bare
	bad.Steps = append([]schemas.Step(nil), c.Steps...)
	r2 := *bad.Steps[4].Release
	r2.Spec = &broken
	bad.Steps[4].Release = &r2
	requireFieldErrors(t, schemas.ValidateChange(&bad), []wantedError{{"steps[4].release.embedded.target.instances", "must be at least 1"}})
	require.Equal(t, 2, c.Steps[4].Release.Spec.Target.Instances, "the change's own copy is untouched")

	// A cycle and a contract before its expand, built in code; twice the same words.
	loop := *c
	loop.Steps = append([]schemas.Step(nil), c.Steps...)
	loop.Steps[0].After = []string{"landing"}
	first := schemas.ValidateChange(&loop)
	requireFieldErrors(t, first, []wantedError{
		{"steps[0].after", "cycle backup -> landing -> web-sanity -> web -> api-sanity -> api -> expand -> backup"},
	})
	for range 20 {
		require.Equal(t, first.Error(), schemas.ValidateChange(&loop).Error(), "deterministic")
	}

	// Two kinds in one step, built in code.
	two := *c
	two.Steps = append([]schemas.Step(nil), c.Steps...)
	two.Steps[0].Check = &schemas.CheckStep{Command: []string{"/bin/true"}}
	requireFieldErrors(t, schemas.ValidateChange(&two), []wantedError{{"steps[0]", "must set exactly one of"}})

	require.Error(t, schemas.ValidateChange(nil))
}

func TestOrderInWaves(t *testing.T) {
	c, err := schemas.ParseChange([]byte(`
change: waves
environment: prod
steps:
  - { id: docs, after: [api], command: { run: [/bin/true] } }
  - { id: web-sanity, after: [web], check: { command: [/bin/true] } }
  - { id: backup, command: { run: [/bin/true] } }
  - { id: api, command: { run: [/bin/true] } }
  - { id: expand, after: [backup], migration: { expand: [/bin/true] } }
  - { id: web, after: [expand, api], command: { run: [/bin/true] } }
  - { id: notes, command: { run: [/bin/true] } }
`), t.TempDir())
	require.NoError(t, err)
	require.Equal(t, [][]string{{"backup", "api", "notes"}, {"docs", "expand"}, {"web"}, {"web-sanity"}}, c.Order())
}

// A release spec that is a FIFO is refused at once, never opened; one outside the change
// file's directory (.., a symbolic link leading out) is never read, so that validating a
// change from a pull request cannot print pieces of the runner's files.
func TestReleaseSpecNotRegularOrOutside(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, syscall.Mkfifo(filepath.Join(dir, "fifo.yaml"), 0o600))
	require.NoError(t, os.Symlink("/dev/zero", filepath.Join(dir, "zero.yaml")))
	require.NoError(t, os.Symlink("../../../../../../etc/passwd", filepath.Join(dir, "up.yaml")))
	change := []byte(`
change: c
environment: prod
steps:
  - { id: api, release: { spec: fifo.yaml, version: v2 } }
  - { id: web, release: { spec: zero.yaml, version: v2 } }
  - { id: up, release: { spec: up.yaml, version: v2 } }
  - { id: dots, release: { spec: ../../etc/passwd, version: v2 } }
`)
	err := withinWatchdog(t, func() error {
		_, err := schemas.ParseChange(change, dir)
		return err
	})
	requireFieldErrors(t, err, []wantedError{
		{"steps[0].release.spec", "fifo.yaml: not a regular file"},
		{"steps[1].release.spec", "zero.yaml: path escapes from parent"},
		{"steps[2].release.spec", "up.yaml: path escapes from parent"},
		{"steps[3].release.spec", "../../etc/passwd is outside the change file's directory"},
	})
	require.NotContains(t, err.Error(), "root:", "nothing of /etc/passwd is shown")
}

func changeSchemaDoc(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	require.NoError(t, json.Unmarshal(schemas.ChangeSchemaJSON, &doc))
	return doc
}

// Every object of the change schema says what it accepts, and every field what it is for.
func TestChangeSchemaIsClosedAndDocumented(t *testing.T) {
	root := changeSchemaDoc(t)
	fields := 0
	var walk func(where string, node map[string]any)
	walk = func(where string, node map[string]any) {
		if props, ok := node["properties"].(map[string]any); ok && node["type"] == "object" {
			require.Equal(t, false, node["additionalProperties"], "%s must refuse unknown fields", where)
			for name, p := range props {
				prop := resolve(root, p.(map[string]any))
				desc, _ := prop["description"].(string)
				require.NotEmpty(t, desc, "%s.%s has no description", where, name)
				fields++
				walk(where+"."+name, prop)
			}
		}
		if items, ok := node["items"].(map[string]any); ok {
			walk(where+"[]", resolve(root, items))
		}
	}
	walk("change", root)
	require.Greater(t, fields, 40)
}

// The defaults stated in the change schema are the ones ParseChange fills in.
func TestChangeSchemaDefaultsMatchCode(t *testing.T) {
	root := changeSchemaDoc(t)
	c, err := schemas.ParseChange([]byte(`
change: d
environment: prod
steps:
  - { id: a, command: { run: [/bin/true] } }
  - { id: b, check: { http: { url: "http://lb/" } } }
  - { id: d, confirm: {} }
  - { id: e, migration: { expand: [/bin/true] } }
`), t.TempDir())
	require.NoError(t, err)
	b, err := json.Marshal(c)
	require.NoError(t, err)
	var got map[string]any
	require.NoError(t, json.Unmarshal(b, &got))

	checked := 0
	var walk func(where string, node map[string]any, value any)
	walk = func(where string, node map[string]any, value any) {
		switch v := value.(type) {
		case map[string]any:
			props, _ := node["properties"].(map[string]any)
			for name, p := range props {
				prop := resolve(root, p.(map[string]any))
				val, present := v[name]
				if def, hasDefault := prop["default"]; hasDefault {
					if !present {
						val = zero(def)
					}
					require.Equal(t, normalizeDefault(def), normalizeDefault(val), "%s.%s", where, name)
					checked++
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
	walk("change", root, got)
	require.Equal(t, 10, checked, "every default in the change schema is checked")
}

// docs/changes.md shows the whole night example: it must stay valid and be the example file.
func TestChangeDocExampleIsTheNight(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "docs", "changes.md"))
	require.NoError(t, err)
	blocks := regexp.MustCompile("(?s)```yaml\n(change:.*?)```").FindAllStringSubmatch(string(b), -1)
	require.Len(t, blocks, 1)
	doc := blocks[0][1]
	_, err = schemas.ParseChange([]byte(doc), filepath.Dir(nightChange))
	require.NoError(t, err)

	example, err := os.ReadFile(nightChange)
	require.NoError(t, err)
	_, body, ok := strings.Cut(string(example), "\nchange:")
	require.True(t, ok)
	require.Equal(t, "change:"+body, doc, "docs/changes.md shows examples/changes/night.yaml without its header")
}

// The largest change the bounds allow (200 steps, 50 after and 50 contractAfter entries
// each) validates and plans within the watchdog: the rules are linear or memoized.
func TestLargestChangeValidates(t *testing.T) {
	c := &schemas.ChangeSpec{Name: "largest", Environment: "prod"}
	const migrations = 100
	id := func(kind string, i int) string { return fmt.Sprintf("%s-%d", kind, i) }
	for j := range migrations {
		m := schemas.Step{ID: id("m", j), Migration: &schemas.MigrationStep{Expand: []string{"/bin/true"}, Contract: []string{"/bin/true"}}}
		for k := max(0, j-schemas.MaxStepAfter); k < j; k++ {
			m.After = append(m.After, id("m", k))
		}
		for k := range schemas.MaxStepAfter {
			m.Migration.ContractAfter = append(m.Migration.ContractAfter, id("r", (j+k)%(schemas.MaxChangeSteps-migrations)))
		}
		c.Steps = append(c.Steps, m)
	}
	for i := range schemas.MaxChangeSteps - migrations {
		spec := &schemas.Spec{Service: id("svc", i), Environment: "prod", Target: schemas.Target{Provider: schemas.ProviderMemory, Instances: 1}}
		r := schemas.Step{ID: id("r", i), After: []string{id("m", migrations-1)}, Release: &schemas.ReleaseStep{File: "x.yaml", Version: "v2", Spec: spec}}
		for k := max(0, i-schemas.MaxStepAfter+1); k < i; k++ {
			r.After = append(r.After, id("r", k))
		}
		c.Steps = append(c.Steps, r)
	}
	start := time.Now()
	require.NoError(t, withinWatchdog(t, func() error { return schemas.ValidateChange(c) }))
	waves := c.Order()
	t.Logf("validated and ordered %d steps in %s", len(c.Steps), time.Since(start))
	require.Len(t, waves, migrations+schemas.MaxChangeSteps-migrations, "a chain of migrations, then a chain of releases")
}

// The workflow records ValidateChange's refusal, so its words must not depend on map order,
// for the schema's errors and for the rules between fields alike.
func TestValidateChangeWordsAreStable(t *testing.T) {
	schemaInvalid := &schemas.ChangeSpec{Name: "stable", Environment: "prod", Steps: []schemas.Step{
		{ID: "Bad Id", After: []string{"x", "x"}, Command: &schemas.CommandStep{}, Check: &schemas.CheckStep{}},
		{ID: "b", Check: &schemas.CheckStep{HTTP: &schemas.HTTPCheck{URL: "ftp://x", Expect: 7}, Command: []string{""}, Retries: -1}},
		{ID: "c", Confirm: &schemas.ConfirmStep{OnTimeout: "later"}},
		{ID: "d", Migration: &schemas.MigrationStep{Contract: []string{"x"}}},
	}}
	rulesInvalid := &schemas.ChangeSpec{Name: "stable", Environment: "prod", Steps: []schemas.Step{
		{ID: "a", After: []string{"c", "zz"}, Command: &schemas.CommandStep{Run: []string{"x"}}},
		{ID: "b", After: []string{"a"}, Confirm: &schemas.ConfirmStep{
			Approvers: []string{"group:a", "Bob", "bob ", "group:nope"},
			Groups:    map[string][]string{"z": {"p"}, "a": {"q", "Q"}, "m": {"r"}, "k": {"s"}, "-": {"t"}},
			Count:     9,
		}},
		{ID: "c", After: []string{"b"}, Migration: &schemas.MigrationStep{Expand: []string{"x"}, Contract: []string{"x"}, ContractAfter: []string{"a", "b", "zz"}}},
		{ID: "c", Command: &schemas.CommandStep{Run: []string{"x"}}},
	}}
	for _, c := range []*schemas.ChangeSpec{schemaInvalid, rulesInvalid} {
		first := schemas.ValidateChange(c)
		require.Error(t, first)
		t.Log(first)
		for range 50 {
			require.Equal(t, first.Error(), schemas.ValidateChange(c).Error())
		}
	}
}

// Files past 1 MiB are refused before they are read, the change's and its specs' alike.
func TestChangeFilesOver1MiB(t *testing.T) {
	dir := t.TempDir()
	big := "# " + strings.Repeat("z", schemas.MaxChangeBytes) + "\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "big.yaml"), []byte("change: c\n"+big), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "spec.yaml"), []byte("service: api\n"+big), 0o600))
	_, err := schemas.LoadChange(filepath.Join(dir, "big.yaml"))
	requireFieldErrors(t, err, []wantedError{{"", "the file is 1048589 bytes; change and release spec files are at most 1 MiB"}})

	_, err = schemas.ParseChange([]byte("change: c\nenvironment: prod\nsteps: [{id: a, release: {spec: spec.yaml, version: v1}}]\n"), dir)
	requireFieldErrors(t, err, []wantedError{{"steps[0].release.spec", "spec.yaml: the file is 1048592 bytes"}})
}
