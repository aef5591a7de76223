package redact

import (
	"regexp"
	"strings"
)

// shape is a kind of token recognised by its form. The regexp's first group, when it
// has one, is kept (a "password=" or "Bearer " before the secret), and so is its second
// (the "@" after a URL's userinfo); the rest of the match becomes Marker.
type shape struct {
	name string
	re   *regexp.Regexp
	// hints are lower-case strings one of which every match contains, so that a text
	// without any skips the regexp (Go's regexps are linear but not fast); none always
	// runs it.
	hints []string
}

// shapes are the tokens removed wherever they appear. RE2 guarantees linear time. No
// pattern matches what Marker leaves, so that "password=[REDACTED:DB_PASSWORD]" stays
// as readable as it is.
var shapes = []shape{
	// A PEM private key block, also when a truncated output lost its END line or the
	// text starts within the block.
	{"pem-private-key", regexp.MustCompile(`(?s)-----BEGIN[A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END[A-Z0-9 ]*PRIVATE KEY-----|\z)`), []string{"private key-----"}},
	{"pem-private-key-tail", regexp.MustCompile(`(?:[A-Za-z0-9+/=]{16,}[ \t\r\n]+)*[A-Za-z0-9+/=]*-----END[A-Z0-9 ]*PRIVATE KEY-----`), []string{"private key-----"}},
	// Slack bot, user, app-level and config tokens, and incoming webhooks.
	{"slack-token", regexp.MustCompile(`xox[abposre]-[0-9A-Za-z-]{8,}`), []string{"xox"}},
	{"slack-app-token", regexp.MustCompile(`xapp-[0-9]-[0-9A-Za-z-]{8,}`), []string{"xapp-"}},
	{"slack-webhook", regexp.MustCompile(`hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_-]+`), []string{"hooks.slack.com/"}},
	// AWS access key IDs (long-term AKIA, temporary ASIA).
	{"aws-access-key-id", regexp.MustCompile(`\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z2-7]{16}\b`),
		[]string{"akia", "asia", "agpa", "aida", "aroa", "anpa", "anva", "aipa"}},
	// GitHub personal, OAuth, app and refresh tokens, fine-grained PATs.
	{"github-token", regexp.MustCompile(`\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{20,})`),
		[]string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"}},
	// Google API keys.
	{"google-api-key", regexp.MustCompile(`\bAIza[0-9A-Za-z_-]{35}`), []string{"aiza"}},
	// JSON Web Tokens (Temporal Cloud API keys, OIDC tokens...).
	{"jwt", regexp.MustCompile(`\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}`), []string{"eyj"}},
	// Credentials in a URL: Sentry DSNs (https://<key>@o1.ingest.sentry.io/2), database
	// URLs (postgres://user:password@host/db). The scheme is kept, the userinfo goes.
	{"url-userinfo", regexp.MustCompile(`(?i)(\b[a-z][a-z0-9+.-]{1,20}://)[^\s/?#@\[\]"'<>]+(@)`), []string{"://"}},
	// HTTP authorization headers and bearer tokens.
	{"bearer", regexp.MustCompile(`(?i)(\bbearer[ \t]+)[A-Za-z0-9._~+/-]{8,}=*`), []string{"bearer"}},
	{"authorization", regexp.MustCompile(`(?i)(\b(?:proxy-)?authorization["']?[ \t]*[:=][ \t]*["']?(?:[A-Za-z]+[ \t]+)?)[^\s"'\[\]]{8,}`), []string{"authorization"}},
}

// redactShapes replaces every well-known token shape in s, then the values of
// secret-sounding assignments.
func redactShapes(s string) string {
	lower := strings.ToLower(s)
	for _, sh := range shapes {
		if !containsAny(lower, sh.hints) {
			continue
		}
		if t := replaceKeepingPrefix(sh.re, s); t != s {
			s, lower = t, strings.ToLower(t) // the hints are looked for in the new text
		}
	}
	return redactAssignments(s)
}

func containsAny(s string, subs []string) bool {
	if len(subs) == 0 {
		return true
	}
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// replaceKeepingPrefix replaces each match of re in s by Marker between its first and
// second groups, when it has them.
func replaceKeepingPrefix(re *regexp.Regexp, s string) string {
	switch re.NumSubexp() {
	case 0:
		return re.ReplaceAllLiteralString(s, Marker)
	case 1:
		return re.ReplaceAllString(s, "${1}"+Marker)
	default:
		return re.ReplaceAllString(s, "${1}"+Marker+"${2}")
	}
}
