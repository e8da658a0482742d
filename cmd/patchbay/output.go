package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/patchbay/patchbay/internal/apiv1"
)

// Output formats of listings (--output).
const (
	outputTable = "table"
	outputJSON  = "json"
	outputCSV   = "csv"
)

func checkOutput(format string) error {
	switch format {
	case outputTable, outputJSON, outputCSV:
		return nil
	}
	return usageErrorf("--output %q: want table, json or csv", format)
}

// table is a listing as the CLI prints it: JSON prints raw (the API's own
// objects); table and CSV print header and rows.
type table struct {
	header []string
	rows   [][]string
	raw    any
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) write(w io.Writer, format string) error {
	switch format {
	case outputJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(t.raw)
	case outputCSV:
		cw := csv.NewWriter(w)
		cw.Write(t.header)
		cw.WriteAll(t.rows)
		return cw.Error()
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(t.header, "\t"))
	for _, r := range t.rows {
		for i := range r {
			r[i] = strings.NewReplacer("\t", " ", "\n", " ").Replace(r[i])
		}
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// when formats an optional time for a table cell.
func when(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// collect fetches pages until it has limit items or the listing ends.
// page gets the cursor ("" first) and how many items to ask for.
func collect[T any](limit int, page func(cursor string, n int) (apiv1.List[T], error)) ([]T, error) {
	items := []T{}
	cursor := ""
	for len(items) < limit {
		l, err := page(cursor, min(1000, limit-len(items)))
		if err != nil {
			return nil, err
		}
		items = append(items, l.Items...)
		if l.NextCursor == "" {
			break
		}
		cursor = l.NextCursor
	}
	return items, nil
}
