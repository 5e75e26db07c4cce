package storetest

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"github.com/lrs-project/lrs/auth"
)

// RunKeys runs the auth.KeyStore suite (the LRS's own secret keys, such as
// the token signing key); open returns a new, empty store.
func RunKeys(t *testing.T, open func(t *testing.T) auth.KeyStore) {
	t.Helper()
	leaf := func(name string, fn func(t *testing.T, s auth.KeyStore)) {
		t.Run(name, func(t *testing.T) { fn(t, open(t)) })
	}
	leaf("FirstWriterWins", testKeysFirstWriterWins)
	leaf("Concurrent", testKeysConcurrent)
	leaf("Refusals", testKeysRefusals)
}

// binaryKey is a key of every byte value, so that no engine may treat a
// key as text.
func binaryKey(seed byte) []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i) ^ seed
	}
	return b
}

func ensure(t *testing.T, s auth.KeyStore, name string, value []byte) []byte {
	t.Helper()
	got, err := s.EnsureKey(t.Context(), name, value)
	if err != nil {
		t.Fatalf("EnsureKey(%q): %v", name, err)
	}
	return got
}

func testKeysFirstWriterWins(t *testing.T, s auth.KeyStore) {
	first, second := binaryKey(0), binaryKey(0x5a)
	if got := ensure(t, s, "token", first); !bytes.Equal(got, first) {
		t.Fatalf("first EnsureKey returned %x, want the value it stored", got)
	}
	got := ensure(t, s, "token", second)
	if !bytes.Equal(got, first) {
		t.Fatalf("second EnsureKey returned %x, want the first value", got)
	}
	got[0] ^= 0xff // the caller owns what it got
	if got := ensure(t, s, "token", second); !bytes.Equal(got, first) {
		t.Errorf("after the caller changed its copy, EnsureKey returned %x, want the first value", got)
	}
	if got := ensure(t, s, "other", second); !bytes.Equal(got, second) {
		t.Errorf("a second name returned %x, want its own value", got)
	}
}

// testKeysConcurrent: processes starting at once all get one key.
func testKeysConcurrent(t *testing.T, s auth.KeyStore) {
	const n = 16
	got := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			got[i], errs[i] = s.EnsureKey(context.Background(), "token", binaryKey(byte(i)))
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("EnsureKey %d: %v", i, errs[i])
		}
		if !bytes.Equal(got[i], got[0]) {
			t.Fatalf("concurrent callers got different keys: %x and %x", got[0][:4], got[i][:4])
		}
	}
	candidates := false
	for i := range n {
		candidates = candidates || bytes.Equal(got[0], binaryKey(byte(i)))
	}
	if !candidates {
		t.Errorf("the key %x is none of the values offered", got[0][:4])
	}
}

func testKeysRefusals(t *testing.T, s auth.KeyStore) {
	if got, err := s.EnsureKey(t.Context(), "empty", nil); err == nil {
		t.Errorf("EnsureKey with an empty value = %x, want an error", got)
	}
	if got := ensure(t, s, "empty", []byte("value")); string(got) != "value" {
		t.Errorf("after a refused empty value, EnsureKey = %q, want the value offered", got)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.EnsureKey(ctx, "cancelled", []byte("value")); err == nil {
		t.Error("EnsureKey with a cancelled context succeeded")
	}
	if got := ensure(t, s, "cancelled", []byte("second")); string(got) != "second" && string(got) != "value" {
		t.Errorf("EnsureKey after a cancelled call = %q", got)
	}
}
