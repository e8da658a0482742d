package feedload

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/patchbay/patchbay/internal/osv"
)

// parsed is what became of one entry: a record, or the reason there is none.
type parsed struct {
	file   string
	rec    *osv.Record
	reason string
}

// parseAll reads and parses entries with Options.Workers goroutines, keeping
// entry order in the result. In an archive, damage or a limit passed stops
// the load with an error; in a directory it is the file's Problem.
func (l *loader) parseAll(ctx context.Context, entries []entry, archive bool) ([]parsed, error) {
	out := make([]parsed, len(entries))
	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		next atomic.Int64
		mu   sync.Mutex // serialises Progress
		done int
		wg   sync.WaitGroup
	)
	for range min(l.o.Workers, len(entries)) {
		wg.Go(func() {
			for wctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= len(entries) {
					return
				}
				p, err := l.parseEntry(wctx, entries[i], archive)
				if err != nil {
					cancel(err)
					return
				}
				out[i] = p
				if l.o.Progress != nil {
					mu.Lock()
					done++
					l.o.Progress(done, len(entries))
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("load feed %s: %w", l.name, err)
	}
	if err := context.Cause(wctx); err != nil {
		return nil, err
	}
	return out, nil
}

// parseEntry reads and parses one entry. The error is for the whole load.
func (l *loader) parseEntry(ctx context.Context, e entry, archive bool) (parsed, error) {
	rc, err := e.open()
	if err != nil {
		var le *limitError
		switch {
		case archive && errors.Is(err, zip.ErrAlgorithm):
			return parsed{}, l.invalid("entry %s uses a compression method patchbay cannot read (only stored and deflate); nothing is imported from the archive", e.file)
		case archive:
			return parsed{}, l.invalid("entry %s cannot be opened (%v): the archive is damaged; nothing is imported from it", e.file, err)
		case errors.As(err, &le):
			return parsed{file: e.file, reason: "too large: " + le.msg}, nil
		}
		return parsed{file: e.file, reason: "cannot be read: " + err.Error()}, nil
	}
	data, err := l.read(ctx, rc, e, l.o.MaxRecordBytes, "MaxRecordBytes", archive)
	rc.Close()
	if err != nil {
		var le *limitError
		switch {
		case ctx.Err() != nil:
			return parsed{}, context.Cause(ctx)
		case archive && errors.As(err, &le):
			return parsed{}, l.tooLarge("%s: a zip bomb or not a feed", le.msg)
		case archive:
			return parsed{}, l.invalid("entry %s cannot be read (%v): the archive is damaged or truncated; nothing is imported from it", e.file, err)
		case errors.As(err, &le):
			return parsed{file: e.file, reason: "too large: " + le.msg}, nil
		}
		return parsed{file: e.file, reason: "cannot be read: " + err.Error()}, nil
	}
	if e.sha256 != "" {
		if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != e.sha256 {
			return parsed{}, l.tampered(e.file)
		}
	}
	rec, err := osv.Parse(data)
	if err != nil {
		reason := recordReason(data, err)
		if bytes.Contains(data, []byte(`"catalogVersion"`)) && bytes.Contains(data, []byte(`"vulnerabilities"`)) {
			reason = "a KEV catalog, not an OSV record: import it as a feed of its own"
		}
		return parsed{file: e.file, reason: reason}, nil
	}
	return parsed{file: e.file, rec: rec}, nil
}

// collect returns the records of items sorted by id, keeping of each id the
// record with the newest modified (the first read if equal), and appends to
// probs, in entry order, a Problem for each item without a record and each
// record not kept.
func collect(items []parsed, probs []Problem) ([]*osv.Record, []Problem) {
	kept := make(map[string]int, len(items)) // id → index in items
	for i, it := range items {
		if it.rec == nil {
			probs = append(probs, Problem{File: it.file, Reason: it.reason})
			continue
		}
		j, dup := kept[it.rec.ID]
		switch {
		case !dup:
			kept[it.rec.ID] = i
		case it.rec.Modified.After(items[j].rec.Modified):
			kept[it.rec.ID] = i
			probs = append(probs, duplicate(items[j], it))
		default:
			probs = append(probs, duplicate(it, items[j]))
		}
	}
	recs := make([]*osv.Record, 0, len(kept))
	for _, i := range kept {
		recs = append(recs, items[i].rec)
	}
	slices.SortFunc(recs, func(a, b *osv.Record) int { return strings.Compare(a.ID, b.ID) })
	return recs, probs
}

// duplicate is the Problem of a record dropped for another with its id.
func duplicate(dropped, kept parsed) Problem {
	why := "its modified " + modified(kept.rec.Modified) + " is newer than this one's " + modified(dropped.rec.Modified)
	if kept.rec.Modified.Equal(dropped.rec.Modified) {
		why = "both have modified " + modified(kept.rec.Modified) + " and the first read is kept"
	}
	where := kept.file
	if where == dropped.file {
		where = "the same feed"
	}
	return Problem{File: dropped.file, Reason: fmt.Sprintf("id %s is also in %s, which is kept: %s; this one is ignored", kept.rec.ID, where, why)}
}

func modified(t time.Time) string {
	if t.IsZero() {
		return "(none)"
	}
	return t.Format(time.RFC3339Nano)
}
