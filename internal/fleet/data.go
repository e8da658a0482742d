package fleet

import (
	"bufio"
	"embed"
	"fmt"
	"strings"
)

// dataFS holds the package lists the images are built from; data/README.md
// says where each file comes from.
//
//go:embed data/*.tsv data/*.txt
var dataFS embed.FS

// record is one line of a tab-separated data file, with its line number
// for error messages.
type record struct {
	line   int
	fields []string
}

// readTSV returns the records of a data file: its non-empty lines that do
// not start with "#", split at tabs, each with exactly want fields (or at
// least want when atLeast is set).
func readTSV(name string, want int, atLeast bool) ([]record, error) {
	data, err := dataFS.ReadFile("data/" + name)
	if err != nil {
		return nil, fmt.Errorf("read embedded data: %w", err)
	}
	var recs []record
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != want && !(atLeast && len(f) > want) {
			return nil, fmt.Errorf("data/%s:%d: %d fields, want %d", name, n, len(f), want)
		}
		recs = append(recs, record{line: n, fields: f})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("data/%s: %w", name, err)
	}
	return recs, nil
}
