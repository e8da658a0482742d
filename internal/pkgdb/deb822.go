package pkgdb

import (
	"strings"
	"unicode/utf8"
)

// field is one field of a deb822 stanza (RFC 822 style, as dpkg writes its
// database). value is the text on the field's own line, trimmed; multiline
// says continuation lines followed, whose text pkgdb never needs.
type field struct {
	name      string
	value     string
	multiline bool
	line      int
}

// stanzaScanner splits deb822 text into stanzas, strictly: every line valid
// UTF-8 without control characters other than tab, no line longer than
// maxLineLen, every field line "Name: value", continuation lines starting
// with a space or tab and not blank, no field twice in a stanza, and a final
// newline. It is stricter than dpkg, which tolerates some of these; dpkg
// itself never writes them.
type stanzaScanner struct {
	lineReader
	fields []field // reused between stanzas
	// blankEnd asks for a blank line after the last stanza, as dpkg writes
	// its status file: a file cut at a line boundary inside the last
	// stanza is then caught as truncated.
	blankEnd bool
}

// lineReader splits text into lines, checking each with checkText and
// against maxLineLen, and counting them for error messages.
type lineReader struct {
	src  string
	pos  int
	line int // lines consumed so far
}

// readLine returns the next line without its newline, or ok false at the
// end of the text. Text that does not end with a newline is an error.
func (s *lineReader) readLine() (line string, ok bool, err error) {
	if s.pos >= len(s.src) {
		return "", false, nil
	}
	rest := s.src[s.pos:]
	i := strings.IndexByte(rest, '\n')
	if i < 0 {
		if len(rest) > maxLineLen {
			return "", false, parseErrorf(s.line+1, "line longer than %d bytes", maxLineLen)
		}
		return "", false, parseErrorf(s.line+1, "no newline at end of file (truncated?)")
	}
	if i > maxLineLen {
		return "", false, parseErrorf(s.line+1, "line longer than %d bytes", maxLineLen)
	}
	line = rest[:i]
	s.pos += i + 1
	s.line++
	if err := checkText(line); err != nil {
		return "", false, parseErrorf(s.line, "%s", err.Msg)
	}
	return line, true, nil
}

// checkText refuses invalid UTF-8 and control characters other than tab:
// binary garbage in a text database is corruption, not data.
func checkText(line string) *ParseError {
	for i := 0; i < len(line); i++ {
		// Most bytes are printable ASCII.
		if c := line[i]; c >= 0x20 && c < 0x7f {
			continue
		}
		c := line[i]
		if c >= utf8.RuneSelf {
			if !utf8.ValidString(line[i:]) {
				return &ParseError{Msg: "invalid UTF-8"}
			}
			break
		}
		if (c < 0x20 && c != '\t') || c == 0x7f {
			return &ParseError{Msg: "control character " + quoteByte(c)}
		}
	}
	return nil
}

func quoteByte(c byte) string { return quote(string([]byte{c})) }

// next returns the fields of the next stanza and the line it starts on, or
// nil fields at the end of the text. The returned slice is reused by the
// next call.
func (s *stanzaScanner) next() ([]field, int, error) {
	s.fields = s.fields[:0]
	var line string
	for {
		l, ok, err := s.readLine()
		if err != nil {
			return nil, 0, err
		}
		if !ok {
			return nil, 0, nil
		}
		if l != "" {
			line = l
			break
		}
	}
	start := s.line
	for {
		if err := s.addLine(line); err != nil {
			return nil, 0, err
		}
		l, ok, err := s.readLine()
		if err != nil {
			return nil, 0, err
		}
		if !ok {
			if s.blankEnd {
				return nil, 0, parseErrorf(s.line, "file ends inside a stanza, without a blank line (truncated?)")
			}
			return s.fields, start, nil
		}
		if l == "" {
			return s.fields, start, nil
		}
		line = l
	}
}

func (s *stanzaScanner) addLine(line string) error {
	if line[0] == ' ' || line[0] == '\t' {
		if len(s.fields) == 0 {
			return parseErrorf(s.line, "continuation line outside a field")
		}
		f := &s.fields[len(s.fields)-1]
		if trimBlanks(line) == "" {
			return parseErrorf(s.line, "blank continuation line in field %s", f.name)
		}
		f.multiline = true
		return nil
	}
	name, value, ok := strings.Cut(line, ":")
	if !ok {
		return parseErrorf(s.line, "not a field (no colon): %s", quote(line))
	}
	if name == "" {
		return parseErrorf(s.line, "empty field name")
	}
	if name[0] == '-' || name[0] == '#' {
		return parseErrorf(s.line, "field name %s starts with %q", quote(name), name[0])
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c > '~' {
			return parseErrorf(s.line, "field name %s: character %q not allowed", quote(name), c)
		}
	}
	for _, f := range s.fields {
		if fieldIs(f.name, name) {
			return parseErrorf(s.line, "duplicate field %s (first on line %d)", name, f.line)
		}
	}
	s.fields = append(s.fields, field{name: name, value: trimBlanks(value), line: s.line})
	return nil
}

// trimBlanks trims spaces and tabs at both ends of s.
func trimBlanks(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for s != "" && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}
