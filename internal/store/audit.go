package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/patchbay/patchbay"
)

// Change describes one change for the audit trail: who made it, what it was,
// and summaries of the object before and after (nil when there is none).
type Change struct {
	Actor      string
	Action     string
	ObjectType string
	ObjectID   string
	Before     any
	After      any
}

// audit appends c to the chain within t. The head row is read under a lock
// (FOR UPDATE on PostgreSQL; SQLite transactions here begin IMMEDIATE and so
// already hold the one write lock), so concurrent appends form one chain.
func (t *Tx) audit(ctx context.Context, c Change) error {
	e := patchbay.AuditEvent{
		At:         t.s.now().UTC().Truncate(time.Microsecond),
		Actor:      c.Actor,
		Action:     c.Action,
		ObjectType: c.ObjectType,
		ObjectID:   c.ObjectID,
	}
	var err error
	if e.Before, err = summary(c.Before); err != nil {
		return fmt.Errorf("audit %s: %w", c.Action, err)
	}
	if e.After, err = summary(c.After); err != nil {
		return fmt.Errorf("audit %s: %w", c.Action, err)
	}
	q := "SELECT seq, hash FROM audit_head WHERE id = 1"
	if t.s.loc.Engine == Postgres {
		q += " FOR UPDATE"
	}
	if err := t.queryRow(ctx, q).Scan(&e.Seq, &e.PrevHash); err != nil {
		return fmt.Errorf("audit %s: read head: %w", c.Action, classify(err))
	}
	e.Seq++
	e.Hash = e.ComputeHash()
	if _, err := t.exec(ctx, `INSERT INTO audit_events (seq, at, actor, action, object_type, object_id, before, after, prev_hash, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.Seq, micros(e.At), e.Actor, e.Action, e.ObjectType, e.ObjectID, nullText(e.Before), nullText(e.After), e.PrevHash, e.Hash); err != nil {
		return fmt.Errorf("audit %s: append: %w", c.Action, err)
	}
	if _, err := t.exec(ctx, "UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", e.Seq, e.Hash); err != nil {
		return fmt.Errorf("audit %s: move head: %w", c.Action, err)
	}
	return nil
}

func summary(v any) (json.RawMessage, error) {
	if v == nil {
		return nil, nil
	}
	return json.Marshal(v)
}

func nullText(b json.RawMessage) any {
	if b == nil {
		return nil
	}
	return string(b)
}

const auditColumns = "seq, at, actor, action, object_type, object_id, before, after, prev_hash, hash"

func scanAudit(sc interface{ Scan(...any) error }) (patchbay.AuditEvent, error) {
	var e patchbay.AuditEvent
	var at int64
	var before, after sql.NullString
	if err := sc.Scan(&e.Seq, &at, &e.Actor, &e.Action, &e.ObjectType, &e.ObjectID, &before, &after, &e.PrevHash, &e.Hash); err != nil {
		return e, err
	}
	e.At = fromMicros(at)
	if before.Valid {
		e.Before = json.RawMessage(before.String)
	}
	if after.Valid {
		e.After = json.RawMessage(after.String)
	}
	return e, nil
}

// ListAudit returns audit events matching f, oldest first.
func (s *Store) ListAudit(ctx context.Context, f patchbay.AuditFilter) ([]patchbay.AuditEvent, error) {
	var where []string
	var args []any
	add := func(cond string, arg any) { where = append(where, cond); args = append(args, arg) }
	if f.Actor != "" {
		add("actor = ?", f.Actor)
	}
	if f.ObjectType != "" {
		add("object_type = ?", f.ObjectType)
	}
	if f.ObjectID != "" {
		add("object_id = ?", f.ObjectID)
	}
	if !f.Since.IsZero() {
		add("at >= ?", micros(f.Since))
	}
	if !f.Until.IsZero() {
		add("at < ?", micros(f.Until))
	}
	if f.AfterSeq > 0 {
		add("seq > ?", f.AfterSeq)
	}
	q := "SELECT " + auditColumns + " FROM audit_events"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY seq LIMIT ?"
	args = append(args, f.Limit)
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	defer rows.Close()
	var out []patchbay.AuditEvent
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return nil, fmt.Errorf("list audit: %w", classify(err))
		}
		out = append(out, e)
	}
	return out, classify(rows.Err())
}

// VerifyAudit walks the whole chain in order and returns the number of
// entries checked. A tampered chain gives a *patchbay.ChainBreak naming the
// first entry at fault, including entries cut off the end (checked against
// the head row).
func (s *Store) VerifyAudit(ctx context.Context) (int64, error) {
	rows, err := s.query(ctx, "SELECT "+auditColumns+" FROM audit_events ORDER BY seq")
	if err != nil {
		return 0, fmt.Errorf("verify audit: %w", err)
	}
	defer rows.Close()
	var v patchbay.ChainVerifier
	var last patchbay.AuditEvent
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return v.Count, fmt.Errorf("verify audit: %w", classify(err))
		}
		if err := v.Next(&e); err != nil {
			return v.Count, err
		}
		last = e
	}
	if err := rows.Err(); err != nil {
		return v.Count, fmt.Errorf("verify audit: %w", classify(err))
	}
	var headSeq int64
	var headHash string
	if err := s.queryRow(ctx, "SELECT seq, hash FROM audit_head WHERE id = 1").Scan(&headSeq, &headHash); err != nil {
		return v.Count, fmt.Errorf("verify audit: read head: %w", classify(err))
	}
	if headSeq != last.Seq || headHash != last.Hash {
		return v.Count, &patchbay.ChainBreak{Seq: last.Seq + 1,
			Reason: fmt.Sprintf("the head records entry %d but the chain ends at %d: entries were removed from the end", headSeq, last.Seq)}
	}
	return v.Count, nil
}
