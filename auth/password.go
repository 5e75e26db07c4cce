package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Passwords are hashed with Argon2id (RFC 9106), the first choice of the
// OWASP Password Storage Cheat Sheet: memory-hard, so that guessing on
// GPUs costs memory as well as time, and without bcrypt's silent
// truncation at 72 bytes (a passphrase of 80 characters is wholly used).
// The default parameters are OWASP's m=19 MiB, t=2, p=1 (about 25 ms on
// one core of the CI machine, see BENCHMARKS.md), a cost paid once per
// sign-in: sessions, not passwords, authenticate the requests after it.
//
// The hash is stored as a PHC string,
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt, base64>$<hash, base64>
//
// so that the parameters can be raised later: a stored hash is checked
// with its own parameters, and NeedsRehash says when to replace it.

// PasswordParams are Argon2id's cost parameters.
type PasswordParams struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
}

// DefaultPasswordParams are OWASP's recommended minimum for Argon2id.
var DefaultPasswordParams = PasswordParams{Memory: 19 * 1024, Time: 2, Threads: 1}

const (
	passwordSaltLen = 16
	passwordKeyLen  = 32
	// maxPasswordMemory bounds the memory a stored hash may ask for
	// (a corrupt or hostile record must not exhaust memory).
	maxPasswordMemory = 1 << 20 // 1 GiB
)

// ErrWrongPassword: the password does not match the hash.
var ErrWrongPassword = errors.New("auth: wrong password")

// Hasher hashes and checks passwords with at most a few hashes computed at
// once: each costs Memory KiB, and a burst of sign-ins must not exhaust
// the process's memory (the others wait their turn, or give up with their
// context).
type Hasher struct {
	params PasswordParams
	slots  chan struct{}
}

// NewHasher returns a Hasher with the parameters (zero fields take the
// defaults) running at most GOMAXPROCS hashes at once.
func NewHasher(p PasswordParams) *Hasher {
	if p.Memory == 0 {
		p.Memory = DefaultPasswordParams.Memory
	}
	if p.Time == 0 {
		p.Time = DefaultPasswordParams.Time
	}
	if p.Threads == 0 {
		p.Threads = DefaultPasswordParams.Threads
	}
	return &Hasher{params: p, slots: make(chan struct{}, max(runtime.GOMAXPROCS(0), 1))}
}

func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("auth: hash password: %w", ctx.Err())
	}
}

func (h *Hasher) release() { <-h.slots }

// Hash returns the PHC string of password.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	salt := make([]byte, passwordSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("auth: generate salt: %w", err)
	}
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	p := h.params
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, passwordKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// Check returns nil if password matches the PHC string phc, ErrWrongPassword
// if it does not, and another error if phc is not an Argon2id hash this
// package can read.
func (h *Hasher) Check(ctx context.Context, phc, password string) error {
	p, salt, want, err := parsePHC(phc)
	if err != nil {
		return err
	}
	if err := h.acquire(ctx); err != nil {
		return err
	}
	defer h.release()
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return ErrWrongPassword
	}
	return nil
}

// NeedsRehash reports whether phc was made with other parameters than h's.
func (h *Hasher) NeedsRehash(phc string) bool {
	p, _, _, err := parsePHC(phc)
	return err != nil || p != h.params
}

func parsePHC(phc string) (PasswordParams, []byte, []byte, error) {
	bad := errors.New("auth: the stored password hash is not an Argon2id PHC string")
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return PasswordParams{}, nil, nil, bad
	}
	var p PasswordParams
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, _ := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return PasswordParams{}, nil, nil, bad
		}
		switch k {
		case "m":
			p.Memory = uint32(n)
		case "t":
			p.Time = uint32(n)
		case "p":
			if n > 255 {
				return PasswordParams{}, nil, nil, bad
			}
			p.Threads = uint8(n)
		default:
			return PasswordParams{}, nil, nil, bad
		}
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	key, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(key) < 16 || len(key) > 64 ||
		p.Memory < 8*uint32(p.Threads) || p.Memory > maxPasswordMemory || p.Time == 0 || p.Time > 64 || p.Threads == 0 {
		return PasswordParams{}, nil, nil, bad
	}
	return p, salt, key, nil
}
