package signing_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/zerodown/zerodown/signing"
)

// now is the verifier's clock in these tests.
var now = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

func baseClaim() signing.Claim {
	return signing.Claim{
		Release: "release/board/prod", RunID: "0196f1a2-run-1", Gate: "afterSoak",
		Action: signing.ActionApprove, Signer: "alice", Expires: now.Add(time.Hour),
	}
}

func expectedOf(c signing.Claim) signing.Expected {
	return signing.Expected{Release: c.Release, RunID: c.RunID, Gate: c.Gate, Action: c.Action, Signer: c.Signer}
}

// key is a key pair made by the real ssh-keygen.
type key struct {
	private string // path of the private key file
	public  string // the public key line, authorized_keys form
	pub     ssh.PublicKey
}

func sshKeygen(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("ssh-keygen")
	if err != nil {
		// The real tool is the point of these tests: missing, it fails them (make ssh-keygen installs it).
		t.Fatalf("ssh-keygen is not installed (apt-get install openssh-client, or make ssh-keygen): %v", err)
	}
	return path
}

// newKey runs ssh-keygen -t typ (with extra arguments such as -b 3072) without passphrase.
func newKey(t testing.TB, typ string, extra ...string) key {
	t.Helper()
	path := filepath.Join(t.TempDir(), "id_"+typ)
	args := append([]string{"-q", "-t", typ, "-N", "", "-C", typ + "@test", "-f", path}, extra...)
	out, err := exec.Command(sshKeygen(t), args...).CombinedOutput()
	require.NoError(t, err, "ssh-keygen: %s", out)
	line, err := os.ReadFile(path + ".pub")
	require.NoError(t, err)
	pub, _, _, _, err := ssh.ParseAuthorizedKey(line)
	require.NoError(t, err)
	return key{private: path, public: strings.TrimSpace(string(line)), pub: pub}
}

// keygenSign signs message with ssh-keygen -Y sign in namespace and returns the armored
// signature.
func keygenSign(t testing.TB, k key, namespace string, message []byte) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "message")
	require.NoError(t, os.WriteFile(file, message, 0o600))
	out, err := exec.Command(sshKeygen(t), "-Y", "sign", "-n", namespace, "-f", k.private, file).CombinedOutput()
	require.NoError(t, err, "ssh-keygen -Y sign: %s", out)
	sig, err := os.ReadFile(file + ".sig")
	require.NoError(t, err)
	return string(sig)
}

// keygenVerify runs ssh-keygen -Y verify of sig over message for principal against an
// allowed_signers file; nil means ssh-keygen accepted it.
func keygenVerify(t *testing.T, allowedSigners, principal, sig string, message []byte) error {
	t.Helper()
	dir := t.TempDir()
	allowed := filepath.Join(dir, "allowed_signers")
	sigFile := filepath.Join(dir, "message.sig")
	require.NoError(t, os.WriteFile(allowed, []byte(allowedSigners), 0o600))
	require.NoError(t, os.WriteFile(sigFile, []byte(sig), 0o600))
	cmd := exec.Command(sshKeygen(t), "-Y", "verify", "-f", allowed, "-I", principal, "-n", signing.Namespace, "-s", sigFile)
	cmd.Stdin = bytes.NewReader(message)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return &keygenError{err: err, out: string(out)}
	}
	return nil
}

type keygenError struct {
	err error
	out string
}

func (e *keygenError) Error() string { return e.err.Error() + ": " + e.out }

// fingerprint is what ssh-keygen -l prints for a key.
func fingerprint(t *testing.T, k key) string {
	t.Helper()
	out, err := exec.Command(sshKeygen(t), "-l", "-f", k.private+".pub").CombinedOutput()
	require.NoError(t, err, "%s", out)
	return strings.Fields(string(out))[1]
}

func allowed(t *testing.T, name string, k key) signing.AllowedSigner {
	t.Helper()
	a, err := signing.NewAllowedSigner(name, k.public, false)
	require.NoError(t, err)
	return a
}
