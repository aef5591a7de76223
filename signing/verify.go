package signing

import (
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// Verified is who a valid signature proves acted.
type Verified struct {
	// Name is the signer: as the spec lists them for their own key, as the claim names
	// them for a bridge's.
	Name string `json:"name"`
	// Fingerprint is the SHA256:… fingerprint of the key that signed.
	Fingerprint string `json:"fingerprint"`
	// Via is the name of the bridge key that signed on Name's behalf; empty when Name's
	// own key signed.
	Via string `json:"via,omitempty"`
}

// String is how status, the timeline and Slack show the signer:
// "alice (verified, SHA256:…)" or "alice (verified by slack-bridge, SHA256:…)".
func (v Verified) String() string {
	if v.Via != "" {
		return fmt.Sprintf("%s (verified by %s, %s)", v.Name, v.Via, v.Fingerprint)
	}
	return fmt.Sprintf("%s (verified, %s)", v.Name, v.Fingerprint)
}

// SameSigner reports whether two verified signatures come from one person, for four-eyes:
// the same name, or the same personal key under any name. A bridge key signs for many
// people, so two bridge signatures are one person only when their names are.
func (v Verified) SameSigner(o Verified) bool {
	if samePerson(v.Name, o.Name) {
		return true
	}
	return v.Via == "" && o.Via == "" && v.Fingerprint == o.Fingerprint
}

// Expected is what the verifier knows of a request without trusting it: which release,
// run, gate and action it is for, and who it says acts.
type Expected struct {
	Release, RunID, Gate, Action, Signer string
}

// VerifyFor checks a signed request: its claim must be for want, field by field (a
// signature replayed from another release, run, gate or action is refused naming the
// field), then Verify checks the signature itself.
func (s Signed) VerifyFor(want Expected, allowed []AllowedSigner, now time.Time) (Verified, error) {
	if len(s.Sig) > MaxArmoredLen {
		return Verified{}, refuse(ErrTooLarge, "%d bytes, more than %d", len(s.Sig), MaxArmoredLen)
	}
	got := s.Claim
	for _, f := range []struct{ name, got, want string }{
		{"release", got.Release, want.Release},
		{"run", got.RunID, want.RunID},
		{"gate", got.Gate, want.Gate},
		{"action", got.Action, want.Action},
	} {
		if f.got != f.want {
			return Verified{}, refuse(ErrMismatch, "signed for %s %s, not %s", f.name, quoteOrNone(f.got), quoteOrNone(f.want))
		}
	}
	if !samePerson(got.Signer, want.Signer) {
		return Verified{}, refuse(ErrMismatch, "signed by %s, but the request is made by %s", quoteOrNone(got.Signer), quoteOrNone(want.Signer))
	}
	return Verify(s.Sig, s.Claim, allowed, now)
}

func quoteOrNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return fmt.Sprintf("%q", s)
}

// Verify checks that armored is an SSHSIG signature, in namespace zerodown, of
// c.Message() by a key of allowed that may sign for c.Signer, and that c has not expired
// at now nor expires more than MaxValidity after it. It is pure: the same input gives the
// same answer. The error says why a signature is refused and wraps one of the Err values.
func Verify(armored string, c Claim, allowed []AllowedSigner, now time.Time) (Verified, error) {
	sig, err := parseArmored(armored) // bounded before it decodes anything
	if err != nil {
		return Verified{}, err
	}
	if err := c.Validate(); err != nil {
		return Verified{}, err
	}
	if sig.namespace != Namespace {
		return Verified{}, refuse(ErrNamespace, "made for namespace %q, not %q (sign with ssh-keygen -Y sign -n %s)", sig.namespace, Namespace, Namespace)
	}
	fp := ssh.FingerprintSHA256(sig.key)
	// Only keys the spec lists are worth the cryptography.
	var owners []AllowedSigner
	keyBytes := string(sig.key.Marshal())
	for _, a := range allowed {
		if a.Key != nil && string(a.Key.Marshal()) == keyBytes {
			owners = append(owners, a)
		}
	}
	if len(owners) == 0 {
		return Verified{}, refuse(ErrUnlisted, "key %s is not one of the spec's signers (canary.approval.signers)", fp)
	}
	if err := checkSignatureAlgorithm(sig); err != nil {
		return Verified{}, err
	}
	if err := sig.key.Verify(signedData(sig.namespace, sig.hash, c.Message()), sig.signature); err != nil {
		return Verified{}, refuse(ErrForged, "key %s did not sign this claim (%s %s at gate %s of run %s, by %s): the signature is forged or was made for other words",
			fp, c.Action, c.Release, quoteOrNone(c.Gate), quoteOrNone(c.RunID), c.Signer)
	}
	v, ok := verifiedSigner(owners, c.Signer, fp)
	if !ok {
		return Verified{}, refuse(ErrWrongSigner, "key %s belongs to %s, not %s", fp, ownerNames(owners), c.Signer)
	}
	switch {
	case now.After(c.Expires):
		return Verified{}, refuse(ErrExpired, "expired at %s, %s ago", c.Expires.UTC().Format(time.RFC3339), now.Sub(c.Expires).Round(time.Second))
	case c.Expires.Sub(now) > MaxValidity:
		return Verified{}, refuse(ErrExpired, "expires at %s, more than %s ahead; sign for a shorter time", c.Expires.UTC().Format(time.RFC3339), MaxValidity)
	}
	return v, nil
}

// checkSignatureAlgorithm refuses SHA-1 RSA signatures (ssh-rsa), as ssh-keygen does.
func checkSignatureAlgorithm(sig *sshsig) error {
	if sig.key.Type() == ssh.KeyAlgoRSA && sig.signature.Format == ssh.KeyAlgoRSA {
		return malformedf("an RSA signature with SHA-1 (ssh-rsa); sign with rsa-sha2-512")
	}
	return nil
}

// verifiedSigner picks the entry that lets the key sign for name: the name's own entry
// first, else a bridge's.
func verifiedSigner(owners []AllowedSigner, name, fp string) (Verified, bool) {
	for _, a := range owners {
		if !a.Bridge && samePerson(a.Name, name) {
			return Verified{Name: a.Name, Fingerprint: fp}, true // the spec's spelling
		}
	}
	for _, a := range owners {
		if a.Bridge {
			return Verified{Name: name, Fingerprint: fp, Via: a.Name}, true
		}
	}
	return Verified{}, false
}

func ownerNames(owners []AllowedSigner) string {
	names := make([]string, len(owners))
	for i, a := range owners {
		names[i] = a.Name
	}
	return strings.Join(names, ", ")
}
