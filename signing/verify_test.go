package signing_test

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/signing"
)

// A signature made by ssh-keygen itself over the canonical message is accepted, for each
// kind of key people have, and names the signer and the fingerprint ssh-keygen shows.
func TestVerifyAcceptsSSHKeygenSignatures(t *testing.T) {
	for _, typ := range []struct {
		name  string
		extra []string
	}{{"ed25519", nil}, {"ecdsa", []string{"-b", "256"}}, {"rsa", []string{"-b", "3072"}}} {
		t.Run(typ.name, func(t *testing.T) {
			k := newKey(t, typ.name, typ.extra...)
			c := baseClaim()
			sig := keygenSign(t, k, signing.Namespace, c.Message())
			require.Contains(t, sig, "-----BEGIN SSH SIGNATURE-----")

			v, err := signing.Signed{Claim: c, Sig: sig}.VerifyFor(expectedOf(c), []signing.AllowedSigner{allowed(t, "alice", k)}, now)
			require.NoError(t, err)
			require.Equal(t, "alice", v.Name)
			require.Equal(t, fingerprint(t, k), v.Fingerprint)
			require.Equal(t, "alice (verified, "+fingerprint(t, k)+")", v.String())
		})
	}
}

// ssh-keygen -Y verify accepts what Sign makes, from a key file and for RSA too; and it
// refuses it for another message, so the check is real.
func TestSSHKeygenVerifiesSign(t *testing.T) {
	for _, typ := range []struct {
		name  string
		extra []string
	}{{"ed25519", nil}, {"rsa", []string{"-b", "3072"}}, {"ecdsa", []string{"-b", "384"}}} {
		t.Run(typ.name, func(t *testing.T) {
			k := newKey(t, typ.name, typ.extra...)
			signer, closeSigner, err := signing.OpenSigner(k.private)
			require.NoError(t, err)
			defer closeSigner()
			c := baseClaim()
			sig, err := signing.Sign(signer, c)
			require.NoError(t, err)

			list := "alice namespaces=\"zerodown\" " + k.public + "\n"
			require.NoError(t, keygenVerify(t, list, "alice", sig, c.Message()))
			other := c
			other.Gate = "beforeLastBatch"
			require.Error(t, keygenVerify(t, list, "alice", sig, other.Message()))

			_, err = signing.Verify(sig, c, []signing.AllowedSigner{allowed(t, "alice", k)}, now)
			require.NoError(t, err)
		})
	}
}

// Every way a signature can be wrong is refused with its own reason, in words that say
// what was wrong.
func TestVerifyRefuses(t *testing.T) {
	alice, bob, mallory := newKey(t, "ed25519"), newKey(t, "ed25519"), newKey(t, "ed25519")
	signers := []signing.AllowedSigner{allowed(t, "alice", alice), allowed(t, "bob", bob)}
	good := baseClaim()
	goodSig := keygenSign(t, alice, signing.Namespace, good.Message())
	signed := signing.Signed{Claim: good, Sig: goodSig}
	_, err := signed.VerifyFor(expectedOf(good), signers, now)
	require.NoError(t, err, "the genuine signature must pass, or the refusals below prove nothing")

	with := func(edit func(*signing.Claim)) signing.Claim {
		c := good
		edit(&c)
		return c
	}
	// A genuine signature replayed to a request it was not made for.
	replays := []struct {
		name string
		want signing.Expected
		says string
	}{
		{"other release", expectedOf(with(func(c *signing.Claim) { c.Release = "release/board/staging" })), `signed for release "release/board/prod", not "release/board/staging"`},
		{"other run", expectedOf(with(func(c *signing.Claim) { c.RunID = "0196f1a2-run-2" })), `signed for run "0196f1a2-run-1", not "0196f1a2-run-2"`},
		{"other gate", expectedOf(with(func(c *signing.Claim) { c.Gate = "beforeLastBatch" })), `signed for gate "afterSoak", not "beforeLastBatch"`},
		{"other action", expectedOf(with(func(c *signing.Claim) { c.Action = signing.ActionPromote })), `signed for action "approve", not "promote"`},
		{"other requester", expectedOf(with(func(c *signing.Claim) { c.Signer = "bob" })), `signed by "alice", but the request is made by "bob"`},
	}
	for _, r := range replays {
		t.Run("replayed to "+r.name, func(t *testing.T) {
			_, err := signed.VerifyFor(r.want, signers, now)
			require.ErrorIs(t, err, signing.ErrMismatch)
			require.ErrorContains(t, err, r.says)
		})
	}

	// A claim edited after signing, sent with the genuine signature and matching request.
	edits := []struct {
		name string
		c    signing.Claim
	}{
		{"release", with(func(c *signing.Claim) { c.Release = "release/board/staging" })},
		{"run", with(func(c *signing.Claim) { c.RunID = "0196f1a2-run-2" })},
		{"gate", with(func(c *signing.Claim) { c.Gate = "beforeLastBatch" })},
		{"action", with(func(c *signing.Claim) { c.Action = signing.ActionPromote })},
		{"expiry", with(func(c *signing.Claim) { c.Expires = c.Expires.Add(time.Hour) })},
		{"signer", with(func(c *signing.Claim) { c.Signer = "bob" })},
	}
	for _, e := range edits {
		t.Run("edited "+e.name, func(t *testing.T) {
			_, err := signing.Signed{Claim: e.c, Sig: goodSig}.VerifyFor(expectedOf(e.c), signers, now)
			require.ErrorIs(t, err, signing.ErrForged)
			require.ErrorContains(t, err, "did not sign this claim")
		})
	}

	refusals := []struct {
		name   string
		sig    string
		c      signing.Claim
		at     time.Time
		reason error
		says   string
	}{
		{"forged by another key", keygenSign(t, mallory, signing.Namespace, good.Message()), good, now, signing.ErrUnlisted,
			"key " + fingerprint(t, mallory) + " is not one of the spec's signers"},
		{"bob's key signing as alice", keygenSign(t, bob, signing.Namespace, good.Message()), good, now, signing.ErrWrongSigner,
			"key " + fingerprint(t, bob) + " belongs to bob, not alice"},
		{"expired", goodSig, good, good.Expires.Add(time.Second), signing.ErrExpired, "expired at 2026-11-30T13:00:00Z, 1s ago"},
		{"expires too far ahead", keygenSign(t, alice, signing.Namespace, with(func(c *signing.Claim) { c.Expires = now.Add(25 * time.Hour) }).Message()),
			with(func(c *signing.Claim) { c.Expires = now.Add(25 * time.Hour) }), now, signing.ErrExpired, "more than 24h0m0s ahead"},
		{"namespace of git", keygenSign(t, alice, "git", good.Message()), good, now, signing.ErrNamespace, `made for namespace "git", not "zerodown"`},
		{"flipped signature byte", flipLastSignatureByte(t, goodSig), good, now, signing.ErrForged, "did not sign this claim"},
		{"not armored", "alice says yes", good, now, signing.ErrMalformed, "does not start with -----BEGIN SSH SIGNATURE-----"},
		{"truncated", truncate(t, goodSig), good, now, signing.ErrMalformed, "truncated"},
		{"too large", strings.Repeat("A", signing.MaxArmoredLen+1), good, now, signing.ErrTooLarge, "more than 8192"},
		{"newline injected into the gate", goodSig, with(func(c *signing.Claim) { c.Gate = "afterSoak\naction=promote" }), now, signing.ErrMalformed, "which a name or claim field may not"},
		{"= in the signer", goodSig, with(func(c *signing.Claim) { c.Signer = "alice=bob" }), now, signing.ErrMalformed, "which a name or claim field may not"},
		{"no expiry", goodSig, with(func(c *signing.Claim) { c.Expires = time.Time{} }), now, signing.ErrMalformed, "a signature must expire"},
	}
	for _, r := range refusals {
		t.Run(r.name, func(t *testing.T) {
			_, err := signing.Verify(r.sig, r.c, signers, r.at)
			require.ErrorIs(t, err, r.reason)
			require.ErrorContains(t, err, r.says)
		})
	}
}

// A bridge's key signs for the people it verified; its signatures say so, and four-eyes
// tells people apart by name through a bridge and by key otherwise.
func TestBridgeSignsForItsUsers(t *testing.T) {
	bridgeKey, alice := newKey(t, "ed25519"), newKey(t, "ed25519")
	bridge, err := signing.NewAllowedSigner("slack-bridge", bridgeKey.public, true)
	require.NoError(t, err)
	signers := []signing.AllowedSigner{bridge, allowed(t, "alice", alice)}

	c := baseClaim()
	c.Signer = "carol"
	viaBridge, err := signing.Verify(keygenSign(t, bridgeKey, signing.Namespace, c.Message()), c, signers, now)
	require.NoError(t, err)
	require.Equal(t, "carol (verified by slack-bridge, "+fingerprint(t, bridgeKey)+")", viaBridge.String())

	// alice's own key may not sign for carol: only a bridge speaks for others.
	_, err = signing.Verify(keygenSign(t, alice, signing.Namespace, c.Message()), c, signers, now)
	require.ErrorIs(t, err, signing.ErrWrongSigner)

	own, err := signing.Verify(keygenSign(t, alice, signing.Namespace, baseClaim().Message()), baseClaim(), signers, now)
	require.NoError(t, err)
	aliceViaBridge := signing.Verified{Name: "Alice", Fingerprint: viaBridge.Fingerprint, Via: "slack-bridge"}
	require.True(t, own.SameSigner(aliceViaBridge), "alice is alice, with her key or through the bridge")
	require.False(t, viaBridge.SameSigner(aliceViaBridge), "the bridge's key alone does not make carol alice")
	require.True(t, own.SameSigner(signing.Verified{Name: "ci", Fingerprint: own.Fingerprint}), "alice's key under another name is still alice")
}

// flipLastSignatureByte changes one byte of the signature proper (the blob's end) and
// armors it again.
func flipLastSignatureByte(t *testing.T, armored string) string {
	t.Helper()
	blob := decode(t, armored)
	blob[len(blob)-1] ^= 1
	return rearmor(blob)
}

func truncate(t *testing.T, armored string) string {
	t.Helper()
	blob := decode(t, armored)
	return rearmor(blob[:len(blob)-10])
}

func decode(t *testing.T, armored string) []byte {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(armored), "\n")
	blob, err := base64.StdEncoding.DecodeString(strings.Join(lines[1:len(lines)-1], ""))
	require.NoError(t, err)
	return blob
}

func rearmor(blob []byte) string {
	return "-----BEGIN SSH SIGNATURE-----\n" + base64.StdEncoding.EncodeToString(blob) + "\n-----END SSH SIGNATURE-----\n"
}

// The blob's reserved field is empty in every signature ssh-keygen makes and is not
// signed; a blob that fills it is refused, so that one claim has one signature blob.
func TestVerifyRefusesAFilledReservedField(t *testing.T) {
	k := newKey(t, "ed25519")
	c := baseClaim()
	blob := decode(t, keygenSign(t, k, signing.Namespace, c.Message()))
	// magic, version, then four strings: key, namespace, reserved, hash, signature.
	off := 6 + 4
	next := func() (int, int) { // start and end of the string at off
		n := int(blob[off])<<24 | int(blob[off+1])<<16 | int(blob[off+2])<<8 | int(blob[off+3])
		return off, off + 4 + n
	}
	_, end := next() // key
	off = end
	_, end = next() // namespace
	off = end
	start, end := next() // reserved
	require.Equal(t, 4, end-start, "ssh-keygen writes an empty reserved field")
	filled := append(append(append([]byte{}, blob[:start]...), 0, 0, 0, 1, 'x'), blob[end:]...)

	_, err := signing.Verify(rearmor(filled), c, []signing.AllowedSigner{allowed(t, "alice", k)}, now)
	require.ErrorIs(t, err, signing.ErrMalformed)
	require.ErrorContains(t, err, "the reserved field of the SSHSIG blob is not empty")
	_, err = signing.Verify(rearmor(blob), c, []signing.AllowedSigner{allowed(t, "alice", k)}, now)
	require.NoError(t, err, "the same blob with the field empty is accepted")
}

func BenchmarkVerify(b *testing.B) {
	for _, typ := range []string{"ed25519", "rsa"} {
		b.Run(typ, func(b *testing.B) {
			k := newKey(b, typ)
			c := baseClaim()
			sig := keygenSign(b, k, signing.Namespace, c.Message())
			a, err := signing.NewAllowedSigner("alice", k.public, false)
			require.NoError(b, err)
			list := []signing.AllowedSigner{a}
			for b.Loop() {
				if _, err := signing.Verify(sig, c, list, now); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(sig)), "sig-bytes")
		})
	}
}
