package facts

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseOSRelease(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want map[string]string
		errs []string // each: "line N: reason substring"
	}{
		{name: "empty", in: "", want: map[string]string{}},
		{name: "comments and blank lines",
			in:   "# comment\n\n   # indented comment\n\t\nID=debian\n",
			want: map[string]string{"ID": "debian"}},
		{name: "quoting",
			in:   "A=\"x y\"\nB='x \"y\" $z'\nC=plain\nD=\"\"\nE=\nF=''\n",
			want: map[string]string{"A": "x y", "B": `x "y" $z`, "C": "plain", "D": "", "E": "", "F": ""}},
		{name: "double-quote escapes",
			in:   `A="a\"b\\c\$d\` + "`" + `e\nf"` + "\n",
			want: map[string]string{"A": "a\"b\\c$d`e\\nf"}},
		{name: "unquoted escapes",
			in:   `A=a\ b\"c` + "\n",
			want: map[string]string{"A": `a b"c`}},
		{name: "no final newline, CRLF, trailing blanks",
			in:   "A=1\r\nB=\"2\"  \nC=3 \t",
			want: map[string]string{"A": "1", "B": "2", "C": "3"}},
		{name: "leading blanks before the key",
			in:   "  ID=x\n",
			want: map[string]string{"ID": "x"}},
		{name: "last wins",
			in:   "ID=a\nID=b\n",
			want: map[string]string{"ID": "b"}},
		{name: "utf-8",
			in:   "NAME=\"Système d'exploitation — 1\"\n",
			want: map[string]string{"NAME": "Système d'exploitation — 1"}},
		{name: "malformed lines skipped, the rest kept",
			in: strings.Join([]string{
				"ID=ok",             // 1
				"no equals sign",    // 2
				"BAD KEY=x",         // 3
				"1ID=x",             // 4
				"A = b",             // 5
				`B="unterminated`,   // 6
				`C='unterminated`,   // 7
				`D="a"'b'`,          // 8
				"E=two words",       // 9
				"F=$(reboot)",       // 10
				`G="$HOME"`,         // 11
				"H=`id`",            // 12
				"I=a;b",             // 13
				"J=trailing\\",      // 14
				"K=\"tab\tok\"",     // 15
				"L=\x01",            // 16
				"M=\xff\xfe",        // 17
				"N=a\rb",            // 18
				`O="x" # comment`,   // 19
				"=novalue",          // 20
				"VERSION_ID=\"12\"", // 21
			}, "\n") + "\n",
			want: map[string]string{"ID": "ok", "K": "tab\tok", "VERSION_ID": "12"},
			errs: []string{
				"line 2: not KEY=value",
				"line 3: invalid key",
				"line 4: invalid key",
				"line 5: invalid key",
				"line 6: B: unterminated \" quote",
				"line 7: C: unterminated ' quote",
				"line 8: D: text after the closing quote",
				"line 9: E: unquoted blank",
				"line 10: F: unquoted '$'",
				"line 11: G: unescaped '$' in double quotes",
				"line 12: H: unquoted '`'",
				"line 13: I: unquoted ';'",
				"line 14: J: backslash at end of line",
				"line 16: control character",
				"line 17: invalid UTF-8",
				"line 18: control character",
				"line 19: O: text after the closing quote",
				"line 20: invalid key",
			}},
		{name: "too long",
			in:   "K" + strings.Repeat("x", 64) + "=1\nV=" + strings.Repeat("v", 513) + "\nW=" + strings.Repeat("w", 512) + "\n",
			want: map[string]string{"W": strings.Repeat("w", 512)},
			errs: []string{"line 1: key", "line 2: V: value longer than 512 bytes"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, errs := ParseOSRelease([]byte(tc.in))
			if !maps.Equal(got, tc.want) {
				t.Errorf("ParseOSRelease(%q) = %q; want %q", tc.in, got, tc.want)
			}
			if len(errs) != len(tc.errs) {
				t.Fatalf("ParseOSRelease(%q): %d errors %v; want %d %q", tc.in, len(errs), errs, len(tc.errs), tc.errs)
			}
			for i, err := range errs {
				var le *LineError
				if !errors.As(err, &le) || !strings.HasPrefix(err.Error(), tc.errs[i]) {
					t.Errorf("error %d: %v; want a *LineError starting %q", i, err, tc.errs[i])
				}
			}
		})
	}
}

func TestParseOSReleaseFieldLimit(t *testing.T) {
	var b strings.Builder
	for i := range 70 {
		fmt.Fprintf(&b, "K%d=%d\n", i, i)
	}
	b.WriteString("K0=again\n") // a known key is still updated
	got, errs := ParseOSRelease([]byte(b.String()))
	if len(got) != MaxOSReleaseFields || got["K0"] != "again" || got["K63"] != "63" || got["K64"] != "" || len(errs) != 6 {
		t.Errorf("70 fields: kept %d, K0=%q, errors %v; want 64 kept, K0 updated, 6 errors", len(got), got["K0"], errs)
	}
}

// The fixtures are real files (testdata/README.md): each parses without
// an error.
func TestParseOSReleaseFixtures(t *testing.T) {
	for _, f := range osReleaseFixtures(t) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		got, errs := ParseOSRelease(data)
		if len(errs) != 0 || got["ID"] == "" || got["NAME"] == "" {
			t.Errorf("ParseOSRelease(%s) = %v, %v", f, got, errs)
		}
	}
}

func osReleaseFixtures(tb testing.TB) []string {
	tb.Helper()
	files := []string{
		"testdata/debian-12/usr/lib/os-release",
		"testdata/ubuntu-22.04/usr/lib/os-release",
		"testdata/rocky-9/usr/lib/os-release",
		"testdata/alpine-3.20/etc/os-release",
	}
	for _, f := range files {
		if _, err := os.Stat(filepath.FromSlash(f)); err != nil {
			tb.Fatal(err)
		}
	}
	return files
}

// renderOSRelease writes fields in the format, every value double-quoted
// with the escapes os-release(5) asks for, keys sorted.
func renderOSRelease(fields map[string]string) []byte {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		v := fields[k]
		b.WriteString(k + "=\"")
		for i := 0; i < len(v); i++ {
			if strings.IndexByte("$`\"\\", v[i]) >= 0 {
				b.WriteByte('\\')
			}
			b.WriteByte(v[i])
		}
		b.WriteString("\"\n")
	}
	return []byte(b.String())
}

// FuzzOSRelease: on any input, no panic; every field returned is within the
// limits, with a valid key and a value of printable UTF-8; and the fields,
// written back in the format, parse to the same fields without errors.
func FuzzOSRelease(f *testing.F) {
	for _, name := range osReleaseFixtures(f) {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("A=\"a\\\"b\" \nB='c'\nC=d\\ e\n# x\n\nBAD\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fields, errs := ParseOSRelease(data)
		if len(fields) > MaxOSReleaseFields {
			t.Fatalf("%d fields", len(fields))
		}
		for k, v := range fields {
			if !validKey(k) || len(k) > MaxOSReleaseKeyLen {
				t.Fatalf("key %q", k)
			}
			if len(v) > MaxOSReleaseValueLen || !utf8.ValidString(v) {
				t.Fatalf("value %q of %s", v, k)
			}
			for _, r := range v {
				if (r < 0x20 && r != '\t') || r == 0x7f {
					t.Fatalf("control character in value %q of %s", v, k)
				}
			}
		}
		for _, err := range errs {
			var le *LineError
			if !errors.As(err, &le) || le.Line < 1 {
				t.Fatalf("error %v", err)
			}
		}
		again, errs := ParseOSRelease(renderOSRelease(fields))
		if len(errs) != 0 || !maps.Equal(again, fields) {
			t.Fatalf("round trip of %q: %q, %v", fields, again, errs)
		}
	})
}
