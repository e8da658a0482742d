package feed

import (
	"bytes"
	"compress/gzip"
	"os"
	"strings"
	"testing"
	"time"
)

const epssFile = "testdata/epss/epss_scores-2025-08-25.csv"

func TestEPSSSample(t *testing.T) {
	for _, name := range []string{epssFile, epssFile + ".gz"} {
		t.Run(name, func(t *testing.T) {
			f, err := os.Open(name)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			s, err := ParseEPSS(f)
			if err != nil {
				t.Fatalf("ParseEPSS(%s): %v", name, err)
			}
			if s.ModelVersion != "v2025.03.14" || !s.ScoreDate.Equal(time.Date(2025, 8, 25, 12, 55, 0, 0, time.UTC)) {
				t.Errorf("ParseEPSS(%s): model %q date %v", name, s.ModelVersion, s.ScoreDate)
			}
			if len(s.Scores) != 20 {
				t.Errorf("ParseEPSS(%s): %d scores, want 20", name, len(s.Scores))
			}
			if got, want := s.Scores["CVE-2021-44228"], (EPSSScore{EPSS: 0.94358, Percentile: 0.99959}); got != want {
				t.Errorf("CVE-2021-44228 = %+v, want %+v", got, want)
			}
			if _, ok := s.Scores["CVE-2025-1000001"]; !ok {
				t.Errorf("seven-digit CVE-2025-1000001 missing")
			}
		})
	}
}

func TestEPSSVariants(t *testing.T) {
	// Files of 2022-2023 write the score date's offset as +0000; files
	// before 2022 have no comment line; Windows line ends are tolerated.
	in := "#model_version:v2023.03.01,score_date:2023-03-08T00:00:00+0000\r\ncve,epss,percentile\r\nCVE-2023-0001,0.5,1\r\n"
	s, err := ParseEPSS(strings.NewReader(in))
	if err != nil || s.ModelVersion != "v2023.03.01" || s.ScoreDate.IsZero() || s.Scores["CVE-2023-0001"].EPSS != 0.5 {
		t.Errorf("ParseEPSS(+0000, CRLF) = %+v, %v", s, err)
	}
	s, err = ParseEPSS(strings.NewReader("cve,epss,percentile\nCVE-2021-0001,0,0\n"))
	if err != nil || s.ModelVersion != "" || len(s.Scores) != 1 {
		t.Errorf("ParseEPSS(no comment) = %+v, %v", s, err)
	}
}

func TestEPSSErrors(t *testing.T) {
	const head = "#model_version:v2025.03.14,score_date:2025-08-25T12:55:00Z\ncve,epss,percentile\n"
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(head + "CVE-2025-0001,2,0.5\n"))
	zw.Close()
	for _, tc := range []struct{ name, in, want string }{
		{"empty", "", "no \"cve,epss,percentile\" header"},
		{"html", "<html><body>Not Found</body></html>\n", `line 1: header "<html>`},
		{"bad comment", "#model_version\ncve,epss,percentile\n", "line 1: comment"},
		{"bad date", "#model_version:v1,score_date:today\n", `line 1: score_date "today"`},
		{"bad header", "#model_version:v1,score_date:2025-08-25T12:55:00Z\ncve,score\n", `line 2: header "cve,score"`},
		{"fields", head + "CVE-2025-0001,0.1\n", "line 3: row \"CVE-2025-0001,0.1\": want 3 fields"},
		{"cve", head + "CVE-25-1,0.1,0.2\n", `line 3: cve "CVE-25-1"`},
		{"lower-case cve", head + "cve-2025-0001,0.1,0.2\n", `line 3: cve "cve-2025-0001"`},
		{"not a number", head + "CVE-2025-0001,abc,0.2\n", `line 3: CVE-2025-0001: epss: "abc" is not a number`},
		{"nan", head + "CVE-2025-0001,NaN,0.2\n", "epss: \"NaN\" is not a number"},
		{"range", head + "CVE-2025-0001,0.1,1.5\n", "line 3: CVE-2025-0001: percentile: 1.5 is outside [0, 1]"},
		{"negative", head + "CVE-2025-0001,-0.1,0.5\n", "epss: -0.1 is outside [0, 1]"},
		{"duplicate", head + "CVE-2025-0001,0.1,0.5\nCVE-2025-0001,0.1,0.5\n", "line 4: CVE-2025-0001 listed twice"},
		{"gzip row", gz.String(), "line 3: CVE-2025-0001: epss: 2 is outside [0, 1]"},
		{"truncated gzip", gz.String()[:20], "parse epss"},
		{"gzip garbage", "\x1f\x8bxx", "parse epss: gzip"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseEPSS(strings.NewReader(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseEPSS(%q) error %v, want one containing %q", tc.in, err, tc.want)
			}
		})
	}
}
