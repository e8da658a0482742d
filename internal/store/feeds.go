package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/patchbay/patchbay/internal/apiv1"
)

// FeedImports returns the newest imports, newest first.
func (s *Store) FeedImports(ctx context.Context, limit int) ([]apiv1.FeedImport, error) {
	rows, err := s.query(ctx, `SELECT id, source, kind, actor, at, added, replaced, unchanged, older, problems, kev, epss
		FROM feed_imports ORDER BY id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("list imports: %w", err)
	}
	defer rows.Close()
	out := []apiv1.FeedImport{}
	for rows.Next() {
		var im apiv1.FeedImport
		var at int64
		if err := rows.Scan(&im.ID, &im.Source, &im.Kind, &im.Actor, &at, &im.Added, &im.Replaced, &im.Unchanged, &im.Older,
			&im.Problems, &im.KEV, &im.EPSS); err != nil {
			return nil, classify(err)
		}
		im.At = fromMicros(at)
		out = append(out, im)
	}
	return out, classify(rows.Err())
}

// FeedCounts returns how many advisories, KEV entries and EPSS scores are
// stored.
func (s *Store) FeedCounts(ctx context.Context) (advisories, kev, epss int, err error) {
	err = s.queryRow(ctx, "SELECT (SELECT COUNT(*) FROM advisories), (SELECT COUNT(*) FROM kev), (SELECT COUNT(*) FROM epss)").
		Scan(&advisories, &kev, &epss)
	return advisories, kev, epss, classify(err)
}

// FeedSource returns the sync state of a feed URL; a URL never synced has
// the zero state.
func (s *Store) FeedSource(ctx context.Context, url string) (apiv1.FeedSource, error) {
	src := apiv1.FeedSource{URL: url}
	var attempt, success sql.NullInt64
	err := s.queryRow(ctx, "SELECT etag, last_modified, last_attempt, last_success, last_error, last_summary FROM feed_sources WHERE url = ?", url).
		Scan(&src.ETag, &src.LastModified, &attempt, &success, &src.LastError, &src.LastSummary)
	if errors.Is(err, sql.ErrNoRows) {
		return src, nil
	}
	if err != nil {
		return src, fmt.Errorf("feed %s: %w", url, classify(err))
	}
	src.LastAttempt, src.LastSuccess = optTime(attempt), optTime(success)
	return src, nil
}

// SaveFeedSync records one sync attempt of a feed URL: on success (errText
// empty) the new validators and summary, on failure the error, keeping the
// validators of the last success.
func (s *Store) SaveFeedSync(ctx context.Context, url, etag, lastModified, summary, errText string, at time.Time) error {
	return s.inTx(ctx, func(tx *Tx) error {
		var err error
		if errText == "" {
			_, err = tx.exec(ctx, `INSERT INTO feed_sources (url, etag, last_modified, last_attempt, last_success, last_error, last_summary)
				VALUES (?, ?, ?, ?, ?, '', ?) ON CONFLICT (url) DO UPDATE SET etag = excluded.etag, last_modified = excluded.last_modified,
				last_attempt = excluded.last_attempt, last_success = excluded.last_success, last_error = '', last_summary = excluded.last_summary`,
				url, truncate(etag, 500), truncate(lastModified, 100), micros(at), micros(at), truncate(summary, 1000))
		} else {
			_, err = tx.exec(ctx, `INSERT INTO feed_sources (url, last_attempt, last_error) VALUES (?, ?, ?)
				ON CONFLICT (url) DO UPDATE SET last_attempt = excluded.last_attempt, last_error = excluded.last_error`,
				url, micros(at), truncate(errText, 1000))
		}
		if err != nil {
			return fmt.Errorf("record sync of %s: %w", url, err)
		}
		return nil
	})
}
