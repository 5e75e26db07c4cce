package schema

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"strings"
	"testing"
	"time"
)

// testJWS signs payload with key under alg, with cert in x5c when non-nil.
func testJWS(t *testing.T, key *rsa.PrivateKey, cert []byte, alg string, h crypto.Hash, payload string) string {
	t.Helper()
	hdr := map[string]any{"alg": alg}
	if cert != nil {
		hdr["x5c"] = []string{base64.StdEncoding.EncodeToString(cert)}
	}
	hb, _ := json.Marshal(hdr)
	input := base64.RawURLEncoding.EncodeToString(hb) + "." + base64.RawURLEncoding.EncodeToString([]byte(payload))
	hh := h.New()
	hh.Write([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, h, hh.Sum(nil))
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func TestVerifySignature(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "signer"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	cert, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	const payload = `{"actor":{"mbox":"mailto:a@example.com"},"verb":{"id":"http://example.com/v","display":{"en-US":"v"}},"object":{"id":"http://example.com/a"},"timestamp":"2024-01-01T00:00:00Z"}`
	// The received statement: the same, with an id, a verb display in
	// another language, the timestamp in another zone and a signature.
	const received = `{"id":"6fbd600f-d17c-4c74-801a-2ec2e53231c8","actor":{"mbox":"mailto:a@example.com"},"verb":{"id":"http://example.com/v"},"object":{"id":"http://example.com/a","objectType":"Activity"},"timestamp":"2024-01-01T01:00:00+01:00",
		"attachments":[{"usageType":"http://adlnet.gov/expapi/attachments/signature","display":{"en-US":"sig"},"contentType":"application/octet-stream","length":1,"sha2":"00"}]}`
	st, err := ParseStatement([]byte(received), V2_0_0)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, jws, err string
	}{
		{"RS256 x5c", testJWS(t, key, cert, "RS256", crypto.SHA256, payload), ""},
		{"RS384 x5c", testJWS(t, key, cert, "RS384", crypto.SHA384, payload), ""},
		{"RS512 no x5c", testJWS(t, key, nil, "RS512", crypto.SHA512, payload), ""},
		{"alg none", testJWS(t, key, cert, "none", crypto.SHA256, payload), "not RS256"},
		{"alg mismatch", testJWS(t, key, cert, "RS512", crypto.SHA256, payload), "does not verify"},
		{"other payload", testJWS(t, key, cert, "RS256", crypto.SHA256, strings.Replace(payload, "a@example", "b@example", 1)), "does not match"},
		{"other timestamp", testJWS(t, key, cert, "RS256", crypto.SHA256, strings.Replace(payload, "2024", "2025", 1)), "does not match"},
		{"two segments", "a.b", "Compact Serialization"},
		{"bad base64", "a.b.c!", "base64url"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := VerifySignature(st, []byte(c.jws), V2_0_0)
			switch {
			case c.err == "" && err != nil:
				t.Errorf("VerifySignature: %v", err)
			case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
				t.Errorf("VerifySignature: %v, want an error containing %q", err, c.err)
			}
		})
	}
}
