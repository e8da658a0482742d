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
	now := s.now()
	var got bool
	err := s.inTx(ctx, func(tx *Tx) error {
		// Each statement decides by its own WHERE, so two servers racing
		// for the lease cannot both win: the loser changes no row.
		r, err := tx.exec(ctx, "INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING",
			name, holder, micros(now.Add(ttl)))
		if err != nil {
			return err
		}
		if n, _ := r.RowsAffected(); n == 1 {
			got = true
			return nil
		}
		r, err = tx.exec(ctx, "UPDATE leases SET holder = ?, expires_at = ? WHERE name = ? AND (holder = ? OR expires_at <= ?)",
			holder, micros(now.Add(ttl)), name, holder, micros(now))
		if err != nil {
			return err
		}
		n, _ := r.RowsAffected()
		got = n == 1
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("lease %s: %w", name, err)
	}
	return got, nil
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
