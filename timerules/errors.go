package timerules

import "strings"

// FieldError is one problem with a time rule, tied to the spec field it is about
// (window[0].from, deadline.decideBy), so a spec's validation can report it as it is.
type FieldError struct {
	Field   string
	Message string
}

func (e FieldError) Error() string { return e.Field + ": " + e.Message }

// FieldErrors is every problem found in one rule.
type FieldErrors []FieldError

func (es FieldErrors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// orNil keeps a nil error nil, not a typed nil in an interface.
func (es FieldErrors) orNil() error {
	if len(es) == 0 {
		return nil
	}
	return es
}
