package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/patchbay/patchbay"
)

// Policies are stored as a row per policy (what listings and the scheduler
// need) and the full text of every version. The caller validates a policy
// (internal/policy.Compile) before it reaches the store.

// policySummary is what the audit trail keeps of a policy version.
type policySummary struct {
	Name     string `json:"name"`
	Version  int    `json:"version"`
	Enabled  bool   `json:"enabled"`
	Priority int    `json:"priority"`
}

func summarizePolicy(p *patchbay.Policy) policySummary {
	return policySummary{Name: p.Name, Version: p.Version, Enabled: p.Enabled, Priority: p.Priority}
}

// CreatePolicy stores p as version 1 of a new policy, made by user.
func (s *Store) CreatePolicy(ctx context.Context, actor string, user int64, p patchbay.Policy) (*patchbay.Policy, error) {
	now := s.now().UTC().Truncate(time.Microsecond)
	p.Version, p.CreatedBy, p.CreatedAt = 1, user, now
	err := s.inTx(ctx, func(tx *Tx) error {
		err := tx.queryRow(ctx, `INSERT INTO policies (name, version, enabled, priority, created_at, updated_at)
			VALUES (?, 1, ?, ?, ?, ?) RETURNING id`, p.Name, boolInt(p.Enabled), p.Priority, micros(now), micros(now)).Scan(&p.ID)
		if err != nil {
			if err = classify(err); patchbay.ErrorCodeOf(err) == patchbay.EConflict {
				return patchbay.FieldError(patchbay.EConflict, "name", "a policy named %q already exists", p.Name)
			}
			return fmt.Errorf("create policy %s: %w", p.Name, err)
		}
		if err := tx.insertPolicyVersion(ctx, &p); err != nil {
			return err
		}
		return tx.audit(ctx, Change{Actor: actor, Action: "policy.create", ObjectType: "policy",
			ObjectID: fmt.Sprint(p.ID), After: summarizePolicy(&p)})
	})
	if err != nil {
		return nil, err
	}
	return &p, nil
}

func (t *Tx) insertPolicyVersion(ctx context.Context, p *patchbay.Policy) error {
	spec, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode policy %s: %w", p.Name, err)
	}
	if _, err := t.exec(ctx, "INSERT INTO policy_versions (policy_id, version, spec, created_by, created_at) VALUES (?, ?, ?, ?, ?)",
		p.ID, p.Version, string(spec), p.CreatedBy, micros(p.CreatedAt)); err != nil {
		return fmt.Errorf("store policy %d version %d: %w", p.ID, p.Version, err)
	}
	return nil
}

// UpdatePolicy stores p as the next version of policy id, made by user.
// base is the version the change was made from: when another change came
// first, it is refused (EConflict) rather than silently overwritten; 0
// skips the check.
func (s *Store) UpdatePolicy(ctx context.Context, actor string, user int64, id int64, base int, p patchbay.Policy) (*patchbay.Policy, error) {
	now := s.now().UTC().Truncate(time.Microsecond)
	err := s.inTx(ctx, func(tx *Tx) error {
		old, err := tx.s.policy(ctx, txQuerier{tx}, id, 0)
		if err != nil {
			return err
		}
		if base != 0 && base != old.Version {
			return patchbay.FieldError(patchbay.EConflict, "version", "policy %d is at version %d, not %d: someone changed it meanwhile; reload and edit again", id, old.Version, base)
		}
		p.ID, p.Version, p.CreatedBy, p.CreatedAt = id, old.Version+1, user, now
		_, err = tx.exec(ctx, "UPDATE policies SET name = ?, version = ?, enabled = ?, priority = ?, updated_at = ? WHERE id = ?",
			p.Name, p.Version, boolInt(p.Enabled), p.Priority, micros(now), id)
		if err != nil {
			if err = classify(err); patchbay.ErrorCodeOf(err) == patchbay.EConflict {
				return patchbay.FieldError(patchbay.EConflict, "name", "a policy named %q already exists", p.Name)
			}
			return fmt.Errorf("update policy %d: %w", id, err)
		}
		if err := tx.insertPolicyVersion(ctx, &p); err != nil {
			return err
		}
		return tx.audit(ctx, Change{Actor: actor, Action: "policy.update", ObjectType: "policy",
			ObjectID: fmt.Sprint(id), Before: summarizePolicy(old), After: summarizePolicy(&p)})
	})
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// Policy returns version of policy id, its current version when version
// is 0.
func (s *Store) Policy(ctx context.Context, id int64, version int) (*patchbay.Policy, error) {
	return s.policy(ctx, s.readQuerier(), id, version)
}

func (s *Store) policy(ctx context.Context, q querier, id int64, version int) (*patchbay.Policy, error) {
	query := "SELECT v.spec FROM policy_versions v JOIN policies p ON p.id = v.policy_id WHERE p.id = ? AND v.version = p.version"
	args := []any{id}
	if version != 0 {
		query = "SELECT spec FROM policy_versions WHERE policy_id = ? AND version = ?"
		args = append(args, version)
	}
	var spec string
	err := q.queryRow(ctx, query, args...).Scan(&spec)
	if errors.Is(err, sql.ErrNoRows) {
		if version != 0 {
			return nil, patchbay.Errorf(patchbay.ENotFound, "policy %d has no version %d", id, version)
		}
		return nil, patchbay.Errorf(patchbay.ENotFound, "no policy %d", id)
	}
	if err != nil {
		return nil, fmt.Errorf("load policy %d: %w", id, classify(err))
	}
	var p patchbay.Policy
	if err := json.Unmarshal([]byte(spec), &p); err != nil {
		return nil, fmt.Errorf("decode policy %d: %w", id, err)
	}
	return &p, nil
}

// PolicyByName returns the current version of the policy named name.
func (s *Store) PolicyByName(ctx context.Context, name string) (*patchbay.Policy, error) {
	var id int64
	err := s.queryRow(ctx, "SELECT id FROM policies WHERE name = ?", name).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, patchbay.Errorf(patchbay.ENotFound, "no policy named %q", name)
	}
	if err != nil {
		return nil, fmt.Errorf("find policy %s: %w", name, classify(err))
	}
	return s.Policy(ctx, id, 0)
}

// Policies returns the current version of every policy (enabled ones
// unless f.All), highest priority first, then by id.
func (s *Store) Policies(ctx context.Context, f patchbay.PolicyFilter) ([]patchbay.Policy, error) {
	q := `SELECT v.spec FROM policies p JOIN policy_versions v ON v.policy_id = p.id AND v.version = p.version`
	if !f.All {
		q += " WHERE p.enabled = 1"
	}
	rows, err := s.queryUncached(ctx, q+" ORDER BY p.priority DESC, p.id")
	if err != nil {
		return nil, fmt.Errorf("list policies: %w", err)
	}
	defer rows.Close()
	out := []patchbay.Policy{}
	for rows.Next() {
		var spec string
		if err := rows.Scan(&spec); err != nil {
			return nil, fmt.Errorf("list policies: %w", classify(err))
		}
		var p patchbay.Policy
		if err := json.Unmarshal([]byte(spec), &p); err != nil {
			return nil, fmt.Errorf("decode policy: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list policies: %w", classify(err))
	}
	return out, nil
}

// PolicyVersions returns every version of policy id, oldest first.
func (s *Store) PolicyVersions(ctx context.Context, id int64) ([]patchbay.Policy, error) {
	rows, err := s.queryUncached(ctx, "SELECT spec FROM policy_versions WHERE policy_id = ? ORDER BY version", id)
	if err != nil {
		return nil, fmt.Errorf("list versions of policy %d: %w", id, err)
	}
	defer rows.Close()
	var out []patchbay.Policy
	for rows.Next() {
		var spec string
		if err := rows.Scan(&spec); err != nil {
			return nil, fmt.Errorf("list versions of policy %d: %w", id, classify(err))
		}
		var p patchbay.Policy
		if err := json.Unmarshal([]byte(spec), &p); err != nil {
			return nil, fmt.Errorf("decode policy %d: %w", id, err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list versions of policy %d: %w", id, classify(err))
	}
	if len(out) == 0 {
		return nil, patchbay.Errorf(patchbay.ENotFound, "no policy %d", id)
	}
	return out, nil
}
