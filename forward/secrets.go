package forward

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the size of the key that seals destination secrets (AES-256).
const KeySize = 32

// ErrSealed: sealed secrets cannot be opened (wrong key, tampered, or sealed
// for another configuration).
var ErrSealed = errors.New("forward: cannot open sealed secrets")

// Sealer encrypts a configuration's secret settings at rest with AES-GCM.
// The organization and configuration id are bound as additional data, so
// sealed secrets copied to another configuration do not open.
type Sealer struct {
	aead cipher.AEAD
}

// ParseKey decodes a base64 (standard or URL alphabet, padded or not) key
// of KeySize bytes.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != KeySize {
				return nil, fmt.Errorf("forward: key is %d bytes, want %d", len(b), KeySize)
			}
			return b, nil
		}
	}
	return nil, errors.New("forward: key is not base64")
}

// NewSealer returns a Sealer with a KeySize-byte key.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("forward: key is %d bytes, want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("forward: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("forward: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

const sealVersion = 1

func additional(org, id string) []byte {
	return []byte("lrs/forward/v1\x00" + org + "\x00" + id)
}

// Seal encrypts the secret settings of configuration (org, id). Empty
// secrets seal to nil.
func (s *Sealer) Seal(org, id string, secrets map[string]string) ([]byte, error) {
	if len(secrets) == 0 {
		return nil, nil
	}
	plain, err := json.Marshal(secrets)
	if err != nil {
		return nil, fmt.Errorf("forward: seal: %w", err)
	}
	out := make([]byte, 1+s.aead.NonceSize(), 1+s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	out[0] = sealVersion
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("forward: seal: %w", err)
	}
	return s.aead.Seal(out, out[1:], plain, additional(org, id)), nil
}

// Open decrypts what Seal returned for the same (org, id); nil opens to an
// empty map. Errors wrap ErrSealed and never include the secrets.
func (s *Sealer) Open(org, id string, sealed []byte) (map[string]string, error) {
	secrets := map[string]string{}
	if len(sealed) == 0 {
		return secrets, nil
	}
	n := s.aead.NonceSize()
	if len(sealed) < 1+n || sealed[0] != sealVersion {
		return nil, fmt.Errorf("%w: unknown format", ErrSealed)
	}
	plain, err := s.aead.Open(nil, sealed[1:1+n], sealed[1+n:], additional(org, id))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSealed, err)
	}
	if err := json.Unmarshal(plain, &secrets); err != nil {
		return nil, fmt.Errorf("%w: not a JSON object", ErrSealed)
	}
	return secrets, nil
}

// OpenConfiguration opens c's sealed secrets: an Opener for the engine.
func (s *Sealer) OpenConfiguration(c Configuration) (map[string]string, error) {
	return s.Open(c.Org, c.ID, c.SealedSecret)
}

// Opener returns a configuration's decrypted secret settings.
type Opener func(c Configuration) (map[string]string, error)
