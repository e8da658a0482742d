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

// RolloutView is what the rollout controller reads of a deployment: its
// rules and state, and its jobs counted per ring.
type RolloutView struct {
	Deployment       patchbay.Deployment
	Current          int
	LastProgress     time.Time
	AutoRollback     bool
	ProgressDeadline time.Duration
	KeepUntil        *time.Time
	// RingOpened is when the ring in progress opened (zero before the
	// deployment first ran).
	RingOpened time.Time
	Forgiven   map[int]int
	// Counts holds, per ring, the number of jobs of each kind and state.
	Counts []map[JobCount]int
	// Finished is, per ring, when its last install job finished.
	Finished []time.Time
	// Zones are, per ring, the time zones of its hosts ("" for a host
	// that reported none), for windows in each host's zone.
	Zones [][]string
}

// JobCount names a count of RolloutView.
type JobCount struct {
	Kind  patchbay.JobKind
	State patchbay.JobState
}

// ActiveDeployments returns the ids of the deployments the controller
// looks after: approved, scheduled, running, and halted while rolling back.
func (s *Store) ActiveDeployments(ctx context.Context) ([]int64, error) {
	ids, err := scanIDs(s.queryUncached(ctx, `SELECT id FROM deployments WHERE state IN ('approved', 'scheduled', 'running')
		OR (state = 'halted' AND reason = 'rolling_back') ORDER BY id`))
	if err != nil {
		return nil, fmt.Errorf("active deployments: %w", err)
	}
	return ids, nil
}

// Rollout reads deployment id for the controller.
func (s *Store) Rollout(ctx context.Context, id int64) (*RolloutView, error) {
	return s.rollout(ctx, s.readQuerier(), id)
}

func (s *Store) rollout(ctx context.Context, q querier, id int64) (*RolloutView, error) {
	d, err := s.deployment(ctx, q, id, false)
	if err != nil {
		return nil, err
	}
	v := &RolloutView{Deployment: *d, Forgiven: map[int]int{}}
	var last, keep, opened sql.NullInt64
	var auto int
	var deadline int64
	var forgiven string
	err = q.queryRow(ctx, `SELECT current_ring, last_progress, auto_rollback, progress_deadline, keep_until, forgiven, ring_opened_at FROM deployments WHERE id = ?`, id).
		Scan(&v.Current, &last, &auto, &deadline, &keep, &forgiven, &opened)
	if err != nil {
		return nil, fmt.Errorf("rollout of deployment %d: %w", id, classify(err))
	}
	if last.Valid {
		v.LastProgress = fromMicros(last.Int64)
	}
	if keep.Valid {
		t := fromMicros(keep.Int64)
		v.KeepUntil = &t
	}
	if opened.Valid {
		v.RingOpened = fromMicros(opened.Int64)
	}
	v.AutoRollback, v.ProgressDeadline = auto != 0, time.Duration(deadline)*time.Second
	if err := json.Unmarshal([]byte(forgiven), &v.Forgiven); err != nil {
		return nil, fmt.Errorf("rollout of deployment %d: %w", id, err)
	}
	n := len(d.Rings)
	v.Counts, v.Finished = make([]map[JobCount]int, n), make([]time.Time, n)
	for i := range v.Counts {
		v.Counts[i] = map[JobCount]int{}
	}
	rows, err := q.queryRows(ctx, `SELECT ring, kind, state, COUNT(*), COALESCE(MAX(finished_at), 0) FROM jobs WHERE deployment_id = ?
		GROUP BY ring, kind, state`, id)
	if err != nil {
		return nil, fmt.Errorf("jobs of deployment %d: %w", id, classify(err))
	}
	defer rows.Close()
	for rows.Next() {
		var ring, count int
		var c JobCount
		var finished int64
		if err := rows.Scan(&ring, &c.Kind, &c.State, &count, &finished); err != nil {
			return nil, fmt.Errorf("jobs of deployment %d: %w", id, classify(err))
		}
		if ring < 0 || ring >= n {
			continue
		}
		v.Counts[ring][c] = count
		if c.Kind == patchbay.JobInstall && finished > 0 && fromMicros(finished).After(v.Finished[ring]) {
			v.Finished[ring] = fromMicros(finished)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("jobs of deployment %d: %w", id, classify(err))
	}
	rows.Close()
	v.Zones = make([][]string, n)
	zrows, err := q.queryRows(ctx, `SELECT DISTINCT j.ring, COALESCE(h.time_zone, '') FROM jobs j LEFT JOIN hosts h ON h.id = j.host_id
		WHERE j.deployment_id = ? AND j.kind = 'install' ORDER BY 1, 2`, id)
	if err != nil {
		return nil, fmt.Errorf("zones of deployment %d: %w", id, classify(err))
	}
	defer zrows.Close()
	for zrows.Next() {
		var ring int
		var zone string
		if err := zrows.Scan(&ring, &zone); err != nil {
			return nil, fmt.Errorf("zones of deployment %d: %w", id, classify(err))
		}
		if ring >= 0 && ring < n {
			v.Zones[ring] = append(v.Zones[ring], zone)
		}
	}
	return v, classify(zrows.Err())
}

// RolloutChange is what the controller stores: a deployment's next state
// (from the state it read, or the change is refused as EConflict), the
// ring in progress, when to look again, and what happens to the jobs.
type RolloutChange struct {
	ID         int64
	FromState  patchbay.DeploymentState
	FromReason patchbay.StateReason
	State      patchbay.DeploymentState
	Reason     patchbay.StateReason
	Detail     string
	Current    int
	Wake       time.Time
	Actor      string
	// What happens to the jobs.
	MakeJobs    bool // the deployment is scheduled: make its hosts' jobs
	SkipPending bool // jobs not handed out are skipped
	SkipOffline bool // the deadline passed: fetch and install jobs not taken are skipped, saying why
	// SkipOfflineRing: the current ring's offline grace passed: its fetch
	// and install jobs not taken are skipped, saying why.
	SkipOfflineRing bool
	RetryRing       bool // the current ring's failed install (and fetch) jobs run again
	ForgiveRing     bool // the current ring's failures so far are accepted
	RollbackRing    bool // the current ring's failed hosts roll back
	RollbackAll     bool // every host the deployment changed rolls back
	ResetProgress   bool // the progress deadline counts from now
	KeepUntil       time.Time
}

// ApplyRollout stores c in one transaction, with its audit event.
func (s *Store) ApplyRollout(ctx context.Context, c RolloutChange) error {
	now := s.now().UTC().Truncate(time.Microsecond)
	return s.inTx(ctx, func(tx *Tx) error {
		state, reason, current, err := tx.lockDeployment(ctx, c.ID)
		if err != nil {
			return err
		}
		if state != c.FromState || reason != c.FromReason {
			return patchbay.Errorf(patchbay.EConflict, "deployment %d is %s (%s) now, not %s (%s): decide again", c.ID, state, reason, c.FromState, c.FromReason)
		}
		if c.MakeJobs {
			if _, err := tx.createJobs(ctx, c.ID, now); err != nil {
				return err
			}
		}
		if err := tx.jobEffects(ctx, c, now); err != nil {
			return err
		}
		q := "UPDATE deployments SET state = ?, reason = ?, detail = ?, current_ring = ?, wake_at = ?, updated_at = ?"
		args := []any{c.State, c.Reason, c.Detail, c.Current, nullTimeValue(c.Wake), micros(now)}
		if c.ResetProgress {
			q += ", last_progress = ?"
			args = append(args, micros(now))
		}
		if c.State == patchbay.DeploymentRunning && (state != patchbay.DeploymentRunning || c.Current != current) {
			q += ", ring_opened_at = ?" // the offline grace counts from here
			args = append(args, micros(now))
		}
		if !c.KeepUntil.IsZero() {
			q += ", keep_until = ?"
			args = append(args, micros(c.KeepUntil))
		}
		if _, err := tx.exec(ctx, q+" WHERE id = ?", append(args, c.ID)...); err != nil {
			return fmt.Errorf("deployment %d: %w", c.ID, err)
		}
		s.fail("rollout-commit")
		if state == c.State && reason == c.Reason {
			return nil // the ring moved, or a wake time: not a transition
		}
		return tx.audit(ctx, Change{Actor: c.Actor, Action: "deployment." + string(c.State), ObjectType: "deployment", ObjectID: fmt.Sprint(c.ID),
			Before: map[string]any{"state": state, "reason": reason},
			After:  map[string]any{"state": c.State, "reason": c.Reason, "detail": c.Detail, "ring": c.Current}})
	})
}

// lockDeployment reads deployment id's state, reason and ring in progress
// under a lock on its row (FOR UPDATE on PostgreSQL; SQLite transactions
// here begin IMMEDIATE and hold the one write lock already). Every
// transaction that changes a deployment's jobs (a claim, a result, the
// controller's or a person's change) takes it before touching the jobs,
// so on PostgreSQL they take turns and each reads what the one before
// committed: a state checked is the state written over, and a ring's
// running jobs counted are all of them.
func (t *Tx) lockDeployment(ctx context.Context, id int64) (patchbay.DeploymentState, patchbay.StateReason, int, error) {
	var state patchbay.DeploymentState
	var reason patchbay.StateReason
	var current int
	q := "SELECT state, reason, current_ring FROM deployments WHERE id = ?"
	if t.s.loc.Engine == Postgres {
		q += " FOR UPDATE"
	}
	err := t.queryRow(ctx, q, id).Scan(&state, &reason, &current)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", 0, patchbay.Errorf(patchbay.ENotFound, "no deployment %d", id)
	}
	if err != nil {
		return "", "", 0, fmt.Errorf("deployment %d: %w", id, classify(err))
	}
	return state, reason, current, nil
}

// jobEffects applies c's effects on the deployment's jobs.
func (t *Tx) jobEffects(ctx context.Context, c RolloutChange, now time.Time) error {
	exec := func(what, q string, args ...any) error {
		if _, err := t.exec(ctx, q, args...); err != nil {
			return fmt.Errorf("deployment %d: %s: %w", c.ID, what, err)
		}
		return nil
	}
	if c.SkipOffline {
		if err := exec("skip hosts past the deadline", `UPDATE jobs SET state = 'skipped', reason = 'the host did not take it before the deployment''s deadline',
			updated_at = ? WHERE deployment_id = ? AND kind IN ('fetch', 'install') AND state = 'pending'`, micros(now), c.ID); err != nil {
			return err
		}
	}
	if c.SkipOfflineRing {
		if err := exec("skip hosts past the ring's offline grace", `UPDATE jobs SET state = 'skipped',
			reason = 'the host did not take it within the offline grace after its ring opened', updated_at = ?
			WHERE deployment_id = ? AND kind IN ('fetch', 'install') AND state = 'pending' AND ring = ?`, micros(now), c.ID, c.Current); err != nil {
			return err
		}
	}
	if c.SkipPending {
		if err := exec("skip pending jobs", "UPDATE jobs SET state = 'skipped', updated_at = ? WHERE deployment_id = ? AND state = 'pending'", micros(now), c.ID); err != nil {
			return err
		}
	}
	if c.RetryRing {
		// A failed fetch failed its host's install, and holds it back
		// (installs wait for their fetch): it runs again too.
		if err := exec("retry failed jobs", `UPDATE jobs SET state = 'pending', attempt = attempt + 1, handed_at = NULL, finished_at = NULL, updated_at = ?
			WHERE deployment_id = ? AND kind IN ('install', 'fetch') AND ring = ? AND state = 'failed'`, micros(now), c.ID, c.Current); err != nil {
			return err
		}
	}
	// A retry counts the accepted failures afresh too: the retried hosts'
	// failures are gone, and a new one of theirs counts.
	if c.ForgiveRing || c.RetryRing {
		var forgiven string
		var failed int
		if err := t.queryRow(ctx, "SELECT forgiven FROM deployments WHERE id = ?", c.ID).Scan(&forgiven); err != nil {
			return fmt.Errorf("deployment %d: %w", c.ID, classify(err))
		}
		if err := t.queryRow(ctx, "SELECT COUNT(*) FROM jobs WHERE deployment_id = ? AND kind = 'install' AND ring = ? AND state = 'failed'",
			c.ID, c.Current).Scan(&failed); err != nil {
			return fmt.Errorf("deployment %d: %w", c.ID, classify(err))
		}
		m := map[int]int{}
		json.Unmarshal([]byte(forgiven), &m)
		m[c.Current] = failed
		b, _ := json.Marshal(m)
		if err := exec("accept failures", "UPDATE deployments SET forgiven = ? WHERE id = ?", string(b), c.ID); err != nil {
			return err
		}
	}
	if c.RollbackRing || c.RollbackAll {
		// The widest scope ordered holds: a threshold's rollback during a
		// person's does not narrow it.
		scope := "failed"
		if c.RollbackAll {
			scope = "all"
		}
		if err := exec("rollback scope", "UPDATE deployments SET rollback_scope = ? WHERE id = ? AND rollback_scope <> 'all'", scope, c.ID); err != nil {
			return err
		}
		q := `SELECT host_id, ring, before, actions FROM jobs WHERE deployment_id = ? AND kind = 'install' AND ring = ? AND state = 'failed'`
		args := []any{c.ID, c.Current}
		if c.RollbackAll {
			q = `SELECT host_id, ring, before, actions FROM jobs WHERE deployment_id = ? AND kind = 'install' AND state IN ('succeeded', 'healthy', 'failed')`
			args = args[:1]
		}
		rows, err := t.queryRows(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("deployment %d: hosts to roll back: %w", c.ID, err)
		}
		var ins [][]any
		for rows.Next() {
			var host int64
			var ring int
			var before, installed string
			if err := rows.Scan(&host, &ring, &before, &installed); err != nil {
				rows.Close()
				return fmt.Errorf("deployment %d: hosts to roll back: %w", c.ID, classify(err))
			}
			var vs []patchbay.PackageVersion
			json.Unmarshal([]byte(before), &vs)
			var targets []patchbay.JobAction
			json.Unmarshal([]byte(installed), &targets)
			eco := ""
			if len(targets) > 0 {
				eco = targets[0].Ecosystem
			}
			var actions []patchbay.JobAction
			for _, v := range vs {
				if v.Version != "" { // a package the deployment added stays: nothing to go back to
					actions = append(actions, patchbay.JobAction{Ecosystem: eco, Name: v.Name, Arch: v.Arch, Version: v.Version})
				}
			}
			a, _ := json.Marshal(actions)
			ins = append(ins, []any{c.ID, host, ring, string(patchbay.JobRollback), 1, string(patchbay.JobPending), string(a), micros(now)})
		}
		rows.Close()
		if err := t.insertRows(ctx, "jobs", []string{"deployment_id", "host_id", "ring", "kind", "attempt", "state", "actions", "updated_at"}, ins,
			" ON CONFLICT (deployment_id, host_id, kind) DO NOTHING"); err != nil {
			return fmt.Errorf("deployment %d: order rollbacks: %w", c.ID, err)
		}
	}
	return nil
}

func nullTimeValue(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return micros(t)
}
