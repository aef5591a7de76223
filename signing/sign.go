package signing

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// Sign signs c with signer and returns the armored signature, as `ssh-keygen -Y sign -n
// zerodown` would print it for c.Message(). RSA keys sign with rsa-sha2-512: SHA-1
// (ssh-rsa) signatures are refused by Verify and by ssh-keygen.
func Sign(signer ssh.Signer, c Claim) (string, error) {
	if err := c.Validate(); err != nil {
		return "", err
	}
	if err := checkKey(signer.PublicKey()); err != nil {
		return "", err
	}
	data := signedData(Namespace, hashSHA512, c.Message())
	var sig *ssh.Signature
	var err error
	if signer.PublicKey().Type() == ssh.KeyAlgoRSA {
		as, ok := signer.(ssh.AlgorithmSigner)
		if !ok {
			return "", errors.New("this RSA signer cannot make rsa-sha2-512 signatures")
		}
		sig, err = as.SignWithAlgorithm(rand.Reader, data, ssh.KeyAlgoRSASHA512)
	} else {
		sig, err = signer.Sign(rand.Reader, data)
	}
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	return armor((&sshsig{key: signer.PublicKey(), namespace: Namespace, hash: hashSHA512, signature: sig}).marshal()), nil
}

// SignClaim returns c with its signature, ready to send with a request.
func SignClaim(signer ssh.Signer, c Claim) (Signed, error) {
	sig, err := Sign(signer, c)
	if err != nil {
		return Signed{}, err
	}
	return Signed{Claim: c, Sig: sig}, nil
}

// AgentKey names the ssh-agent (at $SSH_AUTH_SOCK) in place of a key file.
const AgentKey = "agent"

// OpenSigner opens what --sign names: AgentKey for the agent's first key; a public key
// file (…pub) for the agent's key that matches it; otherwise an unencrypted OpenSSH
// private key file. Call close when done signing.
func OpenSigner(spec string) (signer ssh.Signer, close func() error, err error) {
	nothing := func() error { return nil }
	if spec == AgentKey {
		return agentSigner(nil)
	}
	data, err := os.ReadFile(spec)
	if err != nil {
		return nil, nothing, err
	}
	if pub, _, _, _, perr := ssh.ParseAuthorizedKey(data); perr == nil {
		return agentSigner(pub)
	}
	s, err := ssh.ParsePrivateKey(data)
	var missing *ssh.PassphraseMissingError
	switch {
	case errors.As(err, &missing):
		return nil, nothing, fmt.Errorf("%s is protected by a passphrase: add it to ssh-agent (ssh-add %s) and sign with --sign %s or --sign %s.pub", spec, spec, AgentKey, spec)
	case err != nil:
		return nil, nothing, fmt.Errorf("%s: not an SSH private key: %w", spec, err)
	}
	return s, nothing, nil
}

// agentSigner is the agent's signer for want, or its first key when want is nil.
func agentSigner(want ssh.PublicKey) (ssh.Signer, func() error, error) {
	nothing := func() error { return nil }
	sock := os.Getenv("SSH_AUTH_SOCK")
	if sock == "" {
		return nil, nothing, errors.New("no ssh-agent: SSH_AUTH_SOCK is not set")
	}
	conn, err := net.Dial("unix", sock)
	if err != nil {
		return nil, nothing, fmt.Errorf("ssh-agent: %w", err)
	}
	signers, err := agent.NewClient(conn).Signers()
	if err != nil {
		conn.Close()
		return nil, nothing, fmt.Errorf("ssh-agent: %w", err)
	}
	for _, s := range signers {
		if want == nil || string(s.PublicKey().Marshal()) == string(want.Marshal()) {
			return s, conn.Close, nil
		}
	}
	conn.Close()
	if want == nil {
		return nil, nothing, errors.New("ssh-agent holds no key: add one with ssh-add")
	}
	return nil, nothing, fmt.Errorf("ssh-agent does not hold the key %s; add it with ssh-add", ssh.FingerprintSHA256(want))
}
