package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Standard Webhooks 1.0 headers (S21).
const (
	HeaderID             = "webhook-id"
	HeaderTimestamp      = "webhook-timestamp"
	HeaderSignature      = "webhook-signature"
	HeaderIdempotencyKey = "Idempotency-Key"
)

// secretPrefix marks a Standard Webhooks symmetric secret.
const secretPrefix = "whsec_"

// Secret sizes the specification allows: at least 24 bytes (192 bits),
// at most 64 (512 bits).
const (
	minSecret = 24
	maxSecret = 64
)

// ParseSigningSecret decodes a "whsec_" + base64 secret of 24 to 64 bytes.
// Errors never include the secret.
func ParseSigningSecret(s string) ([]byte, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), secretPrefix)
	if !ok {
		return nil, errors.New(`a signing secret starts with "whsec_" followed by base64`)
	}
	key, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		if key, err = base64.RawStdEncoding.DecodeString(rest); err != nil {
			return nil, errors.New(`the signing secret after "whsec_" is not base64`)
		}
	}
	if len(key) < minSecret || len(key) > maxSecret {
		return nil, fmt.Errorf("the signing secret is %d bytes; Standard Webhooks wants %d to %d", len(key), minSecret, maxSecret)
	}
	return key, nil
}

// NewSigningSecret returns a fresh random secret of 32 bytes, serialized
// as the specification says ("whsec_" + base64), for a configuration
// created without one.
func NewSigningSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return secretPrefix + base64.StdEncoding.EncodeToString(b)
}

// Sign is the Standard Webhooks v1 signature of one request:
// "v1," + base64(HMAC-SHA256(key, id + "." + timestamp + "." + body)),
// over the exact bytes sent.
func Sign(key []byte, id string, timestamp int64, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(strconv.FormatInt(timestamp, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}
