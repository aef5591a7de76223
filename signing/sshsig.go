package signing

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/binary"
	"strings"

	"golang.org/x/crypto/ssh"
)

// The SSHSIG format of `ssh-keygen -Y sign`, as OpenSSH's PROTOCOL.sshsig describes it:
//
//	armored:  -----BEGIN SSH SIGNATURE----- / base64 of the blob / -----END SSH SIGNATURE-----
//	blob:     "SSHSIG" uint32(1) string(public key) string(namespace) string(reserved)
//	          string(hash algorithm) string(signature)
//	signed:   "SSHSIG" string(namespace) string(reserved) string(hash algorithm) string(H(message))

// MaxArmoredLen bounds an armored signature before anything decodes it; an RSA-8192
// signature is about 2.5 KB armored.
const MaxArmoredLen = 8 << 10

const (
	sigMagic     = "SSHSIG"
	sigVersion   = 1
	armorBegin   = "-----BEGIN SSH SIGNATURE-----"
	armorEnd     = "-----END SSH SIGNATURE-----"
	armorColumns = 70 // as ssh-keygen wraps it
	hashSHA512   = "sha512"
	hashSHA256   = "sha256"
)

// sshsig is a decoded signature blob.
type sshsig struct {
	key       ssh.PublicKey
	namespace string
	hash      string
	signature *ssh.Signature
}

// signedData is what the key actually signs for message in namespace.
func signedData(namespace, hash string, message []byte) []byte {
	var digest []byte
	switch hash {
	case hashSHA256:
		d := sha256.Sum256(message)
		digest = d[:]
	default:
		d := sha512.Sum512(message)
		digest = d[:]
	}
	var b bytes.Buffer
	b.WriteString(sigMagic)
	writeString(&b, []byte(namespace))
	writeString(&b, nil) // reserved
	writeString(&b, []byte(hash))
	writeString(&b, digest)
	return b.Bytes()
}

func (s *sshsig) marshal() []byte {
	var b bytes.Buffer
	b.WriteString(sigMagic)
	_ = binary.Write(&b, binary.BigEndian, uint32(sigVersion))
	writeString(&b, s.key.Marshal())
	writeString(&b, []byte(s.namespace))
	writeString(&b, nil)
	writeString(&b, []byte(s.hash))
	writeString(&b, ssh.Marshal(s.signature))
	return b.Bytes()
}

func writeString(b *bytes.Buffer, s []byte) {
	_ = binary.Write(b, binary.BigEndian, uint32(len(s)))
	b.Write(s)
}

// armor wraps a blob as ssh-keygen prints it.
func armor(blob []byte) string {
	enc := base64.StdEncoding.EncodeToString(blob)
	var b strings.Builder
	b.WriteString(armorBegin + "\n")
	for len(enc) > armorColumns {
		b.WriteString(enc[:armorColumns] + "\n")
		enc = enc[armorColumns:]
	}
	b.WriteString(enc + "\n" + armorEnd + "\n")
	return b.String()
}

// parseArmored decodes an armored signature. It refuses anything longer than
// MaxArmoredLen before looking at it.
func parseArmored(armored string) (*sshsig, error) {
	if len(armored) > MaxArmoredLen {
		return nil, refuse(ErrTooLarge, "%d bytes, more than %d", len(armored), MaxArmoredLen)
	}
	text := strings.TrimSpace(strings.ReplaceAll(armored, "\r\n", "\n"))
	body, ok := strings.CutPrefix(text, armorBegin)
	if !ok {
		return nil, malformedf("does not start with %s", armorBegin)
	}
	body, ok = strings.CutSuffix(body, armorEnd)
	if !ok {
		return nil, malformedf("does not end with %s", armorEnd)
	}
	blob, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(body), ""))
	if err != nil {
		return nil, malformedf("its body is not base64")
	}
	return parseBlob(blob)
}

func parseBlob(blob []byte) (*sshsig, error) {
	r := reader{buf: blob}
	if magic := r.bytes(len(sigMagic)); string(magic) != sigMagic {
		return nil, malformedf("not an SSHSIG blob")
	}
	if v := r.uint32(); !r.failed && v != sigVersion {
		return nil, malformedf("SSHSIG version %d, only %d is known", v, sigVersion)
	}
	keyBytes := r.string()
	namespace := r.string()
	reserved := r.string()
	hash := r.string()
	sigBytes := r.string()
	if r.failed {
		return nil, malformedf("the SSHSIG blob is truncated")
	}
	if len(reserved) != 0 {
		// ssh-keygen writes it empty and never signs it: refused, so one claim has one blob.
		return nil, malformedf("the reserved field of the SSHSIG blob is not empty")
	}
	if len(r.buf) != 0 {
		return nil, malformedf("%d stray bytes after the SSHSIG blob", len(r.buf))
	}
	key, err := ssh.ParsePublicKey(keyBytes)
	if err != nil {
		return nil, malformedf("its public key does not parse: %v", err)
	}
	if h := string(hash); h != hashSHA512 && h != hashSHA256 {
		return nil, malformedf("hash algorithm %q is neither sha512 nor sha256", h)
	}
	sig := new(ssh.Signature)
	if err := ssh.Unmarshal(sigBytes, sig); err != nil {
		return nil, malformedf("its signature does not parse: %v", err)
	}
	return &sshsig{key: key, namespace: string(namespace), hash: string(hash), signature: sig}, nil
}

// reader reads SSH wire types; after the first short read, failed is set and every
// later read returns nothing.
type reader struct {
	buf    []byte
	failed bool
}

func (r *reader) bytes(n int) []byte {
	if r.failed || n < 0 || n > len(r.buf) {
		r.failed = true
		return nil
	}
	out := r.buf[:n]
	r.buf = r.buf[n:]
	return out
}

func (r *reader) uint32() uint32 {
	b := r.bytes(4)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint32(b)
}

func (r *reader) string() []byte {
	n := r.uint32()
	if uint64(n) > uint64(len(r.buf)) {
		r.failed = true
	}
	return r.bytes(int(n))
}
