package signing

import (
	"bytes"
	"crypto/rsa"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"
)

// MaxAllowedSignersLen bounds an allowed_signers file; MaxKeyLen one key line.
const (
	MaxAllowedSignersLen = 1 << 20
	MaxKeyLen            = 16 << 10
	minRSABits           = 2048
)

// AllowedSigner is a key trusted to sign for Name. A Bridge key (a chat bridge that
// verified its users itself) is trusted to sign for any name; the approval policy still
// decides whether that name may act.
type AllowedSigner struct {
	Name   string
	Key    ssh.PublicKey
	Bridge bool
}

// Fingerprint is the key's SHA256:… fingerprint, as ssh-keygen -l prints it.
func (a AllowedSigner) Fingerprint() string { return ssh.FingerprintSHA256(a.Key) }

// NewAllowedSigner builds a signer from a name and a key in authorized_keys form
// ("ssh-ed25519 AAAA… comment"), as a release spec lists them.
func NewAllowedSigner(name, key string, bridge bool) (AllowedSigner, error) {
	if err := CheckName(name); err != nil {
		return AllowedSigner{}, err
	}
	pub, err := ParsePublicKey(key)
	if err != nil {
		return AllowedSigner{}, err
	}
	return AllowedSigner{Name: name, Key: pub, Bridge: bridge}, nil
}

// CheckName refuses a name that a claim could not carry: empty, too long, or holding
// control characters or '='.
func CheckName(name string) error {
	if strings.TrimSpace(name) == "" {
		return fmt.Errorf("the name is empty")
	}
	return checkField("name", name)
}

// ParsePublicKey reads one public key in authorized_keys form, without options, and
// refuses the kinds ssh-keygen would not trust for signatures either (DSA, short RSA,
// certificates).
func ParsePublicKey(key string) (ssh.PublicKey, error) {
	if len(key) > MaxKeyLen {
		return nil, fmt.Errorf("the key is %d bytes long, more than %d", len(key), MaxKeyLen)
	}
	if strings.ContainsAny(strings.TrimSpace(key), "\r\n") {
		return nil, fmt.Errorf("holds more than one line; give one key")
	}
	pub, _, options, _, err := ssh.ParseAuthorizedKey([]byte(key))
	if err != nil {
		return nil, fmt.Errorf("is not a public key in authorized_keys form (ssh-ed25519 AAAA… [comment]): %s", keyParseReason(err))
	}
	if len(options) > 0 {
		return nil, fmt.Errorf("has options (%s); give the key alone", strings.Join(options, ","))
	}
	return pub, checkKey(pub)
}

// checkKey refuses keys that ssh-keygen would not trust for signatures either.
func checkKey(pub ssh.PublicKey) error {
	switch pub.Type() {
	case "ssh-dss": // ssh.KeyAlgoDSA, deprecated because DSA is insecure, which is why it is refused
		return fmt.Errorf("DSA keys are too weak; use ed25519")
	case ssh.KeyAlgoRSA:
		if ck, ok := pub.(ssh.CryptoPublicKey); ok {
			if k, ok := ck.CryptoPublicKey().(*rsa.PublicKey); ok && k.N.BitLen() < minRSABits {
				return fmt.Errorf("an RSA key of %d bits is too weak; use ed25519 or RSA of at least %d bits", k.N.BitLen(), minRSABits)
			}
		}
	}
	if _, ok := pub.(*ssh.Certificate); ok {
		return fmt.Errorf("certificates are not supported; give the plain public key")
	}
	return nil
}

// ParseAllowedSigners reads an allowed_signers file as git and ssh-keygen -Y verify use
// it: one key per line, `principal[,principal…] [options] keytype base64 [comment]`,
// blank lines and # comments ignored. Each principal becomes one AllowedSigner.
//
// The option namespaces="…" is honoured: a line whose namespaces leave out zerodown is
// skipped, as ssh-keygen would not accept its key for zerodown either. Options zerodown
// cannot honour (cert-authority, valid-after, valid-before) and principal patterns are
// refused rather than silently widened.
func ParseAllowedSigners(data []byte) ([]AllowedSigner, error) {
	if len(data) > MaxAllowedSignersLen {
		return nil, fmt.Errorf("allowed signers: %d bytes, more than %d", len(data), MaxAllowedSignersLen)
	}
	var out []AllowedSigner
	for i, line := range bytes.Split(data, []byte("\n")) {
		s := strings.TrimSpace(string(line))
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		signers, err := parseAllowedLine(s)
		if err != nil {
			return nil, fmt.Errorf("allowed signers line %d: %w", i+1, err)
		}
		out = append(out, signers...)
	}
	return out, nil
}

func parseAllowedLine(line string) ([]AllowedSigner, error) {
	if len(line) > MaxKeyLen {
		return nil, fmt.Errorf("%d bytes long, more than %d", len(line), MaxKeyLen)
	}
	principals, rest, _ := strings.Cut(line, " ")
	if i := strings.IndexByte(principals, '\t'); i >= 0 {
		principals, rest = line[:i], line[i+1:]
	}
	principals = strings.Trim(principals, `"`)
	pub, _, options, _, err := ssh.ParseAuthorizedKey([]byte(rest))
	if err != nil {
		return nil, fmt.Errorf("no public key after the principals %q: %s", principals, keyParseReason(err))
	}
	if err := checkKey(pub); err != nil {
		return nil, err
	}
	forUs := true
	for _, opt := range options {
		name, value, _ := strings.Cut(opt, "=")
		switch strings.ToLower(name) {
		case "namespaces":
			forUs = namespaceListed(strings.Trim(value, `"`))
		case "cert-authority", "valid-after", "valid-before":
			return nil, fmt.Errorf("option %s is not supported by zerodown; remove it or the line", name)
		default:
			return nil, fmt.Errorf("unknown option %q", opt)
		}
	}
	if !forUs {
		return nil, nil
	}
	var out []AllowedSigner
	for _, p := range strings.Split(principals, ",") {
		if p == "" {
			return nil, fmt.Errorf("an empty principal in %q", principals)
		}
		if strings.ContainsAny(p, "*?!") {
			return nil, fmt.Errorf("principal %q is a pattern; zerodown needs each name written out", p)
		}
		if err := checkField("principal", p); err != nil {
			return nil, err
		}
		out = append(out, AllowedSigner{Name: p, Key: pub})
	}
	return out, nil
}

// namespaceListed reports whether a namespaces="…" list admits Namespace; like
// ssh-keygen's pattern lists it may hold "*".
func namespaceListed(list string) bool {
	for _, ns := range strings.Split(list, ",") {
		if ns = strings.TrimSpace(ns); ns == Namespace || ns == "*" {
			return true
		}
	}
	return false
}

// keyParseReason words x/crypto's parse error without its internals.
func keyParseReason(err error) string {
	msg := strings.TrimPrefix(err.Error(), "ssh: no key found; last parsing error for ignored line: ")
	return strings.TrimPrefix(msg, "ssh: ")
}
