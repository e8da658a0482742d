package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations
var migrations embed.FS

// ErrNewerSchema is returned by Open for a store that a newer patchbay has
// migrated past what this build knows.
var ErrNewerSchema = errors.New("store schema is newer than this patchbay")

// SchemaVersion returns the newest migration this build carries.
func SchemaVersion() int64 {
	var max int64
	for _, eng := range []Engine{SQLite, Postgres} {
		entries, _ := fs.ReadDir(migrations, "migrations/"+string(eng))
		for _, e := range entries {
			var v int64
			if _, err := fmt.Sscanf(e.Name(), "%d_", &v); err == nil && v > max {
				max = v
			}
		}
	}
	return max
}

// migrate brings the schema up to date. On PostgreSQL a session advisory
// lock, keyed by the schema, makes a second server starting at the same time
// wait for the first to finish instead of racing it.
func (s *Store) migrate(ctx context.Context) error {
	fsys, err := fs.Sub(migrations, "migrations/"+string(s.loc.Engine))
	if err != nil {
		return err
	}
	dialect := goose.DialectSQLite3
	var opts []goose.ProviderOption
	if s.loc.Engine == Postgres {
		dialect = goose.DialectPostgres
		var schema string
		if err := s.write.QueryRowContext(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
			return fmt.Errorf("migrate %s: find schema: %w", s.loc, classify(err))
		}
		h := fnv.New64a()
		h.Write([]byte("patchbay-migrate:" + schema))
		locker, err := lock.NewPostgresSessionLocker(
			lock.WithLockID(int64(h.Sum64()>>1)),
			lock.WithLockTimeout(1, 600), // poll each second for up to ten minutes
		)
		if err != nil {
			return err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(dialect, s.write, fsys, opts...)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", s.loc, err)
	}
	current, target, err := p.GetVersions(ctx)
	if err != nil {
		return fmt.Errorf("migrate %s: read schema version: %w", s.loc, classify(err))
	}
	if current > target {
		return fmt.Errorf("%s is at schema version %d, this patchbay knows up to %d; upgrade patchbay (nothing was changed): %w",
			s.loc, current, target, ErrNewerSchema)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", s.loc, classify(err))
	}
	for _, r := range results {
		s.log.Info("migrated", "version", r.Source.Version, "duration", r.Duration)
	}
	return nil
}
