package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestPasswordHash(t *testing.T) {
	ctx := context.Background()
	h := NewHasher(PasswordParams{Memory: 64, Time: 1})
	phc, err := h.Hash(ctx, "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(phc, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hash %q is not an Argon2id PHC string with its parameters", phc)
	}
	if again, _ := h.Hash(ctx, "correct horse battery staple"); again == phc {
		t.Error("two hashes of one password are equal: no salt")
	}
	if err := h.Check(ctx, phc, "correct horse battery staple"); err != nil {
		t.Errorf("the right password: %v", err)
	}
	if err := h.Check(ctx, phc, "correct horse battery stapl"); !errors.Is(err, ErrWrongPassword) {
		t.Errorf("a wrong password: %v, want ErrWrongPassword", err)
	}
	// A hash made with other parameters is checked with its own.
	strong := NewHasher(PasswordParams{Memory: 128, Time: 2})
	if err := strong.Check(ctx, phc, "correct horse battery staple"); err != nil {
		t.Errorf("a hash of other parameters: %v", err)
	}
	if !strong.NeedsRehash(phc) || h.NeedsRehash(phc) {
		t.Error("NeedsRehash does not follow the parameters")
	}
	// Long passphrases are wholly used (no truncation at 72 bytes).
	long := strings.Repeat("a", 100)
	lh, _ := h.Hash(ctx, long)
	if err := h.Check(ctx, lh, long[:99]+"b"); !errors.Is(err, ErrWrongPassword) {
		t.Errorf("a passphrase differing in its 100th character matched: %v", err)
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "$argon2id$v=19$m=64,t=1,p=1$!!$aGFzaA"} {
		if err := h.Check(ctx, bad, "x"); err == nil || errors.Is(err, ErrWrongPassword) {
			t.Errorf("Check(%q) = %v, want an unreadable-hash error", bad, err)
		}
	}
}

func TestValidatePassword(t *testing.T) {
	for p, ok := range map[string]bool{
		"short":                        false,
		"twelve chars":                 true,
		"ünïcödé pässwörd":             true,
		strings.Repeat("x", 128):       true,
		strings.Repeat("x", 129):       false,
		"\xff\xfe invalid utf-8 bytes": false,
	} {
		if err := ValidatePassword(p); (err == nil) != ok {
			t.Errorf("ValidatePassword(%q) = %v, want ok=%v", p, err, ok)
		}
	}
}

// BenchmarkPasswordHash is the cost of one sign-in with the default
// parameters (BENCHMARKS.md).
func BenchmarkPasswordHash(b *testing.B) {
	h := NewHasher(DefaultPasswordParams)
	phc, err := h.Hash(context.Background(), "correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := h.Check(context.Background(), phc, "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}
