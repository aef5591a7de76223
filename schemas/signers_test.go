package schemas_test

import (
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/signing"
)

// publicKey is a deterministic ed25519 public key in authorized_keys form.
func publicKey(t *testing.T, seed byte) string {
	t.Helper()
	priv := ed25519.NewKeyFromSeed(append(make([]byte, ed25519.SeedSize-1), seed))
	pub, err := ssh.NewPublicKey(priv.Public())
	require.NoError(t, err)
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub)))
}

func signedSpec(signers string) string {
	return base + "canary:\n  approval:\n    required: true\n    approvers: [alice, bob]\n    requireSignature: true\n" + signers
}

func TestSignersLoad(t *testing.T) {
	yaml := signedSpec(fmt.Sprintf("    signers:\n      - {name: alice, key: %q}\n      - {name: bob, key: %q}\n      - {name: slack, key: %q, bridge: true}\n",
		publicKey(t, 1)+" alice@laptop", publicKey(t, 2), publicKey(t, 3)))
	s, err := schemas.Parse([]byte(yaml))
	require.NoError(t, err)
	a := s.Canary.Approval
	require.True(t, a.RequireSignature)
	list, err := a.AllowedSigners()
	require.NoError(t, err)
	require.Len(t, list, 3)
	require.Equal(t, "alice", list[0].Name)
	require.True(t, list[2].Bridge)
	require.NoError(t, schemas.Validate(s), "Parse and Validate agree")
}

func TestInvalidSigners(t *testing.T) {
	alice, bob := publicKey(t, 1), publicKey(t, 2)
	many := "    signers:\n"
	for i := range schemas.MaxSigners + 1 {
		many += fmt.Sprintf("      - {name: p%d, key: %q}\n", i, publicKey(t, byte(i)))
	}
	cases := []struct{ name, yaml, path, msg string }{
		{"bad key", signedSpec(fmt.Sprintf("    signers:\n      - {name: alice, key: %q}\n      - {name: bob, key: \"ssh-ed25519 AAAAnotakey\"}\n", alice)),
			"canary.approval.signers[1].key", "is not a public key in authorized_keys form (ssh-ed25519 AAAA… [comment]): illegal base64 data at input byte 8"},
		{"key with options", signedSpec(fmt.Sprintf("    signers:\n      - {name: alice, key: %q}\n      - {name: bob, key: %q}\n", alice, `command="sh" `+bob)),
			"canary.approval.signers[1].key", `has options (command="sh"); give the key alone`},
		{"name with =", signedSpec(fmt.Sprintf("    signers:\n      - {name: alice, key: %q}\n      - {name: \"bob=x\", key: %q}\n", alice, bob)),
			"canary.approval.signers[1].name", `name "bob=x" holds '=', which a name or claim field may not`},
		{"requireSignature without signers", signedSpec(""),
			"canary.approval.requireSignature", "is set but no key may sign: list them in canary.approval.signers or name an allowed_signers file in canary.approval.signersFile"},
		{"an approver without a key", signedSpec(fmt.Sprintf("    signers:\n      - {name: alice, key: %q}\n    count: 2\n", alice)),
			"canary.approval.requireSignature", "is set but only 1 of the approvers have a key in canary.approval.signers (bob has none), fewer than the 2 approvals each gate needs"},
		{"too many signers", signedSpec(many), "canary.approval.signers", "must have at most 200 items, not 201"},
		{"signer without key", signedSpec("    signers: [{name: alice}]\n"), "canary.approval.signers[0].key", "is required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := schemas.Parse([]byte(tc.yaml))
			var verr *schemas.ValidationError
			require.ErrorAs(t, err, &verr)
			require.Len(t, verr.Errors, 1, "want exactly one error, got:\n%v", err)
			require.Equal(t, tc.path, verr.Errors[0].Path)
			require.Equal(t, tc.msg, verr.Errors[0].Message)
		})
	}
}

// signersFile is read relative to the spec's directory when the spec is loaded, and its
// keys are embedded: the spec a release receives names no file.
func TestSignersFileIsEmbeddedByLoad(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "keys"), 0o755))
	allowed := "# approvers\nalice " + publicKey(t, 1) + "\n" +
		`bob namespaces="git,zerodown" ` + publicKey(t, 2) + "\n" +
		`carol namespaces="git" ` + publicKey(t, 3) + "\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "keys", "allowed_signers"), []byte(allowed), 0o600))
	spec := filepath.Join(dir, "release.yaml")
	require.NoError(t, os.WriteFile(spec, []byte(signedSpec("    signersFile: keys/allowed_signers\n")), 0o600))

	t.Chdir(t.TempDir()) // relative to the spec, not to where zerodown runs
	s, err := schemas.Load(spec)
	require.NoError(t, err)
	a := s.Canary.Approval
	require.Empty(t, a.SignersFile)
	require.Equal(t, []schemas.Signer{{Name: "alice", Key: publicKey(t, 1)}, {Name: "bob", Key: publicKey(t, 2)}}, a.Signers)
	require.NoError(t, schemas.Validate(s))

	// A spec that still names the file (given to the workflow as it is) is refused.
	s.Canary.Approval.SignersFile = "keys/allowed_signers"
	err = schemas.Validate(s)
	require.ErrorContains(t, err, "canary.approval.signersFile: is read only when a spec file is loaded")

	// A missing or wrong file is refused naming the field.
	require.NoError(t, os.WriteFile(spec, []byte(signedSpec("    signersFile: keys/nope\n")), 0o600))
	_, err = schemas.Load(spec)
	require.ErrorContains(t, err, "canary.approval.signersFile: stat ")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "keys", "bad"), []byte("*@corp "+publicKey(t, 1)+"\n"), 0o600))
	require.NoError(t, os.WriteFile(spec, []byte(signedSpec("    signersFile: keys/bad\n")), 0o600))
	_, err = schemas.Load(spec)
	require.ErrorContains(t, err, `canary.approval.signersFile: keys/bad: allowed signers line 1: principal "*@corp" is a pattern`)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "keys", "big"), []byte(strings.Repeat("#", signing.MaxAllowedSignersLen+1)), 0o600))
	require.NoError(t, os.WriteFile(spec, []byte(signedSpec("    signersFile: keys/big\n")), 0o600))
	_, err = schemas.Load(spec)
	require.ErrorContains(t, err, "the file is 1048577 bytes; change and release spec files are at most 1 MiB")
}

// The policy the release's validators apply: approve and promote must be signed when
// required, abort never has to be, and a signed request must verify.
func TestCheckSignature(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	priv := ed25519.NewKeyFromSeed(append(make([]byte, ed25519.SeedSize-1), 1))
	signer, err := ssh.NewSignerFromKey(priv)
	require.NoError(t, err)
	a := schemas.Approval{Required: true, Approvers: []string{"alice"}, RequireSignature: true,
		Signers: []schemas.Signer{{Name: "alice", Key: publicKey(t, 1)}}}
	want := signing.Expected{Release: "release/board/prod", RunID: "r1", Gate: schemas.GateAfterSoak, Action: signing.ActionApprove, Signer: "alice"}
	claim := signing.Claim{Release: want.Release, RunID: want.RunID, Gate: want.Gate, Action: want.Action, Signer: want.Signer, Expires: now.Add(time.Minute)}
	signed, err := signing.SignClaim(signer, claim)
	require.NoError(t, err)

	v, err := a.CheckSignature(&signed, want, now)
	require.NoError(t, err)
	require.Equal(t, "alice", v.Name)

	_, err = a.CheckSignature(nil, want, now)
	require.EqualError(t, err, "approve release/board/prod must be signed (canary.approval.requireSignature): use zerodown approve --sign KEYFILE, or see docs/approvals.md")
	abort := want
	abort.Action = signing.ActionAbort
	v, err = a.CheckSignature(nil, abort, now)
	require.NoError(t, err, "abort stays open to anyone")
	require.Zero(t, v)

	later := want
	later.Gate = schemas.GateBeforeLastBatch
	_, err = a.CheckSignature(&signed, later, now)
	require.ErrorIs(t, err, signing.ErrMismatch)
	_, err = a.CheckSignature(&signed, want, now.Add(2*time.Minute))
	require.ErrorIs(t, err, signing.ErrExpired)

	a.RequireSignature = false
	v, err = a.CheckSignature(nil, want, now)
	require.NoError(t, err)
	require.Zero(t, v)
}
