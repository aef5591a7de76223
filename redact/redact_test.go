package redact_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/redact"
)

// Token-shaped test values are built at run time, so that no scanner mistakes this file
// for a leak.
var (
	slackToken  = "xoxb-" + "1234567890-0987654321-" + strings.Repeat("aB3", 8)
	githubToken = "ghp" + "_" + strings.Repeat("Zz9", 12)
	githubPAT   = "github" + "_pat_" + strings.Repeat("11AB_cd", 6)
	awsKeyID    = "AKIA" + "IOSFODNN7EXAMPLE" // AWS's documented example
	jwt         = "eyJ" + "hbGciOiJIUzI1NiJ9.eyJ" + "zdWIiOiJ6ZXJvZG93biJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
	googleKey   = "AIza" + strings.Repeat("Sy0_-", 7)
	pemKey      = "-----BEGIN OPENSSH " + "PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\nAAAAMwAAAAtzc2gtZWQyNTUxOQAAACDxJ6Vq\n-----END OPENSSH PRIVATE KEY-----"
)

func TestEnvironmentValuesAreRemovedAndNamed(t *testing.T) {
	r := redact.FromEnviron([]string{
		"SLACK_BOT_TOKEN=s3cr3t-slack-value",
		"AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		"TEMPORAL_API_KEY=temporal-api-key-value",
		"DB_PASSWORD=hunter2hunter2",
		"HOME=/home/worker",                  // not secret
		"AWS_REGION=eu-west-1",               // public AWS setting
		"GOOGLE_CREDENTIALS_FILE=/etc/gc.js", // a path to a secret, not one
		"SHORT_TOKEN=abc",                    // too short to redact safely
	})
	require.Equal(t, []string{"AWS_SECRET_ACCESS_KEY", "DB_PASSWORD", "SLACK_BOT_TOKEN", "TEMPORAL_API_KEY"}, r.Names())

	in := "hook smoke: exit status 1: token s3cr3t-slack-value aws wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY " +
		"key temporal-api-key-value db hunter2hunter2 in eu-west-1 from /home/worker abc /etc/gc.js"
	require.Equal(t, "hook smoke: exit status 1: token [REDACTED:SLACK_BOT_TOKEN] aws [REDACTED:AWS_SECRET_ACCESS_KEY] "+
		"key [REDACTED:TEMPORAL_API_KEY] db [REDACTED:DB_PASSWORD] in eu-west-1 from /home/worker abc /etc/gc.js", r.String(in))
}

func TestSecretNames(t *testing.T) {
	for _, name := range []string{"SLACK_BOT_TOKEN", "slack_signing_secret", "TEMPORAL_API_KEY", "TEMPORAL_TLS_CLIENT_KEY_DATA",
		"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID", "AWS_ROLE_ARN", "PGPASSWORD", "SENTRY_DSN",
		"GITHUB_TOKEN", "NPM_CONFIG__AUTH_TOKEN", "DOCKER_CREDENTIALS", "GPG_PASSPHRASE", "SLACK_WEBHOOK_URL"} {
		require.True(t, redact.IsSecretName(name), name)
	}
	for _, name := range []string{"PATH", "HOME", "LANG", "USER", "PWD", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE",
		"AWS_ENDPOINT_URL_EC2", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CA_BUNDLE", "TEMPORAL_TLS_CLIENT_KEY_PATH", "TEMPORAL_ADDRESS", "ZERODOWN_STAGE"} {
		require.False(t, redact.IsSecretName(name), name)
	}
}

func TestTokenShapes(t *testing.T) {
	r := redact.New(nil)
	for _, c := range []struct{ in, want string }{
		{"posting with " + slackToken + " failed", "posting with [REDACTED] failed"},
		{"xapp-1-A0123456789-" + strings.Repeat("f0", 10), "[REDACTED]"},
		{"https://hooks.slack.com/services/T000/B000/" + strings.Repeat("x", 24) + " said 404", "https://[REDACTED] said 404"},
		{"key id " + awsKeyID + ".", "key id [REDACTED]."},
		{"ASIA" + "ZZZZZZZZZZZZZZZZ", "[REDACTED]"},
		{"push with " + githubToken, "push with [REDACTED]"},
		{"GH_TOKEN " + githubPAT, "GH_TOKEN [REDACTED]"},
		{"jwt " + jwt + " expired", "jwt [REDACTED] expired"},
		{"maps " + googleKey, "maps [REDACTED]"},
		{"key:\n" + pemKey + "\nafter", "key:\n[REDACTED]\nafter"},
		// A truncated output that lost either end of the block.
		{"…" + pemKey[40:], "…[REDACTED]"},
		{pemKey[:60], "[REDACTED]"},
		{"sentry https://0123456789abcdef0123456789abcdef@o1.ingest.sentry.io/42", "sentry https://[REDACTED]@o1.ingest.sentry.io/42"},
		{"dial postgres://app:pa55word@db:5432/app failed", "dial postgres://[REDACTED]@db:5432/app failed"},
		{"Authorization: Bearer abcdefghijkl.mnop", "Authorization: Bearer [REDACTED]"},
		{"authorization=Basic dXNlcjpwYXNzd29yZA==", "authorization=Basic [REDACTED]"},
		{"curl -H 'Authorization: token 0123456789abcdef'", "curl -H 'Authorization: token [REDACTED]'"},
		{"password=hunter22 user=bob", "password=[REDACTED] user=bob"},
		{`{"client_secret": "abcdefgh", "name": "x"}`, `{"client_secret": "[REDACTED]", "name": "x"}`},
		{"https://api.example.com/v1?api_key=0123456789&x=1", "https://api.example.com/v1?api_key=[REDACTED]&x=1"},
		{"MY_SERVICE_TOKEN=abcdefghij", "MY_SERVICE_TOKEN=[REDACTED]"},
		{"TOKEN: abcdef123456", "TOKEN: [REDACTED]"},
	} {
		require.Equal(t, c.want, r.String(c.in), c.in)
	}
}

// Ordinary release messages stay as they are: the redactor must not make status and
// Slack unreadable.
func TestOrdinaryTextIsKept(t *testing.T) {
	r := redact.FromEnviron([]string{"AWS_REGION=us-east-1", "HOME=/root", "SLACK_BOT_TOKEN=" + slackToken})
	for _, s := range []string{
		"hook smoke: exit status 1: curl: (7) Failed to connect to 10.0.0.12 port 8080",
		"canary i-0123456789abcdef0 unhealthy: health check GET /healthz answered 503",
		"rolled back: 3 failed checks (p99 latency 312ms > 250ms)",
		"approved by alice: canary looks good; token bucket refilled",
		"instance ip-10-0-0-1.us-east-1.compute.internal is gone",
		"launched ami-0abcdef1234567890 in us-east-1 (key pair zerodown)",
		"password too short", "unexpected token ) at 12",
		"",
	} {
		require.Equal(t, s, r.String(s))
	}
}

func TestMultiLineSecretIsRemovedLineByLine(t *testing.T) {
	key := "-----BEGIN EC " + "PRIVATE KEY-----\nMHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5oYA\noUQDQgAEYP7UuiVanTHJYet0xZ8P6h4pQ3Vk7ZQ2Lc\n-----END EC PRIVATE KEY-----\n"
	r := redact.New(map[string]string{"TEMPORAL_TLS_CLIENT_KEY_DATA": key})
	// The middle of the key alone, as a truncated output could show it.
	out := r.String("tail: oUQDQgAEYP7UuiVanTHJYet0xZ8P6h4pQ3Vk7ZQ2Lc\nexit 1")
	require.Equal(t, "tail: [REDACTED:TEMPORAL_TLS_CLIENT_KEY_DATA]\nexit 1", out)
	require.Equal(t, "k=[REDACTED:TEMPORAL_TLS_CLIENT_KEY_DATA]", r.String("k="+key))
}

// A secret that contains another is removed whole, not in two halves.
func TestLongestSecretWins(t *testing.T) {
	r := redact.New(map[string]string{"A_TOKEN": "abcdefgh", "B_TOKEN": "xxabcdefghyy"})
	require.Equal(t, "[REDACTED:B_TOKEN] [REDACTED:A_TOKEN]", r.String("xxabcdefghyy abcdefgh"))
}

func TestNilRedactorChangesNothing(t *testing.T) {
	var r *redact.Redactor
	require.Equal(t, "password=hunter22", r.String("password=hunter22"))
	require.Nil(t, r.Names())
}

type result struct {
	Message string
	Details []string
	Extra   map[string]any
	Next    *result
	secret  string
	Raw     []byte
	Count   int
}

func TestValueRedactsEveryStringWithoutTouchingTheOriginal(t *testing.T) {
	r := redact.New(map[string]string{"SLACK_BOT_TOKEN": "s3cr3t-slack-value"})
	in := result{
		Message: "posted with s3cr3t-slack-value",
		Details: []string{"fine", "token=s3cr3t-slack-value"},
		Extra:   map[string]any{"why": "s3cr3t-slack-value", "n": 3},
		Next:    &result{Message: "s3cr3t-slack-value"},
		secret:  "s3cr3t-slack-value",
		Raw:     []byte("s3cr3t-slack-value"),
		Count:   7,
	}
	out := r.Value(in).(result)
	require.Equal(t, "posted with [REDACTED:SLACK_BOT_TOKEN]", out.Message)
	require.Equal(t, []string{"fine", "token=[REDACTED:SLACK_BOT_TOKEN]"}, out.Details)
	require.Equal(t, map[string]any{"why": "[REDACTED:SLACK_BOT_TOKEN]", "n": 3}, out.Extra)
	require.Equal(t, "[REDACTED:SLACK_BOT_TOKEN]", out.Next.Message)
	require.Equal(t, 7, out.Count)
	// The original is untouched; what Value does not walk is copied as it is.
	require.Equal(t, "posted with s3cr3t-slack-value", in.Message)
	require.Equal(t, "token=s3cr3t-slack-value", in.Details[1])
	require.Equal(t, "s3cr3t-slack-value", in.Next.Message)
	require.Equal(t, "s3cr3t-slack-value", out.secret)

	require.Equal(t, "[REDACTED:SLACK_BOT_TOKEN]", r.Value("s3cr3t-slack-value"))
	require.Nil(t, r.Value(nil))
	clean := &result{Message: "fine"}
	require.Same(t, clean, r.Value(clean).(*result), "nothing to redact: nothing copied")
}

// One megabyte of near misses (token prefixes, keys without values, a private key that
// never ends) is redacted in one pass: RE2 cannot backtrack, so this cannot blow up.
func TestMegabyteOfNearMisses(t *testing.T) {
	r := redact.FromEnviron([]string{"SLACK_BOT_TOKEN=" + slackToken, "DB_PASSWORD=hunter2hunter2"})
	var b strings.Builder
	chunk := "xoxb- AKIA ghp_ eyJa.eyJ password= token: Bearer https://user@ hunter2hunte " +
		"-----BEGIN RSA PRIVATE KEY----- AAAA=== authorization: \n"
	for b.Len() < 1<<20 {
		b.WriteString(chunk)
	}
	b.WriteString(slackToken + " hunter2hunter2")
	out := r.String(b.String())
	require.NotContains(t, out, slackToken)
	require.NotContains(t, out, "hunter2hunter2")
	// The unterminated block hides everything after its BEGIN: over-redacting is the safe way.
	require.Less(t, len(out), 200)
}

func BenchmarkMegabyteOfLog(b *testing.B) {
	r := redact.FromEnviron([]string{"SLACK_BOT_TOKEN=" + slackToken, "DB_PASSWORD=hunter2hunter2", "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG"})
	var sb strings.Builder
	for sb.Len() < 1<<20 {
		sb.WriteString("time=2026-11-30T12:00:00Z level=INFO msg=\"activity completed\" ActivityType=RunHook Attempt=1 token=abcdefgh12 user=bob\n")
	}
	s := sb.String()
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		r.String(s)
	}
}
