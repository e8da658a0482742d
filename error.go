package patchbay

import (
	"errors"
	"fmt"
)

// ErrorCode classifies an Error. The set is closed; internal/web maps each
// code to one HTTP status in a single table.
type ErrorCode string

// The error codes.
const (
	EInvalid          ErrorCode = "invalid"       // malformed input: bad JSON, unknown field, wrong type
	EUnprocessable    ErrorCode = "unprocessable" // well-formed input that breaks a rule: bad enum value, out of range
	ENotFound         ErrorCode = "not_found"
	EMethodNotAllowed ErrorCode = "method_not_allowed"
	EConflict         ErrorCode = "conflict"
	EUnauthorized     ErrorCode = "unauthorized" // no, bad, revoked or expired credentials
	EForbidden        ErrorCode = "forbidden"    // valid credentials, not allowed
	ETooLarge         ErrorCode = "too_large"
	EUnavailable      ErrorCode = "unavailable" // a dependency (the store) cannot be reached; retry later
	EInternal         ErrorCode = "internal"
)

// Error is the one error type that crosses package boundaries with a meaning
// a caller can act on. Message is safe to show to any client; Field, when set,
// names the input field at fault (for example "role" or "body.expires_at").
// Err, when set, is the underlying cause; it is logged, never shown.
type Error struct {
	Code    ErrorCode
	Message string
	Field   string
	Err     error
}

func (e *Error) Error() string {
	msg := e.Message
	if e.Field != "" {
		msg = e.Field + ": " + msg
	}
	if e.Err != nil {
		return fmt.Sprintf("%s (%v)", msg, e.Err)
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with code and a formatted, client-safe message.
func Errorf(code ErrorCode, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldError returns an *Error with code that names the field at fault.
func FieldError(code ErrorCode, field, format string, args ...any) *Error {
	return &Error{Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

// ErrorCodeOf returns the code of the first *Error in err's chain, EInternal
// for any other non-nil error, and "" for nil.
func ErrorCodeOf(err error) ErrorCode {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// ErrorMessageOf returns the client-safe message of err: the message of the
// first *Error in its chain, or a generic text for anything else.
func ErrorMessageOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		if e.Field != "" {
			return e.Field + ": " + e.Message
		}
		return e.Message
	}
	return "internal error"
}
