package schemas_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zerodown/zerodown/schemas"
)

// FuzzParse feeds arbitrary documents to Parse: it must never panic, every refusal must
// be a ValidationError whose every line names what is wrong, and whatever it accepts
// must validate again after a round trip through JSON (what the workflow receives).
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	hostile, _ := filepath.Glob(filepath.Join("testdata", "hostile", "*.yaml"))
	files = append(files, hostile...)
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{
		"", "{}", "service: [", "service: board\nenvironment: prod\n",
		"service: a\nenvironment: b\ntarget: {provider: memory, instances: 1}\ncanary: {soak: 4 hours}\n",
		"service: a\nenvironment: b\ntarget: {provider: memory, instances: 1}\npromote: {batch: 0%}\n",
		"service: a\nenvironment: b\ntarget: {provider: memory, instances: 1}\nwindow: [{days: [tue, fri], from: \"01:30\", until: \"05:00\", timezone: Europe/London}]\ndeadline: {decideBy: \"06:00\", doneBy: \"07:00\", timezone: Europe/London}\ngoNoGo: {approvers: [a], at: \"17:00\", timezone: UTC}\n",
		"a: &x [*x]\n", "service: !!binary AAAA\n", "- 1\n- 2\n", "service: a\n---\nservice: b\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		// A hang is a failure too, and the fuzzer does not see one by itself: crash the
		// worker so that it keeps the input.
		watchdog := time.AfterFunc(10*time.Second, func() { panic(fmt.Sprintf("Parse still running after 10s on %q", doc)) })
		defer watchdog.Stop()
		spec, err := schemas.Parse(doc)
		if err != nil {
			var ve *schemas.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("refusal is not a ValidationError: %T %v", err, err)
			}
			if len(ve.Errors) == 0 {
				t.Fatalf("a ValidationError with no field errors: %q", err)
			}
			for _, fe := range ve.Errors {
				if strings.TrimSpace(fe.Message) == "" {
					t.Fatalf("a field error without a message: %+v", fe)
				}
			}
			return
		}
		b, err := json.Marshal(spec)
		if err != nil {
			t.Fatalf("an accepted spec does not marshal: %v", err)
		}
		var again schemas.Spec
		if err := json.Unmarshal(b, &again); err != nil {
			t.Fatalf("an accepted spec does not unmarshal: %v", err)
		}
		if err := schemas.Validate(&again); err != nil {
			t.Fatalf("an accepted spec fails validation after a JSON round trip: %v\n%s", err, b)
		}
	})
}
