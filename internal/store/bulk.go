package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
)

// maxParams bounds the parameters of one multi-row statement (PostgreSQL
// allows 65,535, SQLite 32,766).
const maxParams = 4000

// insertRows inserts rows into table in multi-row statements; suffix is
// appended to each (an ON CONFLICT clause).
func (t *Tx) insertRows(ctx context.Context, table string, cols []string, rows [][]any, suffix string) error {
	if len(rows) == 0 {
		return nil
	}
	per := max(1, maxParams/len(cols))
	one := "(" + strings.TrimSuffix(strings.Repeat("?,", len(cols)), ",") + ")"
	for chunk := range slices.Chunk(rows, per) {
		args := make([]any, 0, len(chunk)*len(cols))
		for _, r := range chunk {
			args = append(args, r...)
		}
		q := "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES " +
			strings.TrimSuffix(strings.Repeat(one+",", len(chunk)), ",") + " " + suffix
		// Statements of a full chunk repeat and are worth preparing; the
		// last, shorter one runs unprepared.
		var err error
		if len(chunk) == per {
			_, err = t.exec(ctx, q, args...)
		} else {
			_, err = t.tx.ExecContext(t.ctx(ctx), t.s.rebind(q), args...)
			err = classify(err)
		}
		if err != nil {
			return fmt.Errorf("insert into %s: %w", table, err)
		}
	}
	return nil
}

// placeholders returns "?,?,…" for n values.
func placeholders(n int) string { return strings.TrimSuffix(strings.Repeat("?,", n), ",") }

func anys[T any](vs []T) []any {
	out := make([]any, len(vs))
	for i, v := range vs {
		out[i] = v
	}
	return out
}

// inChunks runs q (with one %s for the id list, and args before it) over
// ids, 500 at a time, calling each for every row.
func inChunks[T any](ctx context.Context, qr querier, q string, ids []T, each func(*sql.Rows) error, args ...any) error {
	for chunk := range slices.Chunk(ids, 500) {
		rows, err := qr.queryRows(ctx, fmt.Sprintf(q, placeholders(len(chunk))), append(slices.Clip(args), anys(chunk)...)...)
		if err != nil {
			return err
		}
		for rows.Next() {
			if err := each(rows); err != nil {
				rows.Close()
				return err
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return classify(err)
		}
	}
	return nil
}
