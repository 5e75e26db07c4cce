package schema

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	// The hash functions RS256, RS384 and RS512 use.
	_ "crypto/sha256"
	_ "crypto/sha512"
)

// SignatureUsageType is the usageType of a signature attachment (Data 2.6).
const SignatureUsageType = signatureUsageType

var jwsAlgs = map[string]crypto.Hash{
	"RS256": crypto.SHA256,
	"RS384": crypto.SHA384,
	"RS512": crypto.SHA512,
}

// VerifySignature checks the JWS (Compact Serialization) of a signature
// attachment of st, as Data 2.6 asks of an LRS:
//
//   - the JWS is well formed and its alg is RS256, RS384 or RS512;
//   - its payload is a valid statement equivalent to st (the comparison of
//     Equivalent: id, authority, stored, version, attachments, and a
//     timestamp st lacks, are ignored);
//   - when the header carries x5c, the signature verifies with the public
//     key of its first certificate. Without x5c there is no key to check
//     the signature against, and it is accepted.
//
// The error message is safe to show a client.
func VerifySignature(st *Statement, jws []byte, v Version) error {
	segs := strings.Split(string(bytes.TrimSpace(jws)), ".")
	if len(segs) != 3 {
		return errors.New("the signature is not a JWS Compact Serialization (header.payload.signature)")
	}
	rawHeader, err := b64url(segs[0])
	if err != nil {
		return errors.New("the JWS header is not base64url")
	}
	var hdr struct {
		Alg string   `json:"alg"`
		X5c []string `json:"x5c"`
	}
	if err := json.Unmarshal(rawHeader, &hdr); err != nil {
		return errors.New("the JWS header is not a JSON object")
	}
	h, ok := jwsAlgs[hdr.Alg]
	if !ok {
		return fmt.Errorf("the JWS algorithm %q is not RS256, RS384 or RS512", hdr.Alg)
	}
	payload, err := b64url(segs[1])
	if err != nil {
		return errors.New("the JWS payload is not base64url")
	}
	sig, err := b64url(segs[2])
	if err != nil || len(sig) == 0 {
		return errors.New("the JWS signature is not base64url")
	}

	if len(hdr.X5c) > 0 {
		der, err := base64.StdEncoding.DecodeString(hdr.X5c[0])
		if err != nil {
			return errors.New("the first x5c certificate is not base64")
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return errors.New("the first x5c certificate is not a valid X.509 certificate")
		}
		pub, ok := cert.PublicKey.(*rsa.PublicKey)
		if !ok {
			return errors.New("the first x5c certificate does not hold an RSA public key")
		}
		hh := h.New()
		hh.Write([]byte(segs[0] + "." + segs[1]))
		if err := rsa.VerifyPKCS1v15(pub, h, hh.Sum(nil), sig); err != nil {
			return errors.New("the JWS signature does not verify with the x5c certificate")
		}
	}

	signed, err := ParseStatement(payload, v)
	if err != nil {
		return errors.New("signature payload does not match the statement: the payload is not a valid statement")
	}
	if !signedEquivalent(st, signed) {
		return errors.New("signature payload does not match the statement")
	}
	return nil
}

// signedEquivalent compares a received statement with the statement of its
// signature's payload, under the statement comparison rules.
// A default objectType ("Activity", "Agent") present on one side only is
// no difference either.
func signedEquivalent(received, signed *Statement) bool {
	drop := !received.HasTimestamp()
	a, b := comparable(received.m, drop), comparable(signed.m, drop)
	dropDefaultObjectTypes(a)
	dropDefaultObjectTypes(b)
	return reflect.DeepEqual(a, b)
}

// dropDefaultObjectTypes removes objectType "Activity" and "Agent" (the
// defaults where objectType is optional) from a comparable copy, outside
// extensions.
func dropDefaultObjectTypes(v any) {
	switch x := v.(type) {
	case map[string]any:
		if ot, _ := x["objectType"].(string); ot == "Activity" || ot == "Agent" {
			delete(x, "objectType")
		}
		for k, val := range x {
			if k != "extensions" {
				dropDefaultObjectTypes(val)
			}
		}
	case []any:
		for _, val := range x {
			dropDefaultObjectTypes(val)
		}
	}
}

// b64url decodes base64url with or without padding.
func b64url(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}
