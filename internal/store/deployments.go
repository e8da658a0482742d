package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/patchbay/patchbay"
)

// deploymentSpec is what a deployment keeps of its rules, stored as JSON.
type deploymentSpec struct {
	Windows []patchbay.WindowSpec `json:"windows"`
	Rings   []patchbay.Ring       `json:"rings"`
	Reboot  patchbay.RebootRule   `json:"reboot"`
	Checks  patchbay.HostChecks   `json:"checks"`
	// ManualStart is here, not a column: nothing queries it.
	ManualStart  bool `json:"manual_start,omitempty"`
	OfflineGrace int  `json:"offline_grace_seconds,omitempty"`
}

// deploymentSummary is what the audit trail keeps of a deployment.
type deploymentSummary struct {
	Name          string                   `json:"name"`
	State         patchbay.DeploymentState `json:"state"`
	Reason        patchbay.StateReason     `json:"reason"`
	PolicyID      *int64                   `json:"policy_id,omitempty"`
	PolicyVersion int                      `json:"policy_version,omitempty"`
	Hosts         int                      `json:"hosts"`
	Emergency     bool                     `json:"emergency,omitempty"`
}

func summarizeDeployment(d *patchbay.Deployment) deploymentSummary {
	return deploymentSummary{Name: d.Name, State: d.State, Reason: d.Reason, PolicyID: d.PolicyID,
		PolicyVersion: d.PolicyVersion, Hosts: d.HostCount, Emergency: d.Emergency}
}

// ScheduleMark is the scheduler's mark for one policy and host zone: the
// end of the last window it acted on or missed (internal/window.Due).
type ScheduleMark struct {
	PolicyID int64
	Zone     string
	Mark     time.Time
}

// ScheduleMarks returns every stored mark.
func (s *Store) ScheduleMarks(ctx context.Context) ([]ScheduleMark, error) {
	rows, err := s.queryUncached(ctx, "SELECT policy_id, zone, mark FROM schedule_marks ORDER BY policy_id, zone")
	if err != nil {
		return nil, fmt.Errorf("load schedule marks: %w", err)
	}
	defer rows.Close()
	var out []ScheduleMark
	for rows.Next() {
		var m ScheduleMark
		var at int64
		if err := rows.Scan(&m.PolicyID, &m.Zone, &at); err != nil {
			return nil, fmt.Errorf("load schedule marks: %w", classify(err))
		}
		m.Mark = fromMicros(at)
		out = append(out, m)
	}
	return out, classify(rows.Err())
}

// Schedule is what one scheduler pass decided: deployments to propose, the
// marks to move, and windows it missed (for the audit trail).
type Schedule struct {
	Deployments []*patchbay.Deployment
	Marks       []ScheduleMark
	Missed      []string
}

// CommitSchedule stores a scheduler pass in one transaction. A deployment
// whose Key is already stored is left as it is (the pass is idempotent), and
// Deployment.ID is set either way; created counts the new ones.
func (s *Store) CommitSchedule(ctx context.Context, actor string, sc Schedule) (created int, err error) {
	now := s.now().UTC().Truncate(time.Microsecond)
	err = s.inTx(ctx, func(tx *Tx) error {
		created = 0
		for _, d := range sc.Deployments {
			ok, err := tx.insertDeployment(ctx, actor, d, now)
			if err != nil {
				return err
			}
			if ok {
				created++
			}
		}
		for _, m := range sc.Marks {
			if _, err := tx.exec(ctx, `INSERT INTO schedule_marks (policy_id, zone, mark) VALUES (?, ?, ?)
				ON CONFLICT (policy_id, zone) DO UPDATE SET mark = excluded.mark`, m.PolicyID, m.Zone, micros(m.Mark)); err != nil {
				return fmt.Errorf("store schedule mark of policy %d: %w", m.PolicyID, err)
			}
		}
		for _, w := range sc.Missed {
			if err := tx.audit(ctx, Change{Actor: actor, Action: "schedule.missed", ObjectType: "window", ObjectID: w}); err != nil {
				return err
			}
		}
		s.fail("schedule-commit")
		return nil
	})
	return created, err
}

// CreateDeployment stores a deployment a person proposed.
func (s *Store) CreateDeployment(ctx context.Context, actor string, d *patchbay.Deployment) error {
	now := s.now().UTC().Truncate(time.Microsecond)
	return s.inTx(ctx, func(tx *Tx) error {
		ok, err := tx.insertDeployment(ctx, actor, d, now)
		if err == nil && !ok {
			err = patchbay.FieldError(patchbay.EConflict, "key", "a deployment with key %q exists", d.Key)
		}
		return err
	})
}

// insertDeployment stores d unless its key exists; it reports whether it
// did, and sets d.ID either way.
func (t *Tx) insertDeployment(ctx context.Context, actor string, d *patchbay.Deployment, now time.Time) (bool, error) {
	if d.Key != "" {
		var id int64
		err := t.queryRow(ctx, "SELECT id FROM deployments WHERE key = ?", d.Key).Scan(&id)
		if err == nil {
			d.ID = id
			return false, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return false, fmt.Errorf("find deployment %s: %w", d.Key, classify(err))
		}
	}
	spec, err := json.Marshal(deploymentSpec{Windows: d.Windows, Rings: d.Rings, Reboot: d.Reboot, Checks: d.Checks, ManualStart: d.ManualStart, OfflineGrace: d.OfflineGrace})
	if err != nil {
		return false, fmt.Errorf("encode deployment: %w", err)
	}
	d.CreatedAt, d.UpdatedAt, d.HostCount = now, now, len(d.Hosts)
	var key any
	if d.Key != "" {
		key = d.Key
	}
	err = t.queryRow(ctx, `INSERT INTO deployments (name, key, state, reason, detail, policy_id, policy_version, requested_by, emergency,
		window_start, window_end, spec, host_count, created_at, updated_at, auto_rollback, progress_deadline, deadline)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		d.Name, key, d.State, d.Reason, d.Detail, nullInt(d.PolicyID), d.PolicyVersion, d.RequestedBy, boolInt(d.Emergency),
		nullTime(d.WindowStart), nullTime(d.WindowEnd), string(spec), d.HostCount, micros(now), micros(now),
		boolInt(d.AutoRollback), d.ProgressDeadline, nullTime(d.Deadline)).Scan(&d.ID)
	if err != nil {
		return false, fmt.Errorf("store deployment %s: %w", d.Name, classify(err))
	}
	rows := make([][]any, 0, len(d.Hosts))
	for _, h := range d.Hosts {
		ups, err := json.Marshal(h.Updates)
		if err != nil {
			return false, fmt.Errorf("encode deployment %d host %d: %w", d.ID, h.HostID, err)
		}
		rows = append(rows, []any{d.ID, h.HostID, h.Ring, string(ups)})
	}
	if err := t.insertRows(ctx, "deployment_hosts", []string{"deployment_id", "host_id", "ring", "updates"}, rows, ""); err != nil {
		return false, fmt.Errorf("store hosts of deployment %d: %w", d.ID, err)
	}
	action := "deployment.propose"
	if d.Emergency {
		action = "deployment.propose-emergency" // skips windows and deferral: said loudly
	}
	return true, t.audit(ctx, Change{Actor: actor, Action: action, ObjectType: "deployment",
		ObjectID: fmt.Sprint(d.ID), After: summarizeDeployment(d)})
}

func nullInt(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

func nullTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return micros(*t)
}

const deploymentColumns = `id, name, COALESCE(key, ''), state, reason, detail, policy_id, COALESCE(policy_version, 0), requested_by,
	emergency, window_start, window_end, spec, host_count, created_at, updated_at, auto_rollback, progress_deadline, current_ring, deadline`

func scanDeployment(r rowScanner) (*patchbay.Deployment, error) {
	var d patchbay.Deployment
	var policy, ws, we sql.NullInt64
	var emergency int
	var spec string
	var created, updated int64
	var auto int
	var deadline sql.NullInt64
	if err := r.Scan(&d.ID, &d.Name, &d.Key, &d.State, &d.Reason, &d.Detail, &policy, &d.PolicyVersion, &d.RequestedBy,
		&emergency, &ws, &we, &spec, &d.HostCount, &created, &updated, &auto, &d.ProgressDeadline, &d.CurrentRing, &deadline); err != nil {
		return nil, err
	}
	if deadline.Valid {
		t := fromMicros(deadline.Int64)
		d.Deadline = &t
	}
	d.AutoRollback = auto != 0
	if policy.Valid {
		d.PolicyID = &policy.Int64
	}
	if ws.Valid {
		t := fromMicros(ws.Int64)
		d.WindowStart = &t
	}
	if we.Valid {
		t := fromMicros(we.Int64)
		d.WindowEnd = &t
	}
	var sp deploymentSpec
	if err := json.Unmarshal([]byte(spec), &sp); err != nil {
		return nil, fmt.Errorf("decode deployment %d: %w", d.ID, err)
	}
	d.Windows, d.Rings, d.Reboot, d.Checks, d.ManualStart, d.OfflineGrace = sp.Windows, sp.Rings, sp.Reboot, sp.Checks, sp.ManualStart, sp.OfflineGrace
	d.Emergency, d.CreatedAt, d.UpdatedAt = emergency != 0, fromMicros(created), fromMicros(updated)
	return &d, nil
}

// Deployment returns deployment id with its hosts and decisions.
func (s *Store) Deployment(ctx context.Context, id int64) (*patchbay.Deployment, error) {
	return s.deployment(ctx, s.readQuerier(), id, true)
}

func (s *Store) deployment(ctx context.Context, q querier, id int64, hosts bool) (*patchbay.Deployment, error) {
	d, err := scanDeployment(q.queryRow(ctx, "SELECT "+deploymentColumns+" FROM deployments WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, patchbay.Errorf(patchbay.ENotFound, "no deployment %d", id)
	}
	if err != nil {
		return nil, fmt.Errorf("load deployment %d: %w", id, classify(err))
	}
	if d.Approvals, err = s.approvals(ctx, q, "deployment_id", id); err != nil {
		return nil, err
	}
	if !hosts {
		return d, nil
	}
	rows, err := q.queryRows(ctx, `SELECT d.host_id, COALESCE(h.hostname, ''), d.ring, d.updates FROM deployment_hosts d
		LEFT JOIN hosts h ON h.id = d.host_id WHERE d.deployment_id = ? ORDER BY d.ring, d.host_id`, id)
	if err != nil {
		return nil, fmt.Errorf("load hosts of deployment %d: %w", id, classify(err))
	}
	defer rows.Close()
	for rows.Next() {
		var h patchbay.DeploymentHost
		var ups string
		if err := rows.Scan(&h.HostID, &h.Hostname, &h.Ring, &ups); err != nil {
			return nil, fmt.Errorf("load hosts of deployment %d: %w", id, classify(err))
		}
		if err := json.Unmarshal([]byte(ups), &h.Updates); err != nil {
			return nil, fmt.Errorf("decode deployment %d host %d: %w", id, h.HostID, err)
		}
		d.Hosts = append(d.Hosts, h)
	}
	return d, classify(rows.Err())
}

// Deployments lists deployments, newest first, without their hosts.
func (s *Store) Deployments(ctx context.Context, f patchbay.DeploymentFilter) ([]patchbay.Deployment, error) {
	var where []string
	var args []any
	if len(f.States) > 0 {
		where = append(where, "state IN ("+placeholders(len(f.States))+")")
		for _, st := range f.States {
			args = append(args, st)
		}
	}
	if f.PolicyID != 0 {
		where = append(where, "policy_id = ?")
		args = append(args, f.PolicyID)
	}
	if f.Cursor != 0 {
		where = append(where, "id < ?")
		args = append(args, f.Cursor)
	}
	q := "SELECT " + deploymentColumns + " FROM deployments"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id DESC"
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	rows, err := s.queryUncached(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list deployments: %w", err)
	}
	defer rows.Close()
	out := []patchbay.Deployment{}
	for rows.Next() {
		d, err := scanDeployment(rows)
		if err != nil {
			return nil, fmt.Errorf("list deployments: %w", classify(err))
		}
		out = append(out, *d)
	}
	return out, classify(rows.Err())
}

// DecideDeployment records approver's decision on a deployment awaiting
// approval: approved, or cancelled as rejected. Nobody decides on their own
// request.
func (s *Store) DecideDeployment(ctx context.Context, actor string, approver *patchbay.User, id int64, dec patchbay.Decision, comment string) (*patchbay.Deployment, error) {
	if err := validateDecision(dec, comment); err != nil {
		return nil, err
	}
	var d *patchbay.Deployment
	err := s.inTx(ctx, func(tx *Tx) error {
		var err error
		if d, err = tx.s.deployment(ctx, txQuerier{tx}, id, false); err != nil {
			return err
		}
		if err := patchbay.CheckApprover(approver, d.RequestedBy); err != nil {
			return err
		}
		if d.RequestedBy == 0 && d.PolicyID != nil {
			// A proposal has no requester; the authors of the policy, up
			// to the version that proposed it, stand in for one: who wrote
			// what gets deployed does not also approve it.
			var wrote int
			err := tx.queryRow(ctx, "SELECT COUNT(*) FROM policy_versions WHERE policy_id = ? AND version <= ? AND created_by = ?",
				*d.PolicyID, d.PolicyVersion, approver.ID).Scan(&wrote)
			if err != nil {
				return fmt.Errorf("policy %d version %d: %w", *d.PolicyID, d.PolicyVersion, classify(err))
			}
			if wrote > 0 {
				return patchbay.Errorf(patchbay.EForbidden, "user %s wrote the policy that proposed this deployment (up to its version %d) and may not approve or reject it",
					approver.Name, d.PolicyVersion)
			}
		}
		if d.State != patchbay.DeploymentAwaitingApproval {
			return patchbay.Errorf(patchbay.EConflict, "deployment %d is %s, not awaiting approval", id, d.State)
		}
		before := summarizeDeployment(d)
		d.State, d.Reason = patchbay.DeploymentApproved, patchbay.ReasonApproved
		d.Detail = "approved by " + approver.Name
		if dec == patchbay.Reject {
			d.State, d.Reason = patchbay.DeploymentCancelled, patchbay.ReasonRejected
			d.Detail = "rejected by " + approver.Name
		}
		d.UpdatedAt = tx.s.now().UTC().Truncate(time.Microsecond)
		// Conditional on the state read: on PostgreSQL another decision
		// may have committed since, and this one must not overwrite it.
		r, err := tx.exec(ctx, "UPDATE deployments SET state = ?, reason = ?, detail = ?, updated_at = ? WHERE id = ? AND state = ?",
			d.State, d.Reason, d.Detail, micros(d.UpdatedAt), id, patchbay.DeploymentAwaitingApproval)
		if err != nil {
			return fmt.Errorf("decide deployment %d: %w", id, err)
		}
		if n, _ := r.RowsAffected(); n != 1 {
			return patchbay.Errorf(patchbay.EConflict, "deployment %d was decided meanwhile, not awaiting approval", id)
		}
		a, err := tx.insertApproval(ctx, "deployment_id", id, approver, dec, comment)
		if err != nil {
			return err
		}
		d.Approvals = append(d.Approvals, *a)
		return tx.audit(ctx, Change{Actor: actor, Action: "deployment." + string(dec), ObjectType: "deployment",
			ObjectID: fmt.Sprint(id), Before: before, After: struct {
				deploymentSummary
				Comment string `json:"comment"`
			}{summarizeDeployment(d), comment}})
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// DeploymentHostIDs returns the hosts of deployment id.
func (s *Store) DeploymentHostIDs(ctx context.Context, id int64) ([]int64, error) {
	ids, err := scanIDs(s.query(ctx, "SELECT host_id FROM deployment_hosts WHERE deployment_id = ?", id))
	if err != nil {
		return nil, fmt.Errorf("hosts of deployment %d: %w", id, err)
	}
	return ids, nil
}

// scanIDs reads the one integer column of rows (closing them), or passes
// on the query's error.
func scanIDs(rows *sql.Rows, err error) ([]int64, error) {
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, classify(err)
		}
		out = append(out, id)
	}
	return out, classify(rows.Err())
}
