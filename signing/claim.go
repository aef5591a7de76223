// Package signing is approvals signed with SSH keys: a claim ("alice approves release X,
// run Y, at gate Z, until T") signed in the format of `ssh-keygen -Y sign` (SSHSIG) in the
// namespace "zerodown", and its verification against the keys a release spec lists.
//
// Everything here is pure and deterministic (the time is a parameter), so a workflow's
// update validator can call Verify with workflow.Now.
package signing

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Namespace is the SSHSIG namespace of every zerodown signature, so that a signature made
// for git commits or files (other namespaces) is never taken as an approval.
const Namespace = "zerodown"

// MaxValidity is how far ahead a claim may expire: a signature is a short-lived proof of
// one decision, not a standing permission.
const MaxValidity = 24 * time.Hour

// MaxFieldLen bounds each field of a claim.
const MaxFieldLen = 256

// Actions a claim can be made for.
const (
	ActionStart   = "start"
	ActionApprove = "approve"
	ActionPromote = "promote"
	ActionAbort   = "abort"
	ActionPause   = "pause"
	ActionResume  = "resume"
	// ActionOverride lets a release (Release) or a change (its change/<name> ID there)
	// pass a freeze of its environment; the freeze records the signature, the release
	// verifies it against its approval policy.
	ActionOverride = "override"
)

var actions = []string{ActionStart, ActionApprove, ActionPromote, ActionAbort, ActionPause, ActionResume, ActionOverride}

// messageHeader starts every canonical message; the version lets the format change
// without a new message ever reading like an old one.
const messageHeader = "zerodown-approval-v1\n"

// Claim is what a signer asserts: Signer does Action on the release Release (its first
// run RunID) at Gate, and the assertion holds until Expires. RunID is empty for start
// (the run does not exist yet); Gate is empty for actions outside a gate.
type Claim struct {
	Release string    `json:"release"`
	RunID   string    `json:"run"`
	Gate    string    `json:"gate"`
	Action  string    `json:"action"`
	Signer  string    `json:"signer"`
	Expires time.Time `json:"expires"`
}

// Signed is a claim with its armored SSHSIG signature, as a request carries it.
type Signed struct {
	Claim
	Sig string `json:"sig"`
}

// Message is the canonical text that is signed: one "key=value" line per field in a fixed
// order, the expiry in UTC. Validate refuses the characters (newline, '=') that could make
// two claims read alike.
func (c Claim) Message() []byte {
	var b strings.Builder
	b.WriteString(messageHeader)
	for _, f := range c.fields() {
		b.WriteString(f.key)
		b.WriteByte('=')
		b.WriteString(f.value)
		b.WriteByte('\n')
	}
	b.WriteString("expires=")
	b.WriteString(c.Expires.UTC().Format(time.RFC3339Nano))
	b.WriteByte('\n')
	return []byte(b.String())
}

type claimField struct{ key, value string }

// fields are the text fields in message order; the key doubles as the JSON name.
func (c Claim) fields() []claimField {
	return []claimField{{"release", c.Release}, {"run", c.RunID}, {"gate", c.Gate}, {"action", c.Action}, {"signer", c.Signer}}
}

// Validate checks that a claim is well formed: a known action, a release and a signer,
// an expiry, and fields that are short single lines of printable text without '='.
func (c Claim) Validate() error {
	for _, f := range c.fields() {
		if err := checkField(f.key, f.value); err != nil {
			return malformedf("%v", err)
		}
	}
	switch {
	case c.Release == "":
		return malformedf("release is empty")
	case c.Signer == "":
		return malformedf("signer is empty")
	case !contains(actions, c.Action):
		return malformedf("action %q is not one of %s", c.Action, strings.Join(actions, ", "))
	case c.Expires.IsZero():
		return malformedf("expires is not set: a signature must expire")
	}
	return nil
}

func checkField(name, v string) error {
	if len(v) > MaxFieldLen {
		return fmt.Errorf("%s is %d bytes long, more than %d", name, len(v), MaxFieldLen)
	}
	if !utf8.ValidString(v) {
		return fmt.Errorf("%s is not UTF-8 text", name)
	}
	for _, r := range v {
		if r == '=' || unicode.IsControl(r) || (unicode.IsSpace(r) && r != ' ') {
			return fmt.Errorf("%s %q holds %q, which a name or claim field may not", name, v, r)
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// samePerson compares names as schemas.SamePerson does (case and surrounding spaces
// ignored), so that a signature and the approval policy agree on who someone is.
func samePerson(a, b string) bool {
	return strings.EqualFold(strings.TrimSpace(a), strings.TrimSpace(b))
}

// Why a signature is refused; errors wrap one of these (errors.Is) after a sentence that
// says what exactly was wrong.
var (
	ErrTooLarge    = errors.New("signature too large")
	ErrMalformed   = errors.New("malformed signature")
	ErrNamespace   = errors.New("wrong signature namespace")
	ErrMismatch    = errors.New("signature made for something else")
	ErrForged      = errors.New("forged signature")
	ErrExpired     = errors.New("expired signature")
	ErrUnlisted    = errors.New("key not listed")
	ErrWrongSigner = errors.New("key not the signer's")
)

// refusal is a reason (one of the Err values) and what exactly was wrong.
type refusal struct {
	reason error
	detail string
}

func (r *refusal) Error() string { return r.reason.Error() + ": " + r.detail }
func (r *refusal) Unwrap() error { return r.reason }

func refuse(reason error, format string, args ...any) error {
	return &refusal{reason: reason, detail: fmt.Sprintf(format, args...)}
}

func malformedf(format string, args ...any) error { return refuse(ErrMalformed, format, args...) }
