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

// FuzzParseChange feeds arbitrary documents to ParseChange (its release specs read from
// the hostile corpus's directory): it must never panic or hang, every refusal must be a
// ValidationError whose every line says what is wrong, and whatever it accepts must pass
// ValidateChange after a round trip through JSON (what the change's workflow receives).
func FuzzParseChange(f *testing.F) {
	dir := filepath.Join("testdata", "changes", "hostile")
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	files = append(files, nightChange)
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{
		"", "{}", "change: [", "change: c\nenvironment: prod\nsteps: [{id: a, command: {run: [x]}}]\n",
		"change: c\nenvironment: prod\nsteps: [{id: a, release: {spec: services/ok.yaml, version: v1}}]\n",
		"change: c\nenvironment: prod\nsteps: [{id: a, after: [b], check: {command: [x]}}, {id: b, after: [a], confirm: {}}]\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		watchdog := time.AfterFunc(10*time.Second, func() { panic(fmt.Sprintf("ParseChange still running after 10s on %q", doc)) })
		defer watchdog.Stop()
		c, err := schemas.ParseChange(doc, dir)
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
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatalf("an accepted change does not marshal: %v", err)
		}
		var again schemas.ChangeSpec
		if err := json.Unmarshal(b, &again); err != nil {
			t.Fatalf("an accepted change does not unmarshal: %v", err)
		}
		if err := schemas.ValidateChange(&again); err != nil {
			t.Fatalf("an accepted change fails ValidateChange after a JSON round trip: %v\n%s", err, b)
		}
		if n := len(again.Order()); n == 0 {
			t.Fatalf("an accepted change has no wave")
		}
	})
}
