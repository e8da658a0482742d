package feed

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// EPSSScores is one day's file of FIRST's Exploit Prediction Scoring System
// (https://www.first.org/epss/data_stats): the probability of exploitation
// in the next 30 days for each CVE, and its percentile among all scored CVEs.
type EPSSScores struct {
	ModelVersion string               // "v2025.03.14"
	ScoreDate    time.Time            // when the scores were computed
	Scores       map[string]EPSSScore // keyed by CVE id
}

// EPSSScore is the score of one CVE.
type EPSSScore struct {
	EPSS       float64 // probability of exploitation, in [0, 1]
	Percentile float64 // share of CVEs scored at or below, in [0, 1]
}

// maxEPSSLine bounds one line of an EPSS file; real lines are under 100 bytes.
const maxEPSSLine = 64 * 1024

// ParseEPSS reads an EPSS CSV file, plain or gzip-compressed (detected by
// the gzip magic bytes): a first line
// "#model_version:v2025.03.14,score_date:2025-08-25T12:55:00Z", the header
// "cve,epss,percentile", then one row per CVE. Errors name the line: a
// malformed comment line or header, a CVE id not of the form CVE-YYYY-NNNN,
// a score that is not a number in [0, 1], a CVE listed twice.
//
// Older files (before 2022) lack the comment line; they are accepted with
// an empty ModelVersion and zero ScoreDate.
func ParseEPSS(r io.Reader) (EPSSScores, error) {
	br := bufio.NewReader(r)
	magic, err := br.Peek(2)
	if err != nil && !errors.Is(err, io.EOF) {
		return EPSSScores{}, fmt.Errorf("parse epss: %w", err)
	}
	var in io.Reader = br
	if bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return EPSSScores{}, fmt.Errorf("parse epss: gzip: %w", err)
		}
		defer zr.Close()
		in = zr
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 4096), maxEPSSLine)
	out := EPSSScores{Scores: make(map[string]EPSSScore)}
	lineNo := 0
	sawHeader := false
	for sc.Scan() {
		lineNo++
		line := strings.TrimRight(sc.Text(), "\r")
		if lineNo == 1 && strings.HasPrefix(line, "#") {
			if err := parseEPSSComment(line, &out); err != nil {
				return EPSSScores{}, fmt.Errorf("parse epss: line 1: %w", err)
			}
			continue
		}
		if !sawHeader {
			if line != "cve,epss,percentile" {
				return EPSSScores{}, fmt.Errorf("parse epss: line %d: header %q: want \"cve,epss,percentile\"", lineNo, truncate(line))
			}
			sawHeader = true
			continue
		}
		if line == "" {
			continue
		}
		cve, s, err := parseEPSSRow(line)
		if err != nil {
			return EPSSScores{}, fmt.Errorf("parse epss: line %d: %w", lineNo, err)
		}
		if _, dup := out.Scores[cve]; dup {
			return EPSSScores{}, fmt.Errorf("parse epss: line %d: %s listed twice", lineNo, cve)
		}
		out.Scores[cve] = s
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return EPSSScores{}, fmt.Errorf("parse epss: line %d: longer than %d bytes", lineNo+1, maxEPSSLine)
		}
		return EPSSScores{}, fmt.Errorf("parse epss: line %d: %w", lineNo+1, err)
	}
	if !sawHeader {
		return EPSSScores{}, fmt.Errorf("parse epss: no \"cve,epss,percentile\" header: empty or not an EPSS file")
	}
	return out, nil
}

// parseEPSSComment reads "#model_version:…,score_date:…".
func parseEPSSComment(line string, out *EPSSScores) error {
	for _, kv := range strings.Split(strings.TrimPrefix(line, "#"), ",") {
		k, v, ok := strings.Cut(kv, ":")
		if !ok {
			return fmt.Errorf("comment %q: want \"#model_version:…,score_date:…\"", truncate(line))
		}
		switch k {
		case "model_version":
			out.ModelVersion = v
		case "score_date":
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				// Files of 2022-2023 write the offset as "+0000".
				t, err = time.Parse("2006-01-02T15:04:05-0700", v)
			}
			if err != nil {
				return fmt.Errorf("score_date %q: not an RFC 3339 time", truncate(v))
			}
			out.ScoreDate = t.UTC()
		}
	}
	if out.ModelVersion == "" || out.ScoreDate.IsZero() {
		return fmt.Errorf("comment %q: want model_version and score_date", truncate(line))
	}
	return nil
}

// parseEPSSRow reads "CVE-2025-48384,0.00123,0.45678".
func parseEPSSRow(line string) (string, EPSSScore, error) {
	f := strings.Split(line, ",")
	if len(f) != 3 {
		return "", EPSSScore{}, fmt.Errorf("row %q: want 3 fields (cve,epss,percentile), got %d", truncate(line), len(f))
	}
	cve, ok := NormalizeCVE(f[0])
	if !ok || cve != f[0] {
		return "", EPSSScore{}, fmt.Errorf("cve %q: not of the form CVE-YYYY-NNNN", truncate(f[0]))
	}
	epss, err := parseUnit(f[1])
	if err != nil {
		return "", EPSSScore{}, fmt.Errorf("%s: epss: %w", cve, err)
	}
	pct, err := parseUnit(f[2])
	if err != nil {
		return "", EPSSScore{}, fmt.Errorf("%s: percentile: %w", cve, err)
	}
	return cve, EPSSScore{EPSS: epss, Percentile: pct}, nil
}

// parseUnit parses a decimal number in [0, 1].
func parseUnit(s string) (float64, error) {
	x, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(x) {
		return 0, fmt.Errorf("%q is not a number", truncate(s))
	}
	if x < 0 || x > 1 {
		return 0, fmt.Errorf("%s is outside [0, 1]", s)
	}
	return x, nil
}

// truncate shortens s for an error message.
func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
