package signing_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/signing"
)

// One allowed_signers file serves ssh-keygen -Y verify and zerodown alike: the same lines
// give the same verdicts.
func TestAllowedSignersAsSSHKeygenReadsThem(t *testing.T) {
	alice, bob, gitOnly := newKey(t, "ed25519"), newKey(t, "ecdsa"), newKey(t, "ed25519")
	file := strings.Join([]string{
		"# people who may approve releases",
		"",
		"alice,alice@example.com " + alice.public,
		`bob namespaces="git,zerodown" ` + bob.public,
		`carol namespaces="git" ` + gitOnly.public, // her key signs commits, not releases
	}, "\n") + "\n"

	list, err := signing.ParseAllowedSigners([]byte(file))
	require.NoError(t, err)
	names := make([]string, len(list))
	for i, a := range list {
		names[i] = a.Name
	}
	require.Equal(t, []string{"alice", "alice@example.com", "bob"}, names)

	for _, tc := range []struct {
		signer string
		k      key
		ok     bool
	}{{"alice", alice, true}, {"alice@example.com", alice, true}, {"bob", bob, true}, {"carol", gitOnly, false}} {
		c := baseClaim()
		c.Signer = tc.signer
		sig := keygenSign(t, tc.k, signing.Namespace, c.Message())
		_, err := signing.Verify(sig, c, list, now)
		keygenErr := keygenVerify(t, file, tc.signer, sig, c.Message())
		if tc.ok {
			require.NoError(t, err, tc.signer)
			require.NoError(t, keygenErr, tc.signer)
		} else {
			require.ErrorIs(t, err, signing.ErrUnlisted, tc.signer)
			require.Error(t, keygenErr, "ssh-keygen must refuse %s too", tc.signer)
		}
	}
}

func TestAllowedSignersRefuses(t *testing.T) {
	k := newKey(t, "ed25519")
	for _, tc := range []struct{ line, says string }{
		{"*@example.com " + k.public, `line 1: principal "*@example.com" is a pattern`},
		{"alice cert-authority " + k.public, "line 1: option cert-authority is not supported"},
		{`alice valid-before="20270101" ` + k.public, "line 1: option valid-before is not supported"},
		{"alice", `line 1: no public key after the principals "alice"`},
		{"alice,, " + k.public, "line 1: an empty principal"},
		{"alice ssh-ed25519 AAAAnotakey", "line 1: no public key"},
	} {
		_, err := signing.ParseAllowedSigners([]byte(tc.line))
		require.ErrorContains(t, err, tc.says, tc.line)
	}
	_, err := signing.ParseAllowedSigners([]byte(strings.Repeat("#", signing.MaxAllowedSignersLen+1)))
	require.ErrorContains(t, err, "more than 1048576")
}

func TestNewAllowedSignerRefusesWeakOrOddKeys(t *testing.T) {
	small := newKey(t, "rsa", "-b", "1024")
	for _, tc := range []struct{ name, key, says string }{
		{"alice", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5", "is not a public key in authorized_keys form"},
		{"alice", small.public, "an RSA key of 1024 bits is too weak"},
		{"alice", `command="true" ` + newKey(t, "ed25519").public, "has options"},
		{"alice", newKey(t, "ed25519").public + "\n" + newKey(t, "ed25519").public, "holds more than one line"},
		{"al=ice", newKey(t, "ed25519").public, "may not"},
		{" ", newKey(t, "ed25519").public, "the name is empty"},
	} {
		_, err := signing.NewAllowedSigner(tc.name, tc.key, false)
		require.ErrorContains(t, err, tc.says, tc.key)
	}
}

// --sign agent and --sign KEY.pub sign with the real ssh-agent's key; ssh-keygen agrees
// with the result.
func TestOpenSignerUsesSSHAgent(t *testing.T) {
	agentBin, err := exec.LookPath("ssh-agent")
	require.NoError(t, err, "ssh-agent is not installed (apt-get install openssh-client, or make ssh-keygen)")
	k := newKey(t, "ed25519")
	sock := filepath.Join(t.TempDir(), "agent.sock")
	agentCmd := exec.Command(agentBin, "-D", "-a", sock)
	require.NoError(t, agentCmd.Start())
	t.Cleanup(func() { _ = agentCmd.Process.Kill(); _ = agentCmd.Wait() })
	t.Setenv("SSH_AUTH_SOCK", sock)
	require.Eventually(t, func() bool { _, err := os.Stat(sock); return err == nil }, 30*time.Second, 50*time.Millisecond, "ssh-agent never listened")
	out, err := exec.Command("ssh-add", k.private).CombinedOutput()
	require.NoError(t, err, "ssh-add: %s", out)

	for _, spec := range []string{signing.AgentKey, k.private + ".pub"} {
		signer, closeSigner, err := signing.OpenSigner(spec)
		require.NoError(t, err, spec)
		c := baseClaim()
		sig, err := signing.Sign(signer, c)
		require.NoError(t, closeSigner())
		require.NoError(t, err)
		require.NoError(t, keygenVerify(t, "alice "+k.public+"\n", "alice", sig, c.Message()), spec)
	}

	_, _, err = signing.OpenSigner(newKey(t, "ed25519").private + ".pub")
	require.ErrorContains(t, err, "ssh-agent does not hold the key")
}

func TestOpenSignerExplainsPassphraseKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "id_locked")
	out, err := exec.Command(sshKeygen(t), "-q", "-t", "ed25519", "-N", "secret words", "-f", path).CombinedOutput()
	require.NoError(t, err, "%s", out)
	_, _, err = signing.OpenSigner(path)
	require.ErrorContains(t, err, "is protected by a passphrase: add it to ssh-agent")
}
