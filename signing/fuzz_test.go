package signing_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/zerodown/zerodown/signing"
)

// FuzzVerify mutates a genuine signature and its claim: Verify never panics, and it
// accepts only the claim that was signed, with the very signature blob that was made
// (an ed25519 signature has exactly one valid encoding, so any accepted mutation would be
// a forgery).
func FuzzVerify(f *testing.F) {
	signer, err := ssh.NewSignerFromKey(ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)))
	require.NoError(f, err)
	list := []signing.AllowedSigner{{Name: "alice", Key: signer.PublicKey()}}
	good := baseClaim()
	goodSig, err := signing.Sign(signer, good)
	require.NoError(f, err)
	goodBlob := blobOf(goodSig)
	require.NotNil(f, goodBlob)
	_, err = signing.Verify(goodSig, good, list, now)
	require.NoError(f, err, "the seed must be accepted, or the fuzzer explores nothing")

	add := func(sig string, c signing.Claim) {
		f.Add(sig, c.Release, c.RunID, c.Gate, c.Action, c.Signer, c.Expires.Unix())
	}
	add(goodSig, good)
	add(strings.ReplaceAll(goodSig, "\n", "\r\n"), good)
	other := good
	other.Gate = "beforeLastBatch"
	add(goodSig, other)
	add(goodSig[:len(goodSig)/2], good)

	f.Fuzz(func(t *testing.T, sig, release, run, gate, action, who string, expires int64) {
		c := signing.Claim{Release: release, RunID: run, Gate: gate, Action: action, Signer: who, Expires: time.Unix(expires, 0).UTC()}
		v, err := signing.Verify(sig, c, list, now)
		if err != nil {
			require.NotEmpty(t, err.Error())
			return
		}
		require.Equal(t, string(good.Message()), string(c.Message()), "accepted a claim that was never signed")
		require.Equal(t, goodBlob, blobOf(sig), "accepted a signature blob that was never made")
		require.Equal(t, "alice", v.Name)
	})
}

// blobOf decodes an armored signature the lenient way Verify does; nil if it cannot.
func blobOf(armored string) []byte {
	body := strings.TrimSpace(strings.ReplaceAll(armored, "\r\n", "\n"))
	body = strings.TrimPrefix(body, "-----BEGIN SSH SIGNATURE-----")
	body = strings.TrimSuffix(body, "-----END SSH SIGNATURE-----")
	b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(body), ""))
	if err != nil {
		return nil
	}
	return b
}
