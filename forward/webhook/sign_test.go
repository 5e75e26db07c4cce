package webhook_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/lrs-project/lrs/forward/webhook"
)

// TestSignSpecVector signs the test vector of the Standard Webhooks
// reference libraries (libraries/go/webhook_test.go, TestWebhookSign).
func TestSignSpecVector(t *testing.T) {
	key, err := webhook.ParseSigningSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	got := webhook.Sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
	// One byte more in the body, the id or the timestamp changes it.
	for _, other := range []string{
		webhook.Sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314} `)),
		webhook.Sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJel", 1614265330, []byte(`{"test": 2432232314}`)),
		webhook.Sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265331, []byte(`{"test": 2432232314}`)),
	} {
		if other == got {
			t.Errorf("a changed input gave the same signature")
		}
	}
}

func TestParseSigningSecret(t *testing.T) {
	b := func(n int) string { return base64.StdEncoding.EncodeToString(make([]byte, n)) }
	cases := []struct {
		secret string
		ok     bool
	}{
		{"whsec_" + b(24), true},
		{"whsec_" + b(32), true},
		{"whsec_" + b(64), true},
		{"whsec_" + strings.TrimRight(b(32), "="), true}, // unpadded base64
		{"whsec_" + b(23), false},
		{"whsec_" + b(65), false},
		{b(32), false},
		{"whsk_" + b(32), false},
		{"whsec_not base64!", false},
		{"", false},
	}
	for _, tc := range cases {
		_, err := webhook.ParseSigningSecret(tc.secret)
		if (err == nil) != tc.ok {
			t.Errorf("ParseSigningSecret(%q): %v, want ok=%v", tc.secret, err, tc.ok)
		}
	}
	s1, s2 := webhook.NewSigningSecret(), webhook.NewSigningSecret()
	if s1 == s2 {
		t.Error("two new secrets are equal")
	}
	if key, err := webhook.ParseSigningSecret(s1); err != nil || len(key) != 32 {
		t.Errorf("NewSigningSecret: %q gives %d bytes, %v", s1, len(key), err)
	}
}

// TestKeys: result.key is a stable version-5 UUID per configuration and
// result; a message id changes with the body and never contains '.'.
func TestKeys(t *testing.T) {
	k := webhook.Key("cfg-1", "res-1")
	u, err := uuid.Parse(k)
	if err != nil || u.Version() != 5 {
		t.Fatalf("Key = %q (%v), want a version-5 UUID", k, err)
	}
	if webhook.Key("cfg-1", "res-1") != k {
		t.Error("Key is not stable")
	}
	for _, other := range []string{webhook.Key("cfg-2", "res-1"), webhook.Key("cfg-1", "res-2"), webhook.Key("cfg-1r", "es-1")} {
		if other == k {
			t.Errorf("Key collides: %s", other)
		}
	}
	m1 := webhook.MessageID(k, []byte(`{"score":90}`))
	if m1 != webhook.MessageID(k, []byte(`{"score":90}`)) {
		t.Error("MessageID is not stable")
	}
	if m1 == webhook.MessageID(k, []byte(`{"score":91}`)) || m1 == k {
		t.Error("MessageID does not follow the body")
	}
	if strings.Contains(m1, ".") {
		t.Errorf("message id %q contains '.'", m1)
	}
}
