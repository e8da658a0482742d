package store

import (
	"context"
	"fmt"
	"time"
)

// TakeLease takes or renews the named lease for holder until now+ttl; it
// reports whether holder has it. A lease held by another and not expired
// is refused. Several servers sharing a database use it so that one at a
// time runs the matcher (and, later, the scheduler).
func (s *Store) TakeLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	got, _, err := s.HoldLease(ctx, name, holder, ttl)
	return got, err
}

// HoldLease is TakeLease that also reports whether holder kept the lease
// without a break since it last took it: false when the lease was free
// (released, or never taken) or another's, so that nobody else can have
// held it in between only when kept is true.
func (s *Store) HoldLease(ctx context.Context, name, holder string, ttl time.Duration) (got, kept bool, err error) {
	now := s.now()
	err = s.inTx(ctx, func(tx *Tx) error {
		got, kept = false, false
		// Each statement decides by its own WHERE, so two servers racing
		// for the lease cannot both win: the loser changes no row.
		r, err := tx.exec(ctx, "UPDATE leases SET expires_at = ? WHERE name = ? AND holder = ?", micros(now.Add(ttl)), name, holder)
		if err != nil {
			return err
		}
		if n, _ := r.RowsAffected(); n == 1 {
			got, kept = true, true
			return nil
		}
		r, err = tx.exec(ctx, "INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING",
			name, holder, micros(now.Add(ttl)))
		if err != nil {
			return err
		}
		if n, _ := r.RowsAffected(); n == 1 {
			got = true
			return nil
		}
		r, err = tx.exec(ctx, "UPDATE leases SET holder = ?, expires_at = ? WHERE name = ? AND expires_at <= ?",
			holder, micros(now.Add(ttl)), name, micros(now))
		if err != nil {
			return err
		}
		n, _ := r.RowsAffected()
		got = n == 1
		return nil
	})
	if err != nil {
		return false, false, fmt.Errorf("lease %s: %w", name, err)
	}
	return got, kept, nil
}

// ReleaseLease gives up the named lease if holder has it, so a successor
// need not wait for it to expire (a server shutting down cleanly).
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	err := s.inTx(ctx, func(tx *Tx) error {
		_, err := tx.exec(ctx, "DELETE FROM leases WHERE name = ? AND holder = ?", name, holder)
		return err
	})
	if err != nil {
		return fmt.Errorf("release lease %s: %w", name, err)
	}
	return nil
}

// LeaseHolders returns each lease held now (not expired) and its holder.
func (s *Store) LeaseHolders(ctx context.Context) (map[string]string, error) {
	rows, err := s.queryUncached(ctx, "SELECT name, holder FROM leases WHERE expires_at > ?", micros(s.now()))
	if err != nil {
		return nil, fmt.Errorf("leases: %w", classify(err))
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, holder string
		if err := rows.Scan(&name, &holder); err != nil {
			return nil, fmt.Errorf("leases: %w", classify(err))
		}
		out[name] = holder
	}
	return out, classify(rows.Err())
}
