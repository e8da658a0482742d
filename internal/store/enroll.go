package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/protocol"
)

const enrollColumns = "id, name, created_at, created_by, expires_at, max_uses, uses, revoked_at, labels, groups_"

func scanEnrollSecret(sc interface{ Scan(...any) error }) (*patchbay.EnrollSecret, error) {
	var e patchbay.EnrollSecret
	var created int64
	var expires, revoked, maxUses sql.NullInt64
	var labels, groups string
	if err := sc.Scan(&e.ID, &e.Name, &created, &e.CreatedBy, &expires, &maxUses, &e.Uses, &revoked, &labels, &groups); err != nil {
		return nil, err
	}
	e.CreatedAt = fromMicros(created)
	e.ExpiresAt, e.RevokedAt = optTime(expires), optTime(revoked)
	if maxUses.Valid {
		n := int(maxUses.Int64)
		e.MaxUses = &n
	}
	if err := json.Unmarshal([]byte(labels), &e.Labels); err != nil {
		return nil, fmt.Errorf("enroll secret %d labels: %w", e.ID, err)
	}
	if err := json.Unmarshal([]byte(groups), &e.Groups); err != nil {
		return nil, fmt.Errorf("enroll secret %d groups: %w", e.ID, err)
	}
	return &e, nil
}

// NewEnrollSecret is what CreateEnrollSecret makes.
type NewEnrollSecret struct {
	Name      string
	ExpiresAt *time.Time
	MaxUses   *int
	Labels    []string
	Groups    []string
}

// CreateEnrollSecret makes an enroll secret and returns it with the secret,
// which is not kept and cannot be shown again.
func (s *Store) CreateEnrollSecret(ctx context.Context, actor string, n NewEnrollSecret) (*patchbay.EnrollSecret, string, error) {
	switch {
	case n.Name == "" || len(n.Name) > 100:
		return nil, "", patchbay.FieldError(patchbay.EUnprocessable, "name", "an enroll secret's name must be 1 to 100 characters")
	case n.ExpiresAt != nil && !n.ExpiresAt.After(s.now()):
		return nil, "", patchbay.FieldError(patchbay.EUnprocessable, "expires_at", "must be in the future")
	case n.MaxUses != nil && *n.MaxUses < 1:
		return nil, "", patchbay.FieldError(patchbay.EUnprocessable, "max_uses", "must be at least 1 (leave it out for no limit)")
	}
	if err := patchbay.ValidateTags("labels", n.Labels); err != nil {
		return nil, "", err
	}
	if err := patchbay.ValidateTags("groups", n.Groups); err != nil {
		return nil, "", err
	}
	secret, err := patchbay.NewSecret(protocol.EnrollSecretPrefix)
	if err != nil {
		return nil, "", err
	}
	hash := patchbay.HashSecret(secret)
	e := &patchbay.EnrollSecret{Name: n.Name, CreatedAt: fromMicros(micros(s.now())), CreatedBy: actor,
		MaxUses: n.MaxUses, Labels: nonNilStrings(n.Labels), Groups: nonNilStrings(n.Groups)}
	if n.ExpiresAt != nil {
		t := fromMicros(micros(*n.ExpiresAt))
		e.ExpiresAt = &t
	}
	labels, _ := json.Marshal(e.Labels)
	groups, _ := json.Marshal(e.Groups)
	var maxUses any
	if n.MaxUses != nil {
		maxUses = *n.MaxUses
	}
	err = s.inTx(ctx, func(tx *Tx) error {
		if err := tx.queryRow(ctx, `INSERT INTO enroll_secrets (name, hash, created_at, created_by, expires_at, max_uses, labels, groups_)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, e.Name, hash[:], micros(e.CreatedAt), actor, optMicros(e.ExpiresAt),
			maxUses, string(labels), string(groups)).Scan(&e.ID); err != nil {
			return fmt.Errorf("create enroll secret: %w", classify(err))
		}
		return tx.audit(ctx, Change{Actor: actor, Action: "enroll-secret.create", ObjectType: "enroll-secret",
			ObjectID: idString(e.ID), After: e})
	})
	if err != nil {
		return nil, "", err
	}
	return e, secret, nil
}

// EnrollSecrets lists enroll secrets, newest first.
func (s *Store) EnrollSecrets(ctx context.Context) ([]patchbay.EnrollSecret, error) {
	rows, err := s.query(ctx, "SELECT "+enrollColumns+" FROM enroll_secrets ORDER BY id DESC")
	if err != nil {
		return nil, fmt.Errorf("list enroll secrets: %w", err)
	}
	defer rows.Close()
	var out []patchbay.EnrollSecret
	for rows.Next() {
		e, err := scanEnrollSecret(rows)
		if err != nil {
			return nil, fmt.Errorf("list enroll secrets: %w", classify(err))
		}
		out = append(out, *e)
	}
	return out, classify(rows.Err())
}

// RevokeEnrollSecret stops an enroll secret from enrolling more hosts;
// hosts it enrolled keep their own tokens.
func (s *Store) RevokeEnrollSecret(ctx context.Context, actor string, id int64) (*patchbay.EnrollSecret, error) {
	var after *patchbay.EnrollSecret
	err := s.inTx(ctx, func(tx *Tx) error {
		before, err := scanEnrollSecret(tx.queryRow(ctx, "SELECT "+enrollColumns+" FROM enroll_secrets WHERE id = ?", id))
		if errors.Is(err, sql.ErrNoRows) {
			return patchbay.Errorf(patchbay.ENotFound, "no enroll secret %d", id)
		}
		if err != nil {
			return fmt.Errorf("load enroll secret %d: %w", id, classify(err))
		}
		after = before
		if before.RevokedAt != nil {
			return nil
		}
		e := *before
		now := fromMicros(micros(s.now()))
		e.RevokedAt = &now
		if _, err := tx.exec(ctx, "UPDATE enroll_secrets SET revoked_at = ? WHERE id = ?", micros(now), id); err != nil {
			return fmt.Errorf("revoke enroll secret %d: %w", id, err)
		}
		after = &e
		return tx.audit(ctx, Change{Actor: actor, Action: "enroll-secret.revoke", ObjectType: "enroll-secret",
			ObjectID: idString(id), Before: before, After: &e})
	})
	return after, err
}

// Enrollment is the outcome of Enroll.
type Enrollment struct {
	HostID              int64
	HostToken           string // shown to the agent once
	Reenrolled          bool   // the agent presented its previous token and kept its host
	PossibleDuplicateOf int64  // an active host with the same machine id
}

// Enroll exchanges an enroll secret for a new host token. An agent that
// presents its previous host token keeps its host record (the token is
// rotated); otherwise a new host is made, flagged as a possible duplicate
// when an active host has the same machine id: an enroll secret alone
// never takes over an existing host.
func (s *Store) Enroll(ctx context.Context, req protocol.EnrollRequest) (Enrollment, error) {
	var res Enrollment
	if !patchbay.WellFormedSecret(protocol.EnrollSecretPrefix, req.EnrollSecret) {
		return res, patchbay.FieldError(patchbay.EUnauthorized, "enroll_secret", "not a patchbay enroll secret")
	}
	cols, err := factsColumns(req.Facts)
	if err != nil {
		return res, err
	}
	token, err := patchbay.NewSecret(protocol.HostTokenPrefix)
	if err != nil {
		return res, err
	}
	tokenHash := patchbay.HashSecret(token)
	secretHash := patchbay.HashSecret(req.EnrollSecret)
	now := s.now()
	err = s.inTx(ctx, func(tx *Tx) error {
		es, err := scanEnrollSecret(tx.queryRow(ctx, "SELECT "+enrollColumns+" FROM enroll_secrets WHERE hash = ?", secretHash[:]))
		if errors.Is(err, sql.ErrNoRows) {
			return patchbay.FieldError(patchbay.EUnauthorized, "enroll_secret", "unknown enroll secret")
		}
		if err != nil {
			return fmt.Errorf("enroll: load secret: %w", classify(err))
		}
		if err := es.Usable(now); err != nil {
			return err
		}
		actor := fmt.Sprintf("enroll-secret:%d", es.ID)
		if _, err := tx.exec(ctx, "UPDATE enroll_secrets SET uses = uses + 1 WHERE id = ?", es.ID); err != nil {
			return fmt.Errorf("enroll: count use: %w", err)
		}
		if prev := req.HostToken; patchbay.WellFormedSecret(protocol.HostTokenPrefix, prev) {
			ph := patchbay.HashSecret(prev)
			var id int64
			err := tx.queryRow(ctx, "SELECT id FROM hosts WHERE token_hash = ? AND retired_at IS NULL", ph[:]).Scan(&id)
			if err == nil {
				if _, err := tx.exec(ctx, "UPDATE hosts SET token_hash = ? WHERE id = ?", tokenHash[:], id); err != nil {
					return fmt.Errorf("enroll: rotate token of host %d: %w", id, err)
				}
				if err := tx.writeFacts(ctx, id, cols, now); err != nil {
					return err
				}
				res = Enrollment{HostID: id, HostToken: token, Reenrolled: true}
				return tx.audit(ctx, Change{Actor: actor, Action: "host.reenroll", ObjectType: "host", ObjectID: idString(id),
					After: map[string]any{"hostname": cols.hostname, "machine_id": cols.machineID}})
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("enroll: look up previous token: %w", classify(err))
			}
			// An unknown or retired previous token: enroll as new.
		}
		var dup sql.NullInt64
		if cols.machineID != "" {
			err := tx.queryRow(ctx, "SELECT MIN(id) FROM hosts WHERE machine_id = ? AND retired_at IS NULL", cols.machineID).Scan(&dup)
			if err != nil {
				return fmt.Errorf("enroll: look up machine id: %w", classify(err))
			}
		}
		id, err := tx.insertHost(ctx, cols, es, tokenHash, dup, now)
		if err != nil {
			return err
		}
		res = Enrollment{HostID: id, HostToken: token, PossibleDuplicateOf: dup.Int64}
		after := map[string]any{"hostname": cols.hostname, "machine_id": cols.machineID, "labels": es.Labels, "groups": es.Groups}
		if dup.Valid {
			after["possible_duplicate_of"] = dup.Int64
		}
		return tx.audit(ctx, Change{Actor: actor, Action: "host.enroll", ObjectType: "host", ObjectID: idString(id), After: after})
	})
	return res, err
}

func (t *Tx) insertHost(ctx context.Context, c hostFacts, es *patchbay.EnrollSecret, tokenHash patchbay.TokenHash, dup sql.NullInt64, now time.Time) (int64, error) {
	var id int64
	err := t.queryRow(ctx, `INSERT INTO hosts (hostname, machine_id, os_family, os_name, os_release, os_codename, kernel, arch,
		criticality, owner, agent_version, reboot_required, created_at, last_seen_at, token_hash, enroll_secret_id,
		possible_duplicate_of, facts, facts_hash, boot_time, time_zone)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		c.hostname, c.machineID, c.osFamily, c.osName, c.osRelease, c.osCodename, c.kernel, c.arch,
		patchbay.CriticalityMedium, c.agentVersion, boolInt(c.rebootRequired), micros(now), micros(now), tokenHash[:], es.ID,
		dup, c.raw, c.hash, optMicros(c.bootTime), c.timeZone).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("enroll: create host %s: %w", c.hostname, classify(err))
	}
	if err := t.setTags(ctx, id, es.Labels, es.Groups); err != nil {
		return 0, fmt.Errorf("enroll: %w", err)
	}
	return id, nil
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
