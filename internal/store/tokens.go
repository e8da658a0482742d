package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/patchbay/patchbay"
)

// lastUsedResolution bounds how often a token's last-used time is recorded:
// at most once a minute per token.
const lastUsedResolution = time.Minute

type tokenSummary struct {
	ID        int64      `json:"id"`
	Name      string     `json:"name"`
	User      string     `json:"user"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

func summarizeToken(t *patchbay.Token) tokenSummary {
	return tokenSummary{ID: t.ID, Name: t.Name, User: t.UserName, ExpiresAt: t.ExpiresAt, RevokedAt: t.RevokedAt}
}

const tokenColumns = "t.id, t.user_id, u.name, t.name, t.created_at, t.expires_at, t.revoked_at, t.last_used_at"

func scanToken(sc interface{ Scan(...any) error }) (*patchbay.Token, error) {
	var t patchbay.Token
	var created int64
	var expires, revoked, used sql.NullInt64
	if err := sc.Scan(&t.ID, &t.UserID, &t.UserName, &t.Name, &created, &expires, &revoked, &used); err != nil {
		return nil, err
	}
	t.CreatedAt = fromMicros(created)
	t.ExpiresAt, t.RevokedAt, t.LastUsedAt = optTime(expires), optTime(revoked), optTime(used)
	return &t, nil
}

// CreateToken makes a new API token for the user named userName and returns
// it with its secret, which is not kept and cannot be shown again.
func (s *Store) CreateToken(ctx context.Context, actor, userName, name string, expiresAt *time.Time) (*patchbay.Token, string, error) {
	if name == "" || len(name) > 100 {
		return nil, "", patchbay.FieldError(patchbay.EUnprocessable, "name", "a token name must be 1 to 100 characters")
	}
	if expiresAt != nil && !expiresAt.After(s.now()) {
		return nil, "", patchbay.FieldError(patchbay.EUnprocessable, "expires_at", "must be in the future")
	}
	var tok *patchbay.Token
	var secret string
	err := s.inTx(ctx, func(tx *Tx) error {
		u, err := scanUser(tx.queryRow(ctx, "SELECT "+userColumns+" FROM users WHERE name = ?", userName))
		if errors.Is(err, sql.ErrNoRows) {
			return patchbay.FieldError(patchbay.ENotFound, "user", "no user named %q", userName)
		}
		if err != nil {
			return fmt.Errorf("load user %s: %w", userName, classify(err))
		}
		tok, secret, err = tx.createToken(ctx, actor, u, name, expiresAt)
		return err
	})
	return tok, secret, err
}

func (t *Tx) createToken(ctx context.Context, actor string, u *patchbay.User, name string, expiresAt *time.Time) (*patchbay.Token, string, error) {
	secret, err := patchbay.NewSecret(patchbay.TokenPrefix)
	if err != nil {
		return nil, "", fmt.Errorf("create token: %w", err)
	}
	hash := patchbay.HashSecret(secret)
	tok := &patchbay.Token{UserID: u.ID, UserName: u.Name, Name: name, CreatedAt: fromMicros(micros(t.s.now()))}
	if expiresAt != nil {
		e := fromMicros(micros(*expiresAt))
		tok.ExpiresAt = &e
	}
	err = t.queryRow(ctx, "INSERT INTO tokens (user_id, name, hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?) RETURNING id",
		u.ID, name, hash[:], micros(tok.CreatedAt), optMicros(tok.ExpiresAt)).Scan(&tok.ID)
	if err != nil {
		return nil, "", fmt.Errorf("create token for %s: %w", u.Name, classify(err))
	}
	err = t.audit(ctx, Change{Actor: actor, Action: "token.create", ObjectType: "token",
		ObjectID: idString(tok.ID), After: summarizeToken(tok)})
	return tok, secret, err
}

// Tokens lists tokens, newest first: every user's when userID is 0.
func (s *Store) Tokens(ctx context.Context, userID int64) ([]patchbay.Token, error) {
	q := "SELECT " + tokenColumns + " FROM tokens t JOIN users u ON u.id = t.user_id"
	var args []any
	if userID != 0 {
		q += " WHERE t.user_id = ?"
		args = append(args, userID)
	}
	rows, err := s.query(ctx, q+" ORDER BY t.id DESC", args...)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	var out []patchbay.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("list tokens: %w", classify(err))
		}
		out = append(out, *t)
	}
	return out, classify(rows.Err())
}

// RevokeToken revokes token id; it stops working at once. When ownerID is
// not 0 the token must belong to that user (a user revoking their own).
func (s *Store) RevokeToken(ctx context.Context, actor string, id, ownerID int64) (*patchbay.Token, error) {
	var after *patchbay.Token
	err := s.inTx(ctx, func(tx *Tx) error {
		before, err := scanToken(tx.queryRow(ctx, "SELECT "+tokenColumns+" FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.id = ?", id))
		if errors.Is(err, sql.ErrNoRows) || (err == nil && ownerID != 0 && before.UserID != ownerID) {
			return patchbay.Errorf(patchbay.ENotFound, "no token %d", id)
		}
		if err != nil {
			return fmt.Errorf("load token %d: %w", id, classify(err))
		}
		if before.RevokedAt != nil {
			after = before
			return nil // revoking twice changes nothing
		}
		tok := *before
		now := fromMicros(micros(s.now()))
		tok.RevokedAt = &now
		if _, err := tx.exec(ctx, "UPDATE tokens SET revoked_at = ? WHERE id = ?", micros(now), id); err != nil {
			return fmt.Errorf("revoke token %d: %w", id, err)
		}
		after = &tok
		return tx.audit(ctx, Change{Actor: actor, Action: "token.revoke", ObjectType: "token", ObjectID: idString(id),
			Before: summarizeToken(before), After: summarizeToken(&tok)})
	})
	return after, err
}

// Authenticate returns the user and token that secret belongs to, or an
// EUnauthorized error when it is unknown, revoked, expired, or its user is
// disabled. The lookup is by the secret's SHA-256, and the stored hash is
// compared again in constant time.
func (s *Store) Authenticate(ctx context.Context, secret string) (*patchbay.User, *patchbay.Token, error) {
	if !patchbay.WellFormedSecret(patchbay.TokenPrefix, secret) {
		return nil, nil, patchbay.Errorf(patchbay.EUnauthorized, "the token is not a patchbay API token")
	}
	hash := patchbay.HashSecret(secret)
	var stored []byte
	var role patchbay.Role
	var disabled int
	row := s.queryRow(ctx, "SELECT "+tokenColumns+", t.hash, u.role, u.disabled FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.hash = ?", hash[:])
	var t patchbay.Token
	var created int64
	var expires, revoked, used sql.NullInt64
	err := row.Scan(&t.ID, &t.UserID, &t.UserName, &t.Name, &created, &expires, &revoked, &used, &stored, &role, &disabled)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, patchbay.Errorf(patchbay.EUnauthorized, "unknown token")
	}
	if err != nil {
		return nil, nil, fmt.Errorf("authenticate: %w", classify(err))
	}
	t.CreatedAt = fromMicros(created)
	t.ExpiresAt, t.RevokedAt, t.LastUsedAt = optTime(expires), optTime(revoked), optTime(used)
	if len(stored) != len(hash) || !hash.Equal(patchbay.TokenHash(stored)) {
		return nil, nil, patchbay.Errorf(patchbay.EUnauthorized, "unknown token")
	}
	now := s.now()
	switch {
	case t.RevokedAt != nil:
		return nil, nil, patchbay.Errorf(patchbay.EUnauthorized, "the token was revoked")
	case !t.Active(now):
		return nil, nil, patchbay.Errorf(patchbay.EUnauthorized, "the token expired")
	case disabled != 0:
		return nil, nil, patchbay.Errorf(patchbay.EUnauthorized, "the user is disabled")
	}
	if t.LastUsedAt == nil || now.Sub(*t.LastUsedAt) >= lastUsedResolution {
		// Batched with the hosts' last-seen times: authentication stays a read.
		s.tokenUsed.mark(t.ID, now)
	}
	u := &patchbay.User{ID: t.UserID, Name: t.UserName, Role: role}
	return u, &t, nil
}

// BootstrapResult is what Bootstrap did.
type BootstrapResult struct {
	CreatedAdmin bool
	Secret       string // the new admin token; "" when nothing was made
}

// Bootstrap makes the first admin user and its token when the store has no
// users. With force it also mints a new admin token when users exist (the
// offline recovery of `patchbay users bootstrap`), for the first enabled
// admin or, when none is left, a re-enabled "admin".
func (s *Store) Bootstrap(ctx context.Context, force bool) (BootstrapResult, error) {
	var res BootstrapResult
	err := s.inTx(ctx, func(tx *Tx) error {
		var n int
		if err := tx.queryRow(ctx, "SELECT COUNT(*) FROM users").Scan(&n); err != nil {
			return fmt.Errorf("bootstrap: count users: %w", classify(err))
		}
		if n > 0 && !force {
			return nil
		}
		const actor = "system:bootstrap"
		var u *patchbay.User
		var err error
		if n == 0 {
			u, err = tx.createUser(ctx, actor, "admin", patchbay.RoleAdmin)
			res.CreatedAdmin = true
		} else {
			u, err = scanUser(tx.queryRow(ctx, "SELECT "+userColumns+" FROM users WHERE role = ? AND disabled = 0 ORDER BY id LIMIT 1", patchbay.RoleAdmin))
			if errors.Is(err, sql.ErrNoRows) {
				u, err = tx.recoverAdmin(ctx, actor)
			}
		}
		if err != nil {
			return fmt.Errorf("bootstrap: %w", classify(err))
		}
		_, res.Secret, err = tx.createToken(ctx, actor, u, "bootstrap", nil)
		return err
	})
	return res, err
}

// recoverAdmin makes the user "admin" an enabled admin again, creating it
// when it does not exist.
func (t *Tx) recoverAdmin(ctx context.Context, actor string) (*patchbay.User, error) {
	before, err := scanUser(t.queryRow(ctx, "SELECT "+userColumns+" FROM users WHERE name = 'admin'"))
	if errors.Is(err, sql.ErrNoRows) {
		return t.createUser(ctx, actor, "admin", patchbay.RoleAdmin)
	}
	if err != nil {
		return nil, err
	}
	if _, err := t.exec(ctx, "UPDATE users SET role = ?, disabled = 0 WHERE id = ?", patchbay.RoleAdmin, before.ID); err != nil {
		return nil, err
	}
	u := *before
	u.Role, u.Disabled = patchbay.RoleAdmin, false
	return &u, t.audit(ctx, Change{Actor: actor, Action: "user.update", ObjectType: "user", ObjectID: u.Name,
		Before: summarizeUser(before), After: summarizeUser(&u)})
}
