// Package lrs is the Learning Record Store domain: statement semantics
// (ids, stored, authority, voiding, conflicts, queries), the narrow storage
// contracts every engine implements, and coded errors.
//
// Adapters live below it: lrs/api (HTTP), the storage engines, and
// lrs/storetest (the conformance suite every engine runs).
package lrs

import (
	"errors"
	"fmt"
)

// Error codes. lrs/api maps each to exactly one HTTP status.
const (
	EINVALID      = "invalid"      // 400: the request or its body breaks a rule
	EUNAUTHORIZED = "unauthorized" // 401: no or wrong credentials
	EFORBIDDEN    = "forbidden"    // 403: authenticated, but the scope does not allow it
	ENOTFOUND     = "not_found"    // 404
	ECONFLICT     = "conflict"     // 409: an id is taken by something different
	EPRECONDITION = "precondition" // 412: If-Match / If-None-Match failed
	ETOOLARGE     = "too_large"    // 413
	EUNSUPPORTED  = "unsupported"  // 415: content type not accepted
	EUNAVAILABLE  = "unavailable"  // 503: storage unreachable
	EINTERNAL     = "internal"     // 500: a bug or an unexpected failure; never echoed
)

// Error is a domain error with a code and a message safe to show a client.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("lrs: %s: %s", e.Code, e.Message) }

// Errorf returns an *Error with the code and a formatted, client-safe message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the client-safe message of the first *Error in err's
// chain, and "Internal error." for anything else.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}
