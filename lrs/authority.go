package lrs

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
)

// termAuthority indexes a statement under the authority it was stored with
// (the statements/read/mine scope). Unlike the other terms it is not
// inherited through StatementRefs: a statement referring to mine is not mine.
const termAuthority = "au:"

// AuthorityKey identifies an authority (Agent or Group JSON): the hex
// SHA-256 of its canonical JSON (keys sorted, no spaces), so that equal
// objects written differently have the same key.
func AuthorityKey(raw []byte) string {
	canon := raw
	var v any
	if err := json.Unmarshal(raw, &v); err == nil {
		if b, err := json.Marshal(v); err == nil {
			canon = b
		}
	}
	sum := sha256.Sum256(canon)
	return hex.EncodeToString(sum[:16])
}

// StatementAuthorityKey returns the AuthorityKey of a stored statement's
// authority ("" when it has none).
func StatementAuthorityKey(raw []byte) string {
	var st struct {
		Authority json.RawMessage `json:"authority"`
	}
	if json.Unmarshal(raw, &st) != nil || len(st.Authority) == 0 {
		return ""
	}
	return AuthorityKey(st.Authority)
}

// inheritable drops the terms a statement does not pass on to the
// statements that refer to it.
func inheritable(terms []string) []string {
	out := terms[:0:0]
	for _, t := range terms {
		if !strings.HasPrefix(t, termAuthority) {
			out = append(out, t)
		}
	}
	return out
}
