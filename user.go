package patchbay

import (
	"regexp"
	"time"
)

// User is a person (or a service account) who uses the API with tokens.
type User struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Role      Role      `json:"role"`
	CreatedAt time.Time `json:"created_at"`
	Disabled  bool      `json:"disabled"`
}

var userNameRE = regexp.MustCompile(`^[a-z][a-z0-9._-]{0,63}$`)

// ValidateUserName returns an EUnprocessable error naming field when name is
// not 1 to 64 characters of lower-case letters, digits, '.', '_' or '-',
// starting with a letter.
func ValidateUserName(field, name string) error {
	if !userNameRE.MatchString(name) {
		return FieldError(EUnprocessable, field,
			"user name %q must be 1 to 64 characters of a-z, 0-9, '.', '_' or '-', starting with a letter", truncate(name, 80))
	}
	return nil
}

// truncate shortens s for an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
