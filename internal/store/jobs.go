package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/protocol"
)

// Jobs are made when a deployment is scheduled: for every host, a fetch
// job (the targets downloaded ahead, the installed versions' files kept)
// and an install job. A rollback adds a rollback job per host. Agents
// claim them by long poll (ClaimJobs) and report them (RecordJobResult);
// the rollout controller (internal/rollout) reads their counts per ring.

// JobCandidate is a pending job offered to its host, with what deciding
// whether it may start now needs.
type JobCandidate struct {
	Job     patchbay.Job
	Windows []patchbay.WindowSpec
	Reboot  patchbay.RebootRule
	Checks  patchbay.HostChecks
	Ring    patchbay.Ring
	// Emergency deployments skip windows.
	Emergency bool
	// HostZone is the host's IANA time zone ("" when it reported none).
	HostZone string
}

// createJobs makes the fetch and install jobs of deployment d's hosts.
func (t *Tx) createJobs(ctx context.Context, d int64, now time.Time) (int, error) {
	rows, err := t.queryRows(ctx, "SELECT host_id, ring, updates FROM deployment_hosts WHERE deployment_id = ? ORDER BY host_id", d)
	if err != nil {
		return 0, fmt.Errorf("hosts of deployment %d: %w", d, err)
	}
	var ins [][]any
	for rows.Next() {
		var host int64
		var ring int
		var ups string
		if err := rows.Scan(&host, &ring, &ups); err != nil {
			rows.Close()
			return 0, fmt.Errorf("hosts of deployment %d: %w", d, classify(err))
		}
		var planned []patchbay.PlannedUpdate
		if err := json.Unmarshal([]byte(ups), &planned); err != nil {
			rows.Close()
			return 0, fmt.Errorf("deployment %d host %d: %w", d, host, err)
		}
		actions := make([]patchbay.JobAction, len(planned))
		for i, p := range planned {
			actions[i] = patchbay.JobAction{Ecosystem: p.Ecosystem, Name: p.Name, Arch: p.Arch, Version: p.ToVersion}
		}
		a, _ := json.Marshal(actions)
		for _, kind := range []patchbay.JobKind{patchbay.JobFetch, patchbay.JobInstall} {
			ins = append(ins, []any{d, host, ring, string(kind), 1, string(patchbay.JobPending), string(a), micros(now)})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("hosts of deployment %d: %w", d, classify(err))
	}
	err = t.insertRows(ctx, "jobs", []string{"deployment_id", "host_id", "ring", "kind", "attempt", "state", "actions", "updated_at"}, ins,
		" ON CONFLICT (deployment_id, host_id, kind) DO NOTHING")
	if err != nil {
		return 0, fmt.Errorf("make jobs of deployment %d: %w", d, err)
	}
	return len(ins) / 2, nil
}

const jobColumns = `j.id, j.deployment_id, j.host_id, COALESCE(h.hostname, ''), j.ring, j.kind, j.attempt, j.state, j.actions, j.before, j.after,
	j.reason, j.output, j.recovered, j.handed_at, j.finished_at, h.last_seen_at`

func scanJob(r rowScanner) (patchbay.Job, error) {
	var j patchbay.Job
	var actions, before, after string
	var recovered int
	var handed, finished, seen sql.NullInt64
	if err := r.Scan(&j.ID, &j.DeploymentID, &j.HostID, &j.Hostname, &j.Ring, &j.Kind, &j.Attempt, &j.State, &actions, &before, &after,
		&j.Reason, &j.Output, &recovered, &handed, &finished, &seen); err != nil {
		return j, err
	}
	if err := json.Unmarshal([]byte(actions), &j.Actions); err != nil {
		return j, fmt.Errorf("job %d actions: %w", j.ID, err)
	}
	for _, v := range []struct {
		text string
		into *[]patchbay.PackageVersion
	}{{before, &j.Before}, {after, &j.After}} {
		if v.text != "" {
			if err := json.Unmarshal([]byte(v.text), v.into); err != nil {
				return j, fmt.Errorf("job %d versions: %w", j.ID, err)
			}
		}
	}
	j.Recovered = recovered != 0
	if handed.Valid {
		t := fromMicros(handed.Int64)
		j.HandedAt = &t
	}
	if finished.Valid {
		t := fromMicros(finished.Int64)
		j.FinishedAt = &t
	}
	if seen.Valid {
		t := fromMicros(seen.Int64)
		j.HostLastSeen = &t
	}
	return j, nil
}

// JobPage lists a page of deployment's jobs that f selects, by id, and
// the cursor of the next page (0: none).
func (s *Store) JobPage(ctx context.Context, deployment int64, f patchbay.JobFilter) ([]patchbay.Job, int64, error) {
	cols := jobColumns
	if !f.Output {
		cols = strings.Replace(cols, "j.output", "''", 1)
	}
	q := "SELECT " + cols + " FROM jobs j LEFT JOIN hosts h ON h.id = j.host_id WHERE j.deployment_id = ? AND j.id > ?"
	args := []any{deployment, f.Cursor}
	if f.Kind != "" {
		q += " AND j.kind = ?"
		args = append(args, f.Kind)
	}
	if f.State != "" {
		q += " AND j.state = ?"
		args = append(args, f.State)
	}
	if f.HostID != 0 {
		q += " AND j.host_id = ?"
		args = append(args, f.HostID)
	}
	limit := cmp.Or(f.Limit, 500)
	rows, err := s.queryUncached(ctx, q+" ORDER BY j.id LIMIT ?", append(args, limit+1)...)
	if err != nil {
		return nil, 0, fmt.Errorf("jobs of deployment %d: %w", deployment, classify(err))
	}
	defer rows.Close()
	out := []patchbay.Job{}
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("jobs of deployment %d: %w", deployment, classify(err))
		}
		out = append(out, j)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("jobs of deployment %d: %w", deployment, classify(err))
	}
	var next int64
	if len(out) > limit {
		out = out[:limit]
		next = out[limit-1].ID
	}
	return out, next, nil
}

// Jobs lists a deployment's jobs, by ring and host; kind "" lists every
// kind.
func (s *Store) Jobs(ctx context.Context, deployment int64, kind patchbay.JobKind) ([]patchbay.Job, error) {
	q := "SELECT " + jobColumns + " FROM jobs j LEFT JOIN hosts h ON h.id = j.host_id WHERE j.deployment_id = ?"
	args := []any{deployment}
	if kind != "" {
		q += " AND j.kind = ?"
		args = append(args, kind)
	}
	rows, err := s.queryUncached(ctx, q+" ORDER BY j.ring, j.host_id, j.kind", args...)
	if err != nil {
		return nil, fmt.Errorf("jobs of deployment %d: %w", deployment, err)
	}
	defer rows.Close()
	out := []patchbay.Job{}
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, fmt.Errorf("jobs of deployment %d: %w", deployment, classify(err))
		}
		out = append(out, j)
	}
	return out, classify(rows.Err())
}

// ClaimJobs hands host's due jobs to its agent, at most max: in one
// transaction it reads the host's pending jobs of deployments that may
// run them, asks may (the caller's window rule) whether each may start at
// now and until when, holds install jobs to their ring's max_parallel, and
// marks the chosen ones running. Fetch jobs run once their deployment is
// scheduled; install jobs when it is running, their ring is the current
// one and the host's fetch job succeeded (its previous packages are kept
// for a rollback); rollback jobs while it rolls back. Jobs handed out
// before and not reported are offered again, under the same attempt.
func (s *Store) ClaimJobs(ctx context.Context, host int64, now time.Time, max int, may func(JobCandidate) (startBy time.Time, ok bool)) ([]protocol.Job, error) {
	// Most polls find nothing: a read says so without a write transaction
	// (SQLite has one writer; idle agents must not queue behind it).
	var open int
	err := s.queryRow(ctx, "SELECT COUNT(*) FROM jobs WHERE host_id = ? AND state IN ('pending', 'running')", host).Scan(&open)
	if err != nil {
		return nil, fmt.Errorf("jobs of host %d: %w", host, classify(err))
	}
	if open == 0 {
		return nil, nil
	}
	var out []protocol.Job
	err = s.inGroupTx(ctx, func(tx *Tx) error {
		out = out[:0]
		rows, err := tx.queryRows(ctx, `SELECT `+jobColumns+`, d.state, d.reason, d.current_ring, d.spec, d.emergency, COALESCE(h.time_zone, '')
			FROM jobs j JOIN deployments d ON d.id = j.deployment_id LEFT JOIN hosts h ON h.id = j.host_id
			WHERE j.host_id = ? AND (j.state = 'running' OR (j.state = 'pending' AND (j.kind <> 'install' OR EXISTS (
				SELECT 1 FROM jobs f WHERE f.deployment_id = j.deployment_id AND f.host_id = j.host_id AND f.kind = 'fetch'
				AND f.state IN ('succeeded', 'healthy'))))) ORDER BY j.deployment_id, j.kind`, host)
		if err != nil {
			return fmt.Errorf("jobs of host %d: %w", host, err)
		}
		type cand struct {
			JobCandidate
			state   patchbay.DeploymentState
			reason  patchbay.StateReason
			current int
		}
		var cands []cand
		specs := map[int64]deploymentSpec{}
		type deploymentNow struct {
			state   patchbay.DeploymentState
			reason  patchbay.StateReason
			current int
		}
		locked := map[int64]deploymentNow{}
		for rows.Next() {
			var c cand
			var spec string
			var emergency int
			j, err := scanJob(multiScanner{rows, []any{&c.state, &c.reason, &c.current, &spec, &emergency, &c.HostZone}})
			if err != nil {
				rows.Close()
				return fmt.Errorf("jobs of host %d: %w", host, classify(err))
			}
			sp, ok := specs[j.DeploymentID]
			if !ok {
				// A host's fetch and install share their deployment's spec:
				// decoded once a poll.
				if err := json.Unmarshal([]byte(spec), &sp); err != nil {
					rows.Close()
					return fmt.Errorf("deployment %d: %w", j.DeploymentID, err)
				}
				specs[j.DeploymentID] = sp
			}
			c.Job, c.Windows, c.Reboot, c.Checks, c.Emergency = j, sp.Windows, sp.Reboot, sp.Checks, emergency != 0
			if j.Ring < len(sp.Rings) {
				c.Ring = sp.Rings[j.Ring]
			}
			cands = append(cands, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("jobs of host %d: %w", host, classify(err))
		}
		for _, c := range cands {
			if len(out) >= max {
				break
			}
			if c.Job.State == patchbay.JobRunning {
				// Handed out before, and not reported: the answer may never
				// have reached the agent (a connection cut, a server killed
				// after committing). Offered again under the same attempt;
				// an agent that has it journalled does not run it twice.
				startBy, ok := may(c.JobCandidate)
				if !ok || (c.state != patchbay.DeploymentRunning && c.Job.Kind == patchbay.JobInstall) {
					// Past: an install outside its window is refused and
					// waits; one of a deployment paused or halted since
					// (nothing new starts) is refused and waits for the
					// resume; one of a deployment that ended (cancelled,
					// rolled back) is refused, and skipped. An agent that
					// has it journalled reports what it did.
					startBy = *c.Job.HandedAt
				}
				out = append(out, c.protocolJob(startBy))
				continue
			}
			if !c.due(c.state, c.reason, c.current) {
				continue
			}
			// Decided again under the deployment's lock: what was read
			// above may have changed since (a halt, a cancel, another
			// host's claim of the ring's last parallel slot).
			l, ok := locked[c.Job.DeploymentID]
			switch {
			case ok:
			case s.loc.Engine == SQLite:
				// The rows above were read inside this transaction, which
				// holds SQLite's one write lock: nothing changed since.
				l = deploymentNow{c.state, c.reason, c.current}
				locked[c.Job.DeploymentID] = l
			default:
				if l.state, l.reason, l.current, err = tx.lockDeployment(ctx, c.Job.DeploymentID); err != nil {
					return err
				}
				locked[c.Job.DeploymentID] = l
			}
			if !c.due(l.state, l.reason, l.current) {
				continue
			}
			startBy, ok := may(c.JobCandidate)
			if !ok {
				continue
			}
			if c.Job.Kind == patchbay.JobInstall && c.Ring.MaxParallel > 0 {
				// Hosts installing, and those installed but still watched
				// for health (succeeded, not yet healthy), take a slot.
				var running int
				if err := tx.queryRow(ctx, "SELECT COUNT(*) FROM jobs WHERE deployment_id = ? AND kind = 'install' AND ring = ? AND state IN ('running', 'succeeded')",
					c.Job.DeploymentID, c.Job.Ring).Scan(&running); err != nil {
					return fmt.Errorf("running jobs of deployment %d: %w", c.Job.DeploymentID, classify(err))
				}
				if running >= c.Ring.MaxParallel {
					continue
				}
			}
			res, err := tx.exec(ctx, "UPDATE jobs SET state = 'running', handed_at = ?, updated_at = ? WHERE id = ? AND state = 'pending' AND attempt = ?",
				micros(now), micros(now), c.Job.ID, c.Job.Attempt)
			if err != nil {
				return fmt.Errorf("claim job %d: %w", c.Job.ID, err)
			}
			if n, err := res.RowsAffected(); err != nil || n != 1 {
				continue // no longer pending at that attempt: skipped, failed or retried since it was read
			}
			out = append(out, c.protocolJob(startBy))
		}
		if len(out) > 0 {
			s.fail("claim-commit")
		}
		return nil
	})
	return out, err
}

// due reports whether c's pending job may be handed out while its
// deployment is in state (with reason) at ring current: fetch jobs once it
// is scheduled, install jobs of the current ring while it runs (not while
// the ring soaks or waits for a person), rollback jobs while it rolls back.
func (c JobCandidate) due(state patchbay.DeploymentState, reason patchbay.StateReason, current int) bool {
	switch c.Job.Kind {
	case patchbay.JobFetch:
		return state == patchbay.DeploymentScheduled || state == patchbay.DeploymentRunning || state == patchbay.DeploymentPaused
	case patchbay.JobInstall:
		return state == patchbay.DeploymentRunning && c.Job.Ring == current && reason != patchbay.ReasonAwaitingPromotion &&
			reason != patchbay.ReasonSoaking
	case patchbay.JobRollback:
		return state == patchbay.DeploymentHalted && reason == patchbay.ReasonRollingBack
	}
	return true
}

// protocolJob is the job as its agent receives it. Checks and reboots
// apply to installs and rollbacks; a fetch changes nothing installed.
func (c JobCandidate) protocolJob(startBy time.Time) protocol.Job {
	j := protocol.Job{ID: c.Job.ID, Attempt: c.Job.Attempt, DeploymentID: c.Job.DeploymentID, Kind: c.Job.Kind,
		Actions: c.Job.Actions, StartBy: startBy}
	if len(c.Job.Actions) > 0 {
		j.Ecosystem = c.Job.Actions[0].Ecosystem // a host's updates come from its one package manager
	}
	if c.Job.Kind != patchbay.JobFetch {
		j.Reboot, j.Services, j.MinHealthySeconds = c.Reboot, c.Checks.Services, c.Checks.MinHealthySeconds
		j.PreHooks, j.PostHooks = c.Checks.PreHooks, c.Checks.PostHooks
		if d, err := time.ParseDuration(c.Ring.MinHealthy); err == nil && d > 0 {
			j.MinHealthySeconds = int(d / time.Second) // the ring's own, checked when the deployment was made
		}
	}
	return j
}

// multiScanner scans a row's leading columns with a scanner and the rest
// into extra.
type multiScanner struct {
	rows  *sql.Rows
	extra []any
}

func (m multiScanner) Scan(dest ...any) error { return m.rows.Scan(append(dest, m.extra...)...) }

// RunningJobs returns the jobs handed to host's agent and not finished:
// what a restarted agent may still report.
func (s *Store) RunningJobs(ctx context.Context, host int64) ([]patchbay.Job, error) {
	rows, err := s.queryUncached(ctx, "SELECT "+jobColumns+" FROM jobs j LEFT JOIN hosts h ON h.id = j.host_id WHERE j.host_id = ? AND j.state = 'running'", host)
	if err != nil {
		return nil, fmt.Errorf("running jobs of host %d: %w", host, err)
	}
	defer rows.Close()
	var out []patchbay.Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, classify(err)
		}
		out = append(out, j)
	}
	return out, classify(rows.Err())
}

// ErrStaleResult is returned for a result of an attempt that is not the
// job's current one, or for a job not handed out: it changes nothing.
var ErrStaleResult = errors.New("result for an attempt the job is not at")

// RecordJobResult stores the result an agent of host reports for job id.
// It is idempotent: the same result twice, or a result for an older
// attempt, changes nothing (ErrStaleResult for the latter). A job of
// another host is ENotFound. It returns the job's deployment.
func (s *Store) RecordJobResult(ctx context.Context, host, id int64, r protocol.JobResult) (deployment int64, err error) {
	if err := r.Validate(); err != nil {
		return 0, err
	}
	err = s.inGroupTx(ctx, func(tx *Tx) error {
		err := tx.queryRow(ctx, "SELECT deployment_id FROM jobs WHERE id = ? AND host_id = ?", id, host).Scan(&deployment)
		if errors.Is(err, sql.ErrNoRows) {
			return patchbay.Errorf(patchbay.ENotFound, "no job %d for this host", id)
		}
		if err != nil {
			return fmt.Errorf("job %d: %w", id, classify(err))
		}
		// The deployment first, then the job read afresh (see
		// lockDeployment): a retry, a claim or the same result sent twice
		// at once wait for each other.
		dstate, dreason, _, err := tx.lockDeployment(ctx, deployment)
		if err != nil {
			return err
		}
		var state patchbay.JobState
		var kind patchbay.JobKind
		var attempt, ring int
		if err := tx.queryRow(ctx, "SELECT state, attempt, kind, ring FROM jobs WHERE id = ?", id).Scan(&state, &attempt, &kind, &ring); err != nil {
			return fmt.Errorf("job %d: %w", id, classify(err))
		}
		next := patchbay.JobState(r.Status)
		if next == patchbay.JobRefused && state == patchbay.JobRunning && r.Attempt == attempt {
			// Not attempted (its window ended first, the lock stayed
			// held): it waits for the next window as a new attempt; in a
			// deployment that ended meanwhile there is none, and it is
			// skipped.
			q := "UPDATE jobs SET state = 'pending', attempt = attempt + 1, reason = ?, handed_at = NULL, updated_at = ? WHERE id = ?"
			if !dstate.Active() {
				q = "UPDATE jobs SET state = 'skipped', reason = ?, updated_at = ? WHERE id = ?"
			}
			_, err := tx.exec(ctx, q, "refused by the agent: "+r.Reason, micros(s.now()), id)
			if err != nil {
				return fmt.Errorf("record job %d: %w", id, err)
			}
			return nil
		}
		switch {
		case r.Attempt != attempt:
			return ErrStaleResult
		case state == next:
			return nil // the same result again
		case state == patchbay.JobRunning:
		case state == patchbay.JobSucceeded && (next == patchbay.JobHealthy || next == patchbay.JobFailed):
		default:
			return ErrStaleResult
		}
		before, _ := json.Marshal(r.Before)
		after, _ := json.Marshal(r.After)
		now := s.now()
		_, err = tx.exec(ctx, `UPDATE jobs SET state = ?, before = CASE WHEN ? = '' THEN before ELSE ? END, after = ?, reason = ?, output = ?,
			recovered = ?, finished_at = COALESCE(finished_at, ?), updated_at = ? WHERE id = ?`,
			next, nonEmptyJSON(r.Before, before), nonEmptyJSON(r.Before, before), string(after), r.Reason, r.Output, boolInt(r.Recovered),
			micros(now), micros(now), id) // finished by the server's clock: a ring's soak counts from it
		if err != nil {
			return fmt.Errorf("record job %d: %w", id, err)
		}
		if next == patchbay.JobFailed {
			// A host that could not fetch ahead (nor keep its previous
			// packages) is not patched: its install fails with the reason.
			if _, err := tx.exec(ctx, `UPDATE jobs SET state = 'failed', reason = ?, finished_at = ?, updated_at = ?
				WHERE deployment_id = ? AND host_id = ? AND kind = 'install' AND state = 'pending'
				AND EXISTS (SELECT 1 FROM jobs f WHERE f.id = ? AND f.kind = 'fetch')`,
				"the fetch ahead failed: "+r.Reason, micros(now), micros(now), deployment, host, id); err != nil {
				return fmt.Errorf("record job %d: %w", id, err)
			}
		}
		if kind == patchbay.JobInstall && dstate == patchbay.DeploymentHalted && dreason == patchbay.ReasonRollingBack {
			// Still installing when the rollback was ordered, and finished
			// since: it goes back too when the rollback covers it (a
			// person's covers every host changed, a threshold's the failed
			// ones).
			var scope string
			if err := tx.queryRow(ctx, "SELECT rollback_scope FROM deployments WHERE id = ?", deployment).Scan(&scope); err != nil {
				return fmt.Errorf("deployment %d: %w", deployment, classify(err))
			}
			back := RolloutChange{ID: deployment, Current: ring, RollbackRing: next == patchbay.JobFailed, RollbackAll: scope == "all"}
			if back.RollbackRing || back.RollbackAll {
				if err := tx.jobEffects(ctx, back, now); err != nil {
					return err
				}
			}
		}
		if _, err := tx.exec(ctx, "UPDATE deployments SET last_progress = ? WHERE id = ?", micros(now), deployment); err != nil {
			return fmt.Errorf("deployment %d progress: %w", deployment, err)
		}
		s.fail("result-commit")
		return nil
	})
	return deployment, err
}

// nonEmptyJSON returns b as text, or "" when vs is empty (keep what is
// stored).
func nonEmptyJSON(vs []patchbay.PackageVersion, b []byte) string {
	if len(vs) == 0 {
		return ""
	}
	return string(b)
}

// HostsAwaitingSlot returns up to limit hosts whose install job waits in
// the same deployment and ring as install job id: when id's host finishes
// (healthy, failed, refused), a slot of the ring's max_parallel frees, and
// those hosts' waiting polls may take it at once rather than at their next
// look. None for a job that is not an install.
func (s *Store) HostsAwaitingSlot(ctx context.Context, id int64, limit int) ([]int64, error) {
	ids, err := scanIDs(s.query(ctx, `SELECT w.host_id FROM jobs j JOIN jobs w ON w.deployment_id = j.deployment_id AND w.kind = 'install'
		AND w.ring = j.ring AND w.state = 'pending' WHERE j.id = ? AND j.kind = 'install' ORDER BY w.id LIMIT ?`, id, limit))
	if err != nil {
		return nil, fmt.Errorf("hosts waiting beside job %d: %w", id, err)
	}
	return ids, nil
}

// ReleasedDeployments returns those of held (deployments whose package
// files an agent keeps) that no longer need them at now: ended and past
// their retention (keep_until; a deployment ended before completing has
// none), or not stored at all.
func (s *Store) ReleasedDeployments(ctx context.Context, held []int64, now time.Time) ([]int64, error) {
	if len(held) == 0 {
		return nil, nil
	}
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(held)), ", ")
	args := make([]any, len(held))
	for i, id := range held {
		args[i] = id
	}
	rows, err := s.queryUncached(ctx, "SELECT id, state, keep_until FROM deployments WHERE id IN ("+marks+")", args...)
	if err != nil {
		return nil, fmt.Errorf("deployments held: %w", classify(err))
	}
	defer rows.Close()
	keep := map[int64]bool{}
	for rows.Next() {
		var id int64
		var state patchbay.DeploymentState
		var until sql.NullInt64
		if err := rows.Scan(&id, &state, &until); err != nil {
			return nil, fmt.Errorf("deployments held: %w", classify(err))
		}
		keep[id] = state.Active() || (until.Valid && now.Before(fromMicros(until.Int64)))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("deployments held: %w", classify(err))
	}
	var out []int64
	for _, id := range held {
		if !keep[id] {
			out = append(out, id)
		}
	}
	return out, nil
}
