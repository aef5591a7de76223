package schemas

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/zerodown/zerodown/signing"
)

// MaxSigners bounds canary.approval.signers, with signersFile's keys counted.
const MaxSigners = 200

const (
	signersPath     = "canary.approval.signers"
	signersFilePath = "canary.approval.signersFile"
)

// AllowedSigners are the spec's signers as the verifier takes them. It is pure, so the
// workflow's update validators can call it; a spec that passed validation never fails it.
func (a Approval) AllowedSigners() ([]signing.AllowedSigner, error) {
	out := make([]signing.AllowedSigner, 0, len(a.Signers))
	for i, s := range a.Signers {
		as, err := signing.NewAllowedSigner(s.Name, s.Key, s.Bridge)
		if err != nil {
			return nil, fmt.Errorf("%s[%d]: %w", signersPath, i, err)
		}
		out = append(out, as)
	}
	return out, nil
}

// SignatureRequired reports whether a request for action must be signed: approve and
// promote when requireSignature is set. Abort stays open to anyone (stopping is always
// safe); start, pause and resume may be signed.
func (a Approval) SignatureRequired(action string) bool {
	return a.RequireSignature && (action == signing.ActionApprove || action == signing.ActionPromote)
}

// CheckSignature is the signature policy for one request, for the release's update
// validators: pure, and deterministic given now (workflow.Now). An unsigned request
// passes unless SignatureRequired; a signed one must verify for want against the
// spec's signers (a spec that lists none has nothing to check it against, and takes it as
// unsigned). The zero Verified means the request is unsigned.
func (a Approval) CheckSignature(sig *signing.Signed, want signing.Expected, now time.Time) (signing.Verified, error) {
	if sig == nil {
		if a.SignatureRequired(want.Action) {
			return signing.Verified{}, fmt.Errorf("%s %s must be signed (canary.approval.requireSignature): use zerodown %s --sign KEYFILE, or see docs/approvals.md",
				want.Action, want.Release, want.Action)
		}
		return signing.Verified{}, nil
	}
	if len(a.Signers) == 0 {
		return signing.Verified{}, nil
	}
	allowed, err := a.AllowedSigners()
	if err != nil {
		return signing.Verified{}, err
	}
	return sig.VerifyFor(want, allowed, now)
}

// checkSigners refuses keys that do not parse, naming the entry, and a signature
// requirement no one could meet.
func checkSigners(a Approval, add func(path, format string, args ...any)) {
	if len(a.Signers) > MaxSigners {
		add(signersPath, "lists %d keys, more than %d", len(a.Signers), MaxSigners)
		return
	}
	keyed := map[string]bool{} // names that have a key of their own
	bridged := false
	for i, s := range a.Signers {
		path := joinIndex(signersPath, i)
		if err := signing.CheckName(s.Name); err != nil {
			add(path+".name", "%v", err)
		}
		if _, err := signing.ParsePublicKey(s.Key); err != nil {
			add(path+".key", "%v", err)
		}
		if s.Bridge {
			bridged = true
		} else {
			keyed[strings.ToLower(strings.TrimSpace(s.Name))] = true
		}
	}
	if !a.RequireSignature {
		return
	}
	if len(a.Signers) == 0 && a.SignersFile == "" {
		add("canary.approval.requireSignature", "is set but no key may sign: list them in %s or name an allowed_signers file in %s", signersPath, signersFilePath)
		return
	}
	// Without a bridge, only people with a key of their own can approve.
	if people := a.People(); a.Required && a.SignersFile == "" && !bridged && len(people) > 0 {
		var unkeyed []string
		for _, p := range people {
			if !keyed[strings.ToLower(strings.TrimSpace(p))] {
				unkeyed = append(unkeyed, p)
			}
		}
		if len(people)-len(unkeyed) < a.RequiredApprovals() {
			add("canary.approval.requireSignature", "is set but only %d of the approvers have a key in %s (%s %s none), fewer than the %d approvals each gate needs",
				len(people)-len(unkeyed), signersPath, strings.Join(unkeyed, ", "), plural(len(unkeyed), "has", "have"), a.RequiredApprovals())
		}
	}
}

// checkSignersEmbedded refuses a spec built in code (or sent to the workflow) that still
// names a signers file: only Load reads it, and a release never reads files.
func checkSignersEmbedded(s *Spec) error {
	if s.Canary.Approval.SignersFile == "" {
		return nil
	}
	return &ValidationError{Errors: []FieldError{{Path: signersFilePath,
		Message: "is read only when a spec file is loaded (zerodown validate, plan, start); a spec given as it is must list its keys in " + signersPath}}}
}

// resolveSignersFile reads canary.approval.signersFile (relative to dir, the spec's
// directory) into canary.approval.signers and clears it, then checks the result again.
func resolveSignersFile(s *Spec, dir string) error {
	a := &s.Canary.Approval
	if a.SignersFile == "" {
		return nil
	}
	path := a.SignersFile
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, path)
	}
	fail := func(format string, args ...any) error {
		return &ValidationError{Errors: []FieldError{{Path: signersFilePath, Message: fmt.Sprintf(format, args...)}}}
	}
	data, err := readBounded(osFiles{}, path) // regular files only, at most 1 MiB
	if err != nil {
		return fail("%v", err)
	}
	list, err := signing.ParseAllowedSigners(data)
	if err != nil {
		return fail("%s: %v", a.SignersFile, err)
	}
	if len(list) == 0 {
		return fail("%s lists no key for the namespace %q", a.SignersFile, signing.Namespace)
	}
	if n := len(a.Signers) + len(list); n > MaxSigners {
		return fail("%s brings the signers to %d, more than %d", a.SignersFile, n, MaxSigners)
	}
	for _, as := range list {
		key := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(as.Key)))
		a.Signers = append(a.Signers, Signer{Name: as.Name, Key: key})
	}
	a.SignersFile = ""
	return checkSemantics(s, nil)
}
