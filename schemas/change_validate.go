package schemas

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// ValidateChange checks a ChangeSpec (as ParseChange returns it, or as a workflow receives
// it) against change.schema.json and the rules that relate steps to each other. It is pure
// (no files, no clock, no map order), so the change's workflow can run it on its own
// input: every release step must carry its embedded spec, which is validated too. It does
// not fill defaults: zero durations and counts mean their defaults (see the accessors).
// The error is a *ValidationError naming each field.
func ValidateChange(c *ChangeSpec) error {
	if c == nil {
		return oneError("", 0, "no change")
	}
	// Refused before anything walks the steps, so a huge input costs nothing.
	if n := len(c.Steps); n > MaxChangeSteps {
		return oneError("steps", 0, fmt.Sprintf("has %d steps; a change has at most %d: split it into several changes", n, MaxChangeSteps))
	}
	// The schema judges the change as written: the embedded specs are not part of it.
	written := *c
	written.Steps = make([]Step, len(c.Steps))
	for i, s := range c.Steps {
		if s.Release != nil {
			r := *s.Release
			r.Spec = nil
			s.Release = &r
		}
		written.Steps[i] = s
	}
	b, err := json.Marshal(written)
	if err != nil {
		return oneError("", 0, err.Error())
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return err
	}
	cs, err := compiledChange()
	if err != nil {
		return err
	}
	if err := validateAgainst(cs, doc, nil); err != nil {
		return inOneOrder(err)
	}
	if errs := changeSemantics(c, nil, true); len(errs) > 0 {
		return inOneOrder(&ValidationError{Errors: sorted(errs)})
	}
	return nil
}

// inOneOrder orders a ValidationError's fields by path, then message, so that its text is
// the same on every run (the workflow records it): the schema validator may report two
// problems of one field in either order.
func inOneOrder(err error) error {
	ve, ok := err.(*ValidationError)
	if !ok {
		return err
	}
	slices.SortStableFunc(ve.Errors, func(a, b FieldError) int {
		if c := strings.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		return strings.Compare(a.Message, b.Message)
	})
	return ve
}

// changeSemantics holds the rules JSON Schema cannot say. It runs on a schema-valid change.
// requireEmbedded asks that every release step carry a valid embedded spec (the workflow's
// case); ParseChange has just embedded them and reported what it could not.
func changeSemantics(c *ChangeSpec, lines map[string]int, requireEmbedded bool) []FieldError {
	var errs []FieldError
	add := func(path, format string, args ...any) {
		errs = append(errs, FieldError{Path: path, Message: fmt.Sprintf(format, args...), Line: lines[path]})
	}

	index := make(map[string]int, len(c.Steps))
	for i, s := range c.Steps {
		if first, dup := index[s.ID]; dup {
			add(stepPath(i)+".id", "%q is already the id of steps[%d]; step ids are unique", s.ID, first)
			continue
		}
		index[s.ID] = i
	}

	for i, s := range c.Steps {
		for j, dep := range s.After {
			path := joinIndex(stepPath(i)+".after", j)
			switch k, ok := index[dep]; {
			case !ok:
				add(path, "%q names no step of this change", dep)
			case k == i:
				add(path, "%q is this step: a step cannot wait for itself", dep)
			}
		}
	}
	for _, cycle := range findCycles(c, index) {
		add(stepPath(index[cycle[0]])+".after", "cycle %s: each waits for the next, so none of them could ever start", strings.Join(cycle, " -> "))
	}

	checkChangeDurations(c, add)
	checkTimeRules(c.Window, c.Deadline, c.GoNoGo, add)

	services := map[string]int{}
	reach := newReachability(c, index)
	for i, s := range c.Steps {
		switch {
		case s.Release != nil:
			checkReleaseStep(c, i, services, requireEmbedded, add)
		case s.Check != nil && s.Check.HTTP != nil:
			path := stepPath(i) + ".check.http.url"
			if u, err := url.Parse(s.Check.HTTP.URL); err != nil {
				add(path, "does not parse: %v", err)
			} else if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				add(path, "must be an http:// or https:// URL with a host")
			}
		case s.Confirm != nil:
			checkConfirmPeople(*s.Confirm, stepPath(i)+".confirm", add)
			checkRemind(s.Confirm.Remind, stepPath(i)+".confirm.remind", s.Confirm.TimeoutOrDefault(), add)
			if r := s.Confirm.Remind; r != nil && r.Before > 0 {
				add(stepPath(i)+".confirm.remind.before", "cannot be kept: when a confirm step opens depends on how long its after steps take; its reminder goes when the last of them starts (or when it opens)")
			}
		case s.Migration != nil:
			checkContractAfter(c, i, index, reach, add)
		}
	}
	return errs
}

// maxChangeDuration bounds every duration of a change: beyond a year is a typo.
const maxChangeDuration = 365 * 24 * time.Hour

// checkChangeDurations refuses durations no change could mean (and timers could not hold).
func checkChangeDurations(c *ChangeSpec, add func(path, format string, args ...any)) {
	check := func(path string, d Duration) {
		if d.D() > maxChangeDuration {
			add(path, "is %s; durations of a change are at most %s", FormatDuration(d.D()), FormatDuration(maxChangeDuration))
		}
	}
	check("holdTimeout", c.HoldTimeout)
	for i, s := range c.Steps {
		p := stepPath(i)
		switch {
		case s.Command != nil:
			check(p+".command.timeout", s.Command.Timeout)
		case s.Check != nil:
			check(p+".check.interval", s.Check.Interval)
			check(p+".check.timeout", s.Check.Timeout)
		case s.Confirm != nil:
			check(p+".confirm.timeout", s.Confirm.Timeout)
		case s.Migration != nil:
			check(p+".migration.timeout", s.Migration.Timeout)
		}
	}
}

func stepPath(i int) string { return "steps[" + strconv.Itoa(i) + "]" }

// checkReleaseStep ties a release step's embedded spec to the change: present (and valid)
// when required, of the change's environment, and the only release of its service.
func checkReleaseStep(c *ChangeSpec, i int, services map[string]int, requireEmbedded bool, add func(path, format string, args ...any)) {
	r := c.Steps[i].Release
	path := stepPath(i) + ".release"
	if r.Spec == nil {
		if requireEmbedded {
			add(path+".embedded", "is missing: the release spec %s must be embedded (load the change with LoadChange)", strconv.Quote(r.File))
		}
		return
	}
	if requireEmbedded {
		if err := validateEmbedded(r.Spec); err != nil {
			if ve, ok := err.(*ValidationError); ok {
				for _, fe := range ve.Errors {
					p := path + ".embedded"
					if fe.Path != "" {
						p += "." + fe.Path
					}
					add(p, "%s", fe.Message)
				}
			} else {
				add(path+".embedded", "%v", err)
			}
			return
		}
	}
	if r.Spec.Environment != c.Environment {
		add(path+".spec", "%s is a release spec of environment %q, but the change is for %q", r.File, r.Spec.Environment, c.Environment)
	}
	if first, dup := services[r.Spec.Service]; dup {
		add(path+".spec", "releases %s again (also steps[%d]): a change releases a service once, as both would run as the workflow %s",
			r.Spec.Service, first, r.Spec.ID())
		return
	}
	services[r.Spec.Service] = i
}

// validateEmbedded validates a copy of an embedded release spec with its defaults filled,
// as the release's workflow will run it, leaving the change's copy untouched.
func validateEmbedded(s *Spec) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	var cp Spec
	if err := json.Unmarshal(b, &cp); err != nil {
		return err
	}
	Defaults(&cp)
	return Validate(&cp)
}

// checkContractAfter makes sure a migration's contract can only run once the releases
// whose old versions need the old schema have finalized: each must be a release step that
// comes after the migration, or its new version could start before the expand.
func checkContractAfter(c *ChangeSpec, i int, index map[string]int, reach *reachability, add func(path, format string, args ...any)) {
	m := c.Steps[i].Migration
	for j, dep := range m.ContractAfter {
		path := joinIndex(stepPath(i)+".migration.contractAfter", j)
		k, ok := index[dep]
		switch {
		case !ok:
			add(path, "%q names no step of this change", dep)
		case c.Steps[k].Release == nil:
			add(path, "%q is a %s step; contractAfter names release steps, whose old instances must be gone before the contract", dep, kindOrNone(c.Steps[k]))
		case !reach.waitsFor(k, i):
			add(path, "%q does not come after %q: a contract before its expand; add %s to the after list of %s (directly or through a step it waits for)",
				dep, c.Steps[i].ID, c.Steps[i].ID, dep)
		}
	}
}

func kindOrNone(s Step) string {
	if k := s.Kind(); k != "" {
		return k
	}
	return "mixed"
}

// reachability answers whether one step waits, directly or through other steps, for
// another; each step's answers are computed once (a change of 200 steps with 50
// contractAfter entries each asks 10,000 times).
type reachability struct {
	c     *ChangeSpec
	index map[string]int
	memo  map[int][]bool
}

func newReachability(c *ChangeSpec, index map[string]int) *reachability {
	return &reachability{c: c, index: index, memo: map[int][]bool{}}
}

// waitsFor reports whether step from waits, directly or through other steps, for step to.
func (r *reachability) waitsFor(from, to int) bool {
	seen, ok := r.memo[from]
	if !ok {
		seen = make([]bool, len(r.c.Steps))
		stack := []int{from}
		for len(stack) > 0 {
			n := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for _, dep := range r.c.Steps[n].After {
				if k, ok := r.index[dep]; ok && !seen[k] {
					seen[k] = true
					stack = append(stack, k)
				}
			}
		}
		r.memo[from] = seen
	}
	return seen[to]
}

// findCycles returns the cycles of the after relation that a depth-first search in file
// order meets, each written from its step that comes first in the file and back to it
// (a -> b: a waits for b). Self-references are reported apart.
func findCycles(c *ChangeSpec, index map[string]int) [][]string {
	const (
		unseen = iota
		open
		done
	)
	state := make([]int, len(c.Steps))
	var stack []int
	var cycles [][]string
	var visit func(n int)
	visit = func(n int) {
		state[n] = open
		stack = append(stack, n)
		for _, dep := range c.Steps[n].After {
			k, ok := index[dep]
			if !ok || k == n {
				continue
			}
			switch state[k] {
			case unseen:
				visit(k)
			case open:
				from := slices.Index(stack, k)
				cycles = append(cycles, cycleWords(c, stack[from:]))
			}
		}
		stack = stack[:len(stack)-1]
		state[n] = done
	}
	for n := range c.Steps {
		if state[n] == unseen {
			visit(n)
		}
	}
	return cycles
}

// cycleWords rotates a cycle to start at its step that comes first in the file and closes it.
func cycleWords(c *ChangeSpec, members []int) []string {
	first := 0
	for i, n := range members {
		if n < members[first] {
			first = i
		}
	}
	words := make([]string, 0, len(members)+1)
	for i := range members {
		words = append(words, c.Steps[members[(first+i)%len(members)]].ID)
	}
	return append(words, words[0])
}

// checkConfirmPeople holds a confirm step's approvers and groups to the rules of a
// release's approval policy (semantic.go's checkApproval), under the step's own path.
func checkConfirmPeople(k ConfirmStep, path string, add func(path, format string, args ...any)) {
	checkPeople(k, path, "the step could never be confirmed", add)
}

// checkPeople holds the people of a human step (a confirm step, a go/no-go call) to the
// rules of the approval policy; never says what could not happen when count is too high.
func checkPeople(k ConfirmStep, path, never string, add func(path, format string, args ...any)) {
	used := map[string]bool{}
	for i, e := range k.Approvers {
		p := joinIndex(path+".approvers", i)
		g, isGroup := strings.CutPrefix(e, GroupPrefix)
		if !isGroup {
			for j := range i {
				if !strings.HasPrefix(k.Approvers[j], GroupPrefix) && SamePerson(e, k.Approvers[j]) {
					add(p, "%q names the same person as %s.approvers[%d] (%q): people compare regardless of case and surrounding spaces", e, path, j, k.Approvers[j])
					break
				}
			}
			continue
		}
		if _, defined := k.Groups[g]; !defined {
			add(p, "%q names no group of %s.groups", e, path)
			continue
		}
		used[g] = true
	}
	names := make([]string, 0, len(k.Groups))
	for g := range k.Groups {
		names = append(names, g)
	}
	slices.Sort(names) // one order for the errors, whatever the map's
	for _, g := range names {
		gp := joinKey(path+".groups", g)
		if !groupNameRE.MatchString(g) {
			add(gp, "is not a group name: use letters, digits, '.', '_' or '-', starting with a letter or digit")
			continue
		}
		if !used[g] {
			add(gp, "is never used: add %s%s to %s.approvers", GroupPrefix, g, path)
		}
		members := k.Groups[g]
		for i, p := range members {
			if strings.HasPrefix(p, GroupPrefix) {
				add(joinIndex(gp, i), "%q: groups hold people, not other groups", p)
				continue
			}
			for j := range i {
				if SamePerson(p, members[j]) {
					add(joinIndex(gp, i), "%q names the same person as %s (%q): people compare regardless of case and surrounding spaces", p, joinIndex(gp, j), members[j])
					break
				}
			}
		}
	}
	if people := k.Approval().People(); len(k.Approvers) > 0 && k.Count > len(people) {
		add(path+".count", "is %d but %s.approvers name only %d %s (%s); %s",
			k.Count, path, len(people), plural(len(people), "person", "people"), strings.Join(people, ", "), never)
	}
}

// Order is the steps' ids in the waves they can run in: the first wave waits for nothing,
// each next one for steps of earlier waves only (Kahn's algorithm); ids keep file order
// within a wave. It is meant for a change ValidateChange accepts: steps in a cycle, or
// waiting for an unknown id, are left out.
func (c *ChangeSpec) Order() [][]string {
	n := len(c.Steps)
	index := make(map[string]int, n)
	for i, s := range c.Steps {
		if _, dup := index[s.ID]; !dup {
			index[s.ID] = i
		}
	}
	waiting := make([]int, n)    // unmet dependencies of each step
	waitedBy := make([][]int, n) // the steps that wait for each step
	for i, s := range c.Steps {
		seen := map[int]bool{}
		for _, dep := range s.After {
			k, ok := index[dep]
			if !ok {
				waiting[i] = n + 1 // never ready
				continue
			}
			if seen[k] {
				continue
			}
			seen[k] = true
			waiting[i]++
			waitedBy[k] = append(waitedBy[k], i)
		}
	}
	var wave []int
	for i := range c.Steps {
		if waiting[i] == 0 {
			wave = append(wave, i)
		}
	}
	var waves [][]string
	for len(wave) > 0 {
		ids := make([]string, len(wave))
		var next []int
		for j, i := range wave {
			ids[j] = c.Steps[i].ID
			for _, w := range waitedBy[i] {
				if waiting[w]--; waiting[w] == 0 {
					next = append(next, w)
				}
			}
		}
		waves = append(waves, ids)
		slices.Sort(next)
		wave = next
	}
	return waves
}
