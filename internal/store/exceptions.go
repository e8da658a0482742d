package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/patchbay/patchbay"
)

// NewException is a request to accept the risk of some findings.
type NewException struct {
	Advisory, Package, Group string
	Reason                   string
	ExpiresAt                time.Time
}

// validate checks a request against now.
func (e NewException) validate(now time.Time) error {
	if e.Advisory == "" && e.Package == "" && e.Group == "" {
		return patchbay.FieldError(patchbay.EUnprocessable, "advisory", "scope the exception to an advisory, a package or a host group (or a combination)")
	}
	if err := patchbay.ValidateText("advisory", e.Advisory, 100); err != nil {
		return err
	}
	if err := patchbay.ValidateText("package", e.Package, 256); err != nil {
		return err
	}
	if e.Group != "" {
		if err := patchbay.ValidateTags("group", []string{e.Group}); err != nil {
			return err
		}
	}
	if len(e.Reason) < 10 {
		return patchbay.FieldError(patchbay.EUnprocessable, "reason", "say why the risk is accepted, in at least 10 characters")
	}
	if err := patchbay.ValidateText("reason", e.Reason, 2000); err != nil {
		return err
	}
	switch {
	case e.ExpiresAt.IsZero():
		return patchbay.FieldError(patchbay.EUnprocessable, "expires_at", "required: an exception must expire")
	case !e.ExpiresAt.After(now):
		return patchbay.FieldError(patchbay.EUnprocessable, "expires_at", "%s is not in the future", e.ExpiresAt.UTC().Format(time.RFC3339))
	case e.ExpiresAt.After(now.AddDate(2, 0, 0)):
		return patchbay.FieldError(patchbay.EUnprocessable, "expires_at", "at most two years ahead; accept the risk again when it expires")
	}
	return nil
}

// CreateException stores a pending exception requested by user; it counts
// once another person approves it.
func (s *Store) CreateException(ctx context.Context, actor string, user int64, e NewException) (*patchbay.Exception, error) {
	now := s.now().UTC().Truncate(time.Microsecond)
	if err := e.validate(now); err != nil {
		return nil, err
	}
	x := &patchbay.Exception{Advisory: e.Advisory, Package: e.Package, Group: e.Group, Reason: e.Reason,
		State: patchbay.ExceptionPending, ExpiresAt: e.ExpiresAt.UTC().Truncate(time.Microsecond), RequestedBy: user, CreatedAt: now}
	err := s.inTx(ctx, func(tx *Tx) error {
		err := tx.queryRow(ctx, `INSERT INTO exceptions (advisory, package, grp, reason, state, expires_at, requested_by, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, x.Advisory, x.Package, x.Group, x.Reason, x.State,
			micros(x.ExpiresAt), user, micros(now)).Scan(&x.ID)
		if err != nil {
			return fmt.Errorf("create exception: %w", classify(err))
		}
		return tx.audit(ctx, Change{Actor: actor, Action: "exception.create", ObjectType: "exception", ObjectID: fmt.Sprint(x.ID), After: x})
	})
	if err != nil {
		return nil, err
	}
	return x, nil
}

// DecideException records approver's decision on a pending exception.
// Nobody decides on their own request.
func (s *Store) DecideException(ctx context.Context, actor string, approver *patchbay.User, id int64, d patchbay.Decision, comment string) (*patchbay.Exception, error) {
	if err := validateDecision(d, comment); err != nil {
		return nil, err
	}
	var x *patchbay.Exception
	err := s.inTx(ctx, func(tx *Tx) error {
		var err error
		if x, err = tx.s.exception(ctx, txQuerier{tx}, id); err != nil {
			return err
		}
		if err := patchbay.CheckApprover(approver, x.RequestedBy); err != nil {
			return err
		}
		if x.State != patchbay.ExceptionPending {
			return patchbay.Errorf(patchbay.EConflict, "exception %d is %s, not pending", id, x.State)
		}
		if d == patchbay.Approve && !tx.s.now().Before(x.ExpiresAt) {
			return patchbay.Errorf(patchbay.EConflict, "exception %d expired at %s while it waited; reject it and request it again",
				id, x.ExpiresAt.UTC().Format(time.RFC3339))
		}
		before := *x
		x.State = patchbay.ExceptionActive
		if d == patchbay.Reject {
			x.State = patchbay.ExceptionRejected
		}
		// Conditional on the state read: on PostgreSQL another decision
		// may have committed since, and this one must not overwrite it.
		r, err := tx.exec(ctx, "UPDATE exceptions SET state = ? WHERE id = ? AND state = ?", x.State, id, patchbay.ExceptionPending)
		if err != nil {
			return fmt.Errorf("decide exception %d: %w", id, err)
		}
		if n, _ := r.RowsAffected(); n != 1 {
			return patchbay.Errorf(patchbay.EConflict, "exception %d was decided meanwhile, not pending", id)
		}
		if x.Approval, err = tx.insertApproval(ctx, "exception_id", id, approver, d, comment); err != nil {
			return err
		}
		return tx.audit(ctx, Change{Actor: actor, Action: "exception." + string(d), ObjectType: "exception", ObjectID: fmt.Sprint(id), Before: before, After: x})
	})
	if err != nil {
		return nil, err
	}
	return x, nil
}

// RevokeException ends an exception before its expiry; its findings count
// again.
func (s *Store) RevokeException(ctx context.Context, actor string, id int64) (*patchbay.Exception, error) {
	var x *patchbay.Exception
	err := s.inTx(ctx, func(tx *Tx) error {
		var err error
		if x, err = tx.s.exception(ctx, txQuerier{tx}, id); err != nil {
			return err
		}
		switch x.State {
		case patchbay.ExceptionRevoked, patchbay.ExceptionRejected, patchbay.ExceptionExpired:
			return patchbay.Errorf(patchbay.EConflict, "exception %d is already %s", id, x.State)
		}
		before := *x
		x.State = patchbay.ExceptionRevoked
		if _, err := tx.exec(ctx, "UPDATE exceptions SET state = ? WHERE id = ?", x.State, id); err != nil {
			return fmt.Errorf("revoke exception %d: %w", id, err)
		}
		return tx.audit(ctx, Change{Actor: actor, Action: "exception.revoke", ObjectType: "exception", ObjectID: fmt.Sprint(id), Before: before, After: x})
	})
	if err != nil {
		return nil, err
	}
	return x, nil
}

const exceptionColumns = "id, advisory, package, grp, reason, state, expires_at, requested_by, created_at"

func scanException(r rowScanner) (*patchbay.Exception, error) {
	var x patchbay.Exception
	var exp, created int64
	if err := r.Scan(&x.ID, &x.Advisory, &x.Package, &x.Group, &x.Reason, &x.State, &exp, &x.RequestedBy, &created); err != nil {
		return nil, err
	}
	x.ExpiresAt, x.CreatedAt = fromMicros(exp), fromMicros(created)
	return &x, nil
}

func (s *Store) exception(ctx context.Context, q querier, id int64) (*patchbay.Exception, error) {
	x, err := scanException(q.queryRow(ctx, "SELECT "+exceptionColumns+" FROM exceptions WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, patchbay.Errorf(patchbay.ENotFound, "no exception %d", id)
	}
	if err != nil {
		return nil, fmt.Errorf("load exception %d: %w", id, classify(err))
	}
	apps, err := s.approvals(ctx, q, "exception_id", id)
	if err != nil {
		return nil, err
	}
	if len(apps) > 0 {
		x.Approval = &apps[len(apps)-1]
	}
	x.State = x.StateAt(s.now())
	return x, nil
}

// Exception returns exception id with its decision.
func (s *Store) Exception(ctx context.Context, id int64) (*patchbay.Exception, error) {
	return s.exception(ctx, s.readQuerier(), id)
}

// Exceptions lists exceptions, newest first: those active now (with the
// state read at now, so expired ones show as expired) unless all is set.
func (s *Store) Exceptions(ctx context.Context, all bool) ([]patchbay.Exception, error) {
	q := "SELECT " + exceptionColumns + " FROM exceptions"
	var args []any
	if !all {
		q += " WHERE state = ? AND expires_at > ?"
		args = append(args, patchbay.ExceptionActive, micros(s.now()))
	}
	rows, err := s.queryUncached(ctx, q+" ORDER BY id DESC", args...)
	if err != nil {
		return nil, fmt.Errorf("list exceptions: %w", err)
	}
	defer rows.Close()
	out := []patchbay.Exception{}
	byID := map[int64]int{}
	for rows.Next() {
		x, err := scanException(rows)
		if err != nil {
			return nil, fmt.Errorf("list exceptions: %w", classify(err))
		}
		x.State = x.StateAt(s.now())
		byID[x.ID] = len(out)
		out = append(out, *x)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list exceptions: %w", classify(err))
	}
	rows.Close()
	// Each one's decision, the last when there are several.
	ids := make([]int64, 0, len(out))
	for _, x := range out {
		ids = append(ids, x.ID)
	}
	err = inChunks(ctx, s.readQuerier(), `SELECT a.exception_id, a.id, a.decision, a.by_user, COALESCE(u.name, ''), a.comment, a.at
		FROM approvals a LEFT JOIN users u ON u.id = a.by_user WHERE a.exception_id IN (%s) ORDER BY a.id`, ids, func(rows *sql.Rows) error {
		var xid, at int64
		var a patchbay.Approval
		if err := rows.Scan(&xid, &a.ID, &a.Decision, &a.By, &a.ByName, &a.Comment, &at); err != nil {
			return err
		}
		a.At = fromMicros(at)
		out[byID[xid]].Approval = &a
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list exceptions: %w", err)
	}
	return out, nil
}

// validateDecision checks an approver's input.
func validateDecision(d patchbay.Decision, comment string) error {
	if d != patchbay.Approve && d != patchbay.Reject {
		return patchbay.FieldError(patchbay.EUnprocessable, "decision", "unknown decision %q (want approve or reject)", d)
	}
	if comment == "" {
		return patchbay.FieldError(patchbay.EUnprocessable, "comment", "required: say why, for the audit trail")
	}
	return patchbay.ValidateText("comment", comment, 2000)
}

// insertApproval records a decision on the row column = id.
func (t *Tx) insertApproval(ctx context.Context, column string, id int64, by *patchbay.User, d patchbay.Decision, comment string) (*patchbay.Approval, error) {
	a := &patchbay.Approval{Decision: d, By: by.ID, ByName: by.Name, Comment: comment, At: t.s.now().UTC().Truncate(time.Microsecond)}
	err := t.queryRow(ctx, "INSERT INTO approvals ("+column+", decision, by_user, comment, at) VALUES (?, ?, ?, ?, ?) RETURNING id",
		id, d, by.ID, comment, micros(a.At)).Scan(&a.ID)
	if err != nil {
		return nil, fmt.Errorf("record decision: %w", classify(err))
	}
	return a, nil
}

// approvals returns the decisions on the row column = id, oldest first.
func (s *Store) approvals(ctx context.Context, q querier, column string, id int64) ([]patchbay.Approval, error) {
	rows, err := q.queryRows(ctx, `SELECT a.id, a.decision, a.by_user, COALESCE(u.name, ''), a.comment, a.at FROM approvals a
		LEFT JOIN users u ON u.id = a.by_user WHERE a.`+column+` = ? ORDER BY a.id`, id)
	if err != nil {
		return nil, fmt.Errorf("load decisions: %w", classify(err))
	}
	defer rows.Close()
	var out []patchbay.Approval
	for rows.Next() {
		var a patchbay.Approval
		var at int64
		if err := rows.Scan(&a.ID, &a.Decision, &a.By, &a.ByName, &a.Comment, &at); err != nil {
			return nil, fmt.Errorf("load decisions: %w", classify(err))
		}
		a.At = fromMicros(at)
		out = append(out, a)
	}
	return out, classify(rows.Err())
}
