package schema

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"
)

// durationCases are pairs of durations and whether statements that differ
// only in them are the same statement: durations agree when they agree to
// the hundredth of a second (Data 4.6.s1.b5; 2.0 §4.2.7).
var durationCases = []struct {
	name       string
	first, sec string
	same       bool
}{
	{"identical", "PT1M30.12S", "PT1M30.12S", true},
	{"beyond the hundredth (the ADL suite's case)", "P1DT12H36M0.12S", "P1DT12H36M0.1237S", true},
	{"both beyond the hundredth, same hundredth", "PT0.1299S", "PT0.121S", true},
	{"truncated, not rounded", "PT0.12S", "PT0.129S", true},
	{"a hundredth apart after truncation", "PT0.13S", "PT0.129S", false},
	{"another hundredth", "PT0.12S", "PT0.13S", false},
	{"trailing zeros", "PT1.5S", "PT1.50S", true},
	{"seconds for hours and minutes (Data 4.6 example)", "PT4H35M59.14S", "PT16559.14S", true},
	{"seconds for minutes", "PT90S", "PT1M30S", true},
	{"fraction of an hour", "PT0.5H", "PT30M", true},
	{"with years, months and days", "P3Y1M29DT4H35M59.141S", "P3Y1M29DT4H35M59.14S", true},
	{"another number of years", "P1Y", "P2Y", false},
	{"a day is not 24 hours", "P1D", "PT24H", false},
	{"a week is not 7 days", "P1W", "P7D", false},
	{"zero in any unit", "PT0S", "P0D", true},
	{"beyond 30 integer digits: as written", "PT" + strings.Repeat("9", 40) + "S", "PT" + strings.Repeat("9", 40) + "S", true},
	{"beyond 30 integer digits, other value", "PT" + strings.Repeat("9", 40) + "S", "PT" + strings.Repeat("9", 39) + "8S", false},
}

func durationStatement(id, duration string, sub bool) string {
	result := fmt.Sprintf(`"result":{"success":true,"duration":%q}`, duration)
	object := `{"id":"http://example.com/a"}`
	if sub {
		object = `{"objectType":"SubStatement","actor":{"mbox":"mailto:b@example.com"},"verb":{"id":"http://example.com/v"},"object":{"id":"http://example.com/a"},` + result + `}`
		result = `"result":{"success":true}`
	}
	return `{` + id + `"actor":{"mbox":"mailto:a@example.com"},"verb":{"id":"http://example.com/v"},"object":` + object + `,` + result + `,"timestamp":"2024-01-01T00:00:00Z"}`
}

// TestEquivalentDurations: a statement sent again under its id (204 vs
// 409) compares durations to the hundredth of a second, in a statement's
// result and in a SubStatement's.
func TestEquivalentDurations(t *testing.T) {
	const id = `"id":"6fbd600f-d17c-4c74-801a-2ec2e53231c8",`
	for _, where := range []string{"statement", "substatement"} {
		for _, c := range durationCases {
			t.Run(where+"/"+c.name, func(t *testing.T) {
				stored, err := ParseStatement([]byte(durationStatement(id, c.first, where == "substatement")), V2_0_0)
				if err != nil {
					t.Fatal(err)
				}
				stored.SetStored(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
				stored.SetVersion("2.0.0")
				raw, _ := stored.MarshalJSON()
				again, err := ParseStatement([]byte(durationStatement(id, c.sec, where == "substatement")), V2_0_0)
				if err != nil {
					t.Fatal(err)
				}
				eq, err := Equivalent(again, raw)
				if err != nil {
					t.Fatal(err)
				}
				if eq != c.same {
					t.Errorf("Equivalent with durations %s and %s = %v, want %v", c.first, c.sec, eq, c.same)
				}
			})
		}
	}
}

// TestSignatureDurations: a signed statement is compared with its JWS
// payload under the same rule.
func TestSignatureDurations(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(9), Subject: pkix.Name{CommonName: "signer"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	cert, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	const sig = `"attachments":[{"usageType":"http://adlnet.gov/expapi/attachments/signature","display":{"en-US":"sig"},"contentType":"application/octet-stream","length":1,"sha2":"00"}],`
	for _, where := range []string{"statement", "substatement"} {
		for _, c := range durationCases {
			t.Run(where+"/"+c.name, func(t *testing.T) {
				payload := durationStatement("", c.first, where == "substatement")
				received, err := ParseStatement([]byte(durationStatement(sig, c.sec, where == "substatement")), V2_0_0)
				if err != nil {
					t.Fatal(err)
				}
				err = VerifySignature(received, []byte(testJWS(t, key, cert, "RS256", crypto.SHA256, payload)), V2_0_0)
				if c.same && err != nil {
					t.Errorf("durations %s (signed) and %s (sent): %v, want accepted", c.first, c.sec, err)
				}
				if !c.same && (err == nil || !strings.Contains(err.Error(), "does not match")) {
					t.Errorf("durations %s (signed) and %s (sent): %v, want a mismatch", c.first, c.sec, err)
				}
			})
		}
	}
}
