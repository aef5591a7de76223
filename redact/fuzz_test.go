package redact_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/redact"
)

// fuzzSecretName is the variable the planted secret comes from.
const fuzzSecretName = "FUZZ_TOKEN"

// FuzzPlantedSecretNeverSurvives plants a secret value and a Slack token in arbitrary
// text: neither may survive redaction, whatever surrounds them, and redaction never
// panics nor turns valid UTF-8 into invalid.
func FuzzPlantedSecretNeverSurvives(f *testing.F) {
	f.Add("hook smoke: exit status 1: token=", "s3cr3t-slack-value", "\nPATH=/usr/bin")
	f.Add("postgres://app:", "pa55word-long", "@db/app")
	f.Add("-----BEGIN RSA PRIVATE KEY-----\n", "MIIEowIBAAKCAQEA", "\n-----END RSA PRIVATE KEY-----")
	f.Add("Authorization: Bearer ", "abcdefgh.ijkl", "")
	f.Add("abab", "ababab", "abab")
	f.Add("xoxb-", "xoxb-123456789", "password=")
	f.Fuzz(func(t *testing.T, prefix, secret, suffix string) {
		if !plantable(secret) {
			return
		}
		r := redact.New(map[string]string{fuzzSecretName: secret})
		in := prefix + secret + suffix
		out := r.String(in)
		require.NotContains(t, out, secret, "in: %q", in)
		if utf8.ValidString(in) {
			require.True(t, utf8.ValidString(out), "in: %q\nout: %q", in, out)
		}

		in = prefix + " " + slackToken + " " + suffix
		out = r.String(in)
		require.NotContains(t, out, slackToken, "in: %q", in)
	})
}

// plantable keeps the secrets a redactor can promise to remove: long enough, printable
// ASCII without blanks and brackets, and not a piece of the marker that replaces it (a
// secret "REDACTED" would "survive" as the marker itself).
func plantable(secret string) bool {
	if len(secret) < redact.MinSecretLength || len(secret) > 256 {
		return false
	}
	for i := range len(secret) {
		c := secret[i]
		if c <= ' ' || c > '~' || c == '[' || c == ']' {
			return false
		}
	}
	return !strings.Contains("[REDACTED:"+fuzzSecretName+"]", secret)
}
