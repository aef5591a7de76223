package codec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"
)

// Payload metadata of a sealed payload. MetadataEncoding's value is the one Temporal's
// encryption samples use, so their tools recognise it.
const (
	MetadataEncoding  = converter.MetadataEncoding // "encoding"
	EncodingEncrypted = "binary/encrypted"
	MetadataKeyID     = "encryption-key-id"
)

// Codec is a converter.PayloadCodec that seals payloads with AES-256-GCM.
type Codec struct {
	keys  *Keys
	aeads map[string]cipher.AEAD
}

var _ converter.PayloadCodec = (*Codec)(nil)

// New returns a codec that seals with keys.Current and opens with any of keys.
func New(keys *Keys) (*Codec, error) {
	if keys == nil || keys.Current == "" {
		return nil, fmt.Errorf("codec: no keys")
	}
	c := &Codec{keys: keys, aeads: map[string]cipher.AEAD{}}
	for id, key := range keys.byID {
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("codec key %q: %w", id, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("codec key %q: %w", id, err)
		}
		c.aeads[id] = aead
	}
	return c, nil
}

// Encode seals each payload, metadata included, into a new payload that names its key.
// The key ID is authenticated too, so a payload cannot be relabelled to another key.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	id := c.keys.Current
	aead := c.aeads[id]
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		plain, err := proto.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("codec: %w", err)
		}
		nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
		if _, err := rand.Read(nonce); err != nil {
			return nil, fmt.Errorf("codec: %w", err)
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{MetadataEncoding: []byte(EncodingEncrypted), MetadataKeyID: []byte(id)},
			Data:     aead.Seal(nonce, nonce, plain, []byte(id)),
		}
	}
	return out, nil
}

// Decode opens sealed payloads and passes others through unchanged (history written
// before encryption was turned on stays readable).
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[MetadataEncoding]) != EncodingEncrypted {
			out[i] = p
			continue
		}
		id := string(p.GetMetadata()[MetadataKeyID])
		aead, ok := c.aeads[id]
		if !ok {
			return nil, fmt.Errorf("codec: payload sealed with key %q, which is not among the keys given (%d)", truncate(id, 64), len(c.aeads))
		}
		if len(p.Data) < aead.NonceSize()+aead.Overhead() {
			return nil, fmt.Errorf("codec: payload sealed with key %q is truncated", id)
		}
		nonce, sealed := p.Data[:aead.NonceSize()], p.Data[aead.NonceSize():]
		plain, err := aead.Open(nil, nonce, sealed, []byte(id))
		if err != nil {
			return nil, fmt.Errorf("codec: payload sealed with key %q does not open: wrong key or altered data", id)
		}
		var orig commonpb.Payload
		if err := proto.Unmarshal(plain, &orig); err != nil {
			return nil, fmt.Errorf("codec: %w", err)
		}
		out[i] = &orig
	}
	return out, nil
}
