package patchbay

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"strings"
	"time"
)

// TokenPrefix starts every user API token so that a leaked token is easy to
// recognise (and to scan for in repositories and logs).
const TokenPrefix = "pbu_"

// Token is an API credential of a user. The secret itself is never stored:
// only its SHA-256 hash, and it is shown once, when created.
type Token struct {
	ID         int64      `json:"id"`
	UserID     int64      `json:"user_id"`
	UserName   string     `json:"user_name"`
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
}

// Active reports whether t may authenticate at now.
func (t *Token) Active(now time.Time) bool {
	if t.RevokedAt != nil {
		return false
	}
	return t.ExpiresAt == nil || now.Before(*t.ExpiresAt)
}

// TokenHash is the SHA-256 of a token secret: what the store keeps.
type TokenHash [sha256.Size]byte

// NewSecret returns a fresh random 256-bit secret, base64url encoded, after
// prefix.
func NewSecret(prefix string) (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// HashSecret returns the hash under which secret is stored.
func HashSecret(secret string) TokenHash {
	return sha256.Sum256([]byte(secret))
}

// Equal compares two hashes in constant time.
func (h TokenHash) Equal(o TokenHash) bool {
	return subtle.ConstantTimeCompare(h[:], o[:]) == 1
}

// WellFormedSecret reports whether s looks like a secret made by NewSecret
// with prefix, so that garbage is refused before any store lookup.
func WellFormedSecret(prefix, s string) bool {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok || len(rest) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(rest)
	return err == nil
}
