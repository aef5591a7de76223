// Package redact removes secrets from text that leaves the worker: activity errors and
// results (which become the workflow history, status.error, the timeline and Slack),
// the worker's log and its notifications.
//
// A Redactor removes two kinds of secrets:
//
//   - the values of the worker's secret-bearing environment variables (see IsSecretName),
//     replaced by "[REDACTED:NAME]" so that a reader still knows what stood there;
//   - well-known token shapes, whatever their origin (see the patterns in shapes.go),
//     replaced by "[REDACTED]".
//
// Redaction is deterministic and runs in time linear in the text: the values are found
// with one strings.Replacer and the shapes with RE2 regular expressions, which never
// backtrack.
package redact

import (
	"cmp"
	"slices"
	"strings"
)

// MinSecretLength is the shortest variable value treated as a secret. Shorter values
// ("1", "true", "us") would turn ordinary words into "[REDACTED]" everywhere, and a
// secret that short protects nothing anyway.
const MinSecretLength = 6

// Marker replaces a token found by its shape. A value of a variable is replaced by
// Marker with the variable's name: "[REDACTED:SLACK_BOT_TOKEN]".
const Marker = "[REDACTED]"

// Redactor removes secrets from text. The zero value and nil remove only token shapes
// (nil removes nothing); a Redactor is safe for concurrent use.
type Redactor struct {
	values *strings.Replacer // nil when there are no secret values
	names  []string          // the variables whose values are removed, sorted
}

// FromEnviron returns a Redactor of the secret-bearing variables of environ, a list of
// NAME=value as os.Environ returns it.
func FromEnviron(environ []string) *Redactor {
	secrets := map[string]string{}
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if ok && IsSecretName(name) {
			secrets[name] = value
		}
	}
	return New(secrets)
}

// New returns a Redactor of the given secrets, by variable name. Values shorter than
// MinSecretLength are ignored. A multi-line value is also removed line by line, so that
// a part of it (a private key cut by a truncated output) is removed too.
func New(secrets map[string]string) *Redactor {
	type needle struct{ name, value string }
	var needles []needle
	seen := map[string]bool{}
	add := func(name, value string) {
		if len(value) < MinSecretLength || seen[value] {
			return
		}
		seen[value] = true
		needles = append(needles, needle{name, value})
	}
	names := make([]string, 0, len(secrets))
	for name := range secrets {
		names = append(names, name)
	}
	slices.Sort(names) // the same value under two names is named after the first
	for _, name := range names {
		add(name, secrets[name])
	}
	for _, name := range names {
		if v := secrets[name]; strings.ContainsAny(v, "\r\n") {
			for line := range strings.FieldsFuncSeq(v, func(r rune) bool { return r == '\n' || r == '\r' }) {
				add(name, strings.TrimSpace(line))
			}
		}
	}
	r := &Redactor{}
	for _, n := range needles {
		r.names = append(r.names, n.name)
	}
	r.names = slices.Compact(r.names)
	if len(needles) == 0 {
		return r
	}
	// The replacer tries its old strings in argument order at each position: longest
	// first, so that a secret containing another is removed whole.
	slices.SortStableFunc(needles, func(a, b needle) int {
		return cmp.Or(cmp.Compare(len(b.value), len(a.value)), strings.Compare(a.value, b.value))
	})
	pairs := make([]string, 0, 2*len(needles))
	for _, n := range needles {
		pairs = append(pairs, n.value, "[REDACTED:"+n.name+"]")
	}
	r.values = strings.NewReplacer(pairs...)
	return r
}

// Names lists the variables whose values r removes, sorted, for the worker's log (the
// names are not secret; the values are).
func (r *Redactor) Names() []string {
	if r == nil {
		return nil
	}
	return slices.Clone(r.names)
}

// String returns s without the secrets r knows and without well-known token shapes.
func (r *Redactor) String(s string) string {
	if r == nil || s == "" {
		return s
	}
	if r.values != nil {
		s = r.values.Replace(s)
	}
	return redactShapes(s)
}

// secretWords mark a variable name as secret-bearing wherever they appear in it.
var secretWords = []string{
	"TOKEN", "SECRET", "PASSWORD", "PASSWD", "PASSPHRASE", "KEY", "CREDENTIAL",
	"PRIVATE", "DSN", "COOKIE", "SIGNATURE", "WEBHOOK",
}

// publicAWS are the AWS_* variables that configure the SDK without being secret: their
// values (a region, a profile name) appear in ordinary messages and must stay readable.
var publicAWS = map[string]bool{
	"AWS_REGION": true, "AWS_DEFAULT_REGION": true, "AWS_PROFILE": true, "AWS_DEFAULT_PROFILE": true,
	"AWS_SDK_LOAD_CONFIG": true, "AWS_RETRY_MODE": true, "AWS_MAX_ATTEMPTS": true,
	"AWS_EC2_METADATA_DISABLED": true, "AWS_USE_FIPS_ENDPOINT": true, "AWS_USE_DUALSTACK_ENDPOINT": true,
	"AWS_STS_REGIONAL_ENDPOINTS": true, "AWS_PAGER": true, "AWS_DEFAULT_OUTPUT": true, "AWS_CA_BUNDLE": true,
}

// IsSecretName reports whether the variable name (any case) bears a secret: it contains
// TOKEN, SECRET, PASSWORD, PASSWD, PASSPHRASE, KEY, CREDENTIAL, PRIVATE, DSN, COOKIE,
// SIGNATURE or WEBHOOK, or it starts with AWS_ and is not one of the SDK's public
// settings (region, profile, retry mode...). Names ending in _FILE, _PATH or _DIR hold
// a path to a secret, not the secret, and are not redacted.
func IsSecretName(name string) bool {
	n := strings.ToUpper(name)
	for _, suffix := range []string{"_FILE", "_PATH", "_DIR"} {
		if strings.HasSuffix(n, suffix) {
			return false
		}
	}
	if strings.HasPrefix(n, "AWS_") && !publicAWS[n] && !strings.HasPrefix(n, "AWS_ENDPOINT_URL") {
		return true
	}
	for _, w := range secretWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}
