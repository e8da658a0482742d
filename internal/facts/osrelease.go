package facts

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Limits on os-release, those the server enforces on a check-in's facts
// (internal/store, factsColumns): more fields, or longer ones, and the
// server refuses the whole check-in, so the agent drops them with a reason.
const (
	MaxOSReleaseFields   = 64
	MaxOSReleaseKeyLen   = 64
	MaxOSReleaseValueLen = 512
	maxOSReleaseSize     = 64 << 10 // the whole file; protocol.MaxFactBytes
)

// LineError is a line of an os-release file that was skipped, and why.
type LineError struct {
	Line   int // 1-based
	Reason string
}

// Error returns "line N: reason".
func (e *LineError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Reason) }

// ParseOSRelease parses the text of an os-release file (os-release(5)):
// lines KEY=value, where KEY is a shell variable name and value is either
// unquoted, or wholly in double or single quotes, with shell escapes. Blank
// lines and lines starting with # are skipped. A line that does not follow
// the format is skipped, with a *LineError saying why; the fields of the
// other lines are still returned. The format and what is refused:
//
//   - no "=", or a key that is not [A-Za-z_][A-Za-z0-9_]* (a blank before
//     "=" makes an invalid key, as in a shell);
//   - unquoted values: a backslash escapes the next character; unescaped
//     blanks inside the value, quotes, $, `, ;, &, |, <, >, ( and ) are
//     refused (a shell would split, expand or run them); trailing blanks
//     are dropped;
//   - double quotes: \ escapes $, `, " and \ (and is kept before any other
//     character, as in a shell); an unescaped $ or ` is refused;
//   - single quotes: everything up to the next ' is literal;
//   - a quote that does not close on its line (multi-line values are not
//     supported: no distribution writes them), and text after the closing
//     quote other than blanks (os-release(5) does not support
//     concatenation), are refused;
//   - invalid UTF-8, control characters other than tab, a carriage return
//     that is not the line's last character;
//   - a key longer than MaxOSReleaseKeyLen, a value longer than
//     MaxOSReleaseValueLen, and fields after the first MaxOSReleaseFields
//     distinct keys.
//
// A key given twice keeps its last value, as a shell would.
func ParseOSRelease(data []byte) (map[string]string, []error) {
	fields := map[string]string{}
	var errs []error
	text := string(data)
	for n := 1; text != ""; n++ {
		line, rest, _ := strings.Cut(text, "\n")
		text = rest
		line = strings.TrimSuffix(line, "\r") // files written on Windows
		key, value, reason := parseOSReleaseLine(line)
		switch {
		case reason != "":
			errs = append(errs, &LineError{Line: n, Reason: reason})
		case key == "":
			// blank or comment
		case len(fields) >= MaxOSReleaseFields && !hasKey(fields, key):
			errs = append(errs, &LineError{Line: n, Reason: fmt.Sprintf("more than %d fields", MaxOSReleaseFields)})
		default:
			fields[key] = value
		}
	}
	return fields, errs
}

func hasKey(m map[string]string, k string) bool {
	_, ok := m[k]
	return ok
}

// parseOSReleaseLine returns the key and value of one line, an empty key
// for a blank line or a comment, or the reason the line is malformed.
func parseOSReleaseLine(line string) (key, value, reason string) {
	if !utf8.ValidString(line) {
		return "", "", "invalid UTF-8"
	}
	for _, r := range line {
		if (r < 0x20 && r != '\t') || r == 0x7f {
			return "", "", fmt.Sprintf("control character %q", r)
		}
	}
	trimmed := strings.TrimLeft(line, " \t")
	if trimmed == "" || trimmed[0] == '#' {
		return "", "", ""
	}
	key, raw, ok := strings.Cut(trimmed, "=")
	if !ok {
		return "", "", fmt.Sprintf("not KEY=value: %s", quote(trimmed))
	}
	if !validKey(key) {
		return "", "", fmt.Sprintf("invalid key %s", quote(key))
	}
	if len(key) > MaxOSReleaseKeyLen {
		return "", "", fmt.Sprintf("key %s longer than %d bytes", quote(key), MaxOSReleaseKeyLen)
	}
	value, reason = unquote(raw)
	if reason != "" {
		return "", "", key + ": " + reason
	}
	if len(value) > MaxOSReleaseValueLen {
		return "", "", fmt.Sprintf("%s: value longer than %d bytes", key, MaxOSReleaseValueLen)
	}
	return key, value, ""
}

func validKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c == '_' || ('A' <= c && c <= 'Z') || ('a' <= c && c <= 'z') || (i > 0 && '0' <= c && c <= '9') {
			continue
		}
		return false
	}
	return true
}

// unquote returns the value a shell would assign for raw, the text after
// "=", or the reason it will not.
func unquote(raw string) (string, string) {
	raw = strings.TrimRight(raw, " \t")
	if raw == "" {
		return "", ""
	}
	var b strings.Builder
	switch q := raw[0]; q {
	case '"', '\'':
		i := 1
		for ; i < len(raw) && raw[i] != q; i++ {
			c := raw[i]
			if q == '\'' {
				b.WriteByte(c)
				continue
			}
			switch c {
			case '\\':
				if i+1 < len(raw) && strings.IndexByte("$`\"\\", raw[i+1]) >= 0 {
					i++
					b.WriteByte(raw[i])
					continue
				}
				b.WriteByte(c)
			case '$', '`':
				return "", fmt.Sprintf("unescaped %q in double quotes (shell expansion is not supported)", c)
			default:
				b.WriteByte(c)
			}
		}
		if i == len(raw) {
			return "", fmt.Sprintf("unterminated %c quote", q)
		}
		if i+1 != len(raw) {
			return "", fmt.Sprintf("text after the closing quote: %s", quote(raw[i+1:]))
		}
		return b.String(), ""
	}
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '\\':
			if i+1 == len(raw) {
				return "", "backslash at end of line (continuation lines are not supported)"
			}
			i++
			b.WriteByte(raw[i])
		case c == ' ' || c == '\t':
			return "", "unquoted blank in value"
		case strings.IndexByte("\"'$`;&|<>()", c) >= 0:
			return "", fmt.Sprintf("unquoted %q in value", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), ""
}

// quote returns s quoted for a message, cut to 64 bytes.
func quote(s string) string {
	if len(s) > 64 {
		return fmt.Sprintf("%q...", s[:64])
	}
	return fmt.Sprintf("%q", s)
}
