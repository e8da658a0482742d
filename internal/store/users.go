package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"

	"github.com/patchbay/patchbay"
)

// userSummary is what the audit trail keeps of a user.
type userSummary struct {
	Name     string        `json:"name"`
	Role     patchbay.Role `json:"role"`
	Disabled bool          `json:"disabled"`
}

func summarizeUser(u *patchbay.User) userSummary {
	return userSummary{Name: u.Name, Role: u.Role, Disabled: u.Disabled}
}

const userColumns = "id, name, role, disabled, created_at"

func scanUser(sc interface{ Scan(...any) error }) (*patchbay.User, error) {
	var u patchbay.User
	var created int64
	var disabled int
	if err := sc.Scan(&u.ID, &u.Name, &u.Role, &disabled, &created); err != nil {
		return nil, err
	}
	u.Disabled = disabled != 0
	u.CreatedAt = fromMicros(created)
	return &u, nil
}

// CreateUser adds a user with role.
func (s *Store) CreateUser(ctx context.Context, actor, name string, role patchbay.Role) (*patchbay.User, error) {
	if err := patchbay.ValidateUserName("name", name); err != nil {
		return nil, err
	}
	if err := role.Validate("role"); err != nil {
		return nil, err
	}
	var u *patchbay.User
	err := s.inTx(ctx, func(tx *Tx) error {
		var err error
		u, err = tx.createUser(ctx, actor, name, role)
		return err
	})
	return u, err
}

func (t *Tx) createUser(ctx context.Context, actor, name string, role patchbay.Role) (*patchbay.User, error) {
	u := &patchbay.User{Name: name, Role: role, CreatedAt: t.s.now().UTC()}
	err := t.queryRow(ctx, "INSERT INTO users (name, role, disabled, created_at) VALUES (?, ?, 0, ?) RETURNING id",
		name, role, micros(u.CreatedAt)).Scan(&u.ID)
	if err != nil {
		if err = classify(err); patchbay.ErrorCodeOf(err) == patchbay.EConflict {
			return nil, patchbay.FieldError(patchbay.EConflict, "name", "a user named %q already exists", name)
		}
		return nil, fmt.Errorf("create user %s: %w", name, err)
	}
	u.CreatedAt = fromMicros(micros(u.CreatedAt))
	return u, t.audit(ctx, Change{Actor: actor, Action: "user.create", ObjectType: "user",
		ObjectID: name, After: summarizeUser(u)})
}

// User returns the user named name.
func (s *Store) User(ctx context.Context, name string) (*patchbay.User, error) {
	u, err := scanUser(s.queryRow(ctx, "SELECT "+userColumns+" FROM users WHERE name = ?", name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, patchbay.Errorf(patchbay.ENotFound, "no user named %q", name)
	}
	if err != nil {
		return nil, fmt.Errorf("load user %s: %w", name, classify(err))
	}
	return u, nil
}

// Users lists every user by name.
func (s *Store) Users(ctx context.Context) ([]patchbay.User, error) {
	rows, err := s.query(ctx, "SELECT "+userColumns+" FROM users ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	var out []patchbay.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("list users: %w", classify(err))
		}
		out = append(out, *u)
	}
	return out, classify(rows.Err())
}

// UserUpdate is a change to a user; nil fields stay as they are.
type UserUpdate struct {
	Role     *patchbay.Role
	Disabled *bool
}

// UpdateUser changes a user's role or disabled state. A disabled user's
// tokens stop working at once.
func (s *Store) UpdateUser(ctx context.Context, actor, name string, up UserUpdate) (*patchbay.User, error) {
	if up.Role != nil {
		if err := up.Role.Validate("role"); err != nil {
			return nil, err
		}
	}
	var after *patchbay.User
	err := s.inTx(ctx, func(tx *Tx) error {
		before, err := scanUser(tx.queryRow(ctx, "SELECT "+userColumns+" FROM users WHERE name = ?", name))
		if errors.Is(err, sql.ErrNoRows) {
			return patchbay.Errorf(patchbay.ENotFound, "no user named %q", name)
		}
		if err != nil {
			return fmt.Errorf("load user %s: %w", name, classify(err))
		}
		u := *before
		if up.Role != nil {
			u.Role = *up.Role
		}
		if up.Disabled != nil {
			u.Disabled = *up.Disabled
		}
		if before.Role == patchbay.RoleAdmin && (u.Role != patchbay.RoleAdmin || u.Disabled) {
			if err := tx.keepOneAdmin(ctx, u.ID); err != nil {
				return err
			}
		}
		if _, err := tx.exec(ctx, "UPDATE users SET role = ?, disabled = ? WHERE id = ?", u.Role, boolInt(u.Disabled), u.ID); err != nil {
			return fmt.Errorf("update user %s: %w", name, err)
		}
		after = &u
		return tx.audit(ctx, Change{Actor: actor, Action: "user.update", ObjectType: "user", ObjectID: name,
			Before: summarizeUser(before), After: summarizeUser(&u)})
	})
	return after, err
}

// keepOneAdmin refuses a change that would leave no enabled admin besides
// the user with id except.
func (t *Tx) keepOneAdmin(ctx context.Context, except int64) error {
	var n int
	if err := t.queryRow(ctx, "SELECT COUNT(*) FROM users WHERE role = ? AND disabled = 0 AND id <> ?",
		patchbay.RoleAdmin, except).Scan(&n); err != nil {
		return fmt.Errorf("count admins: %w", classify(err))
	}
	if n == 0 {
		return patchbay.Errorf(patchbay.EConflict, "this is the last enabled admin; make another admin first")
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func idString(id int64) string { return strconv.FormatInt(id, 10) }
