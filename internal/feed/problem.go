package feed

import "fmt"

// Problem is an input record or line that could not be used, with where it
// is and why, so that the importer can report it instead of dropping it.
type Problem struct {
	File   string // the name the caller gave for the input: "DSA/list"
	Line   int    // 1-based line number; 0 if not known
	ID     string // the advisory the line belongs to; empty if none
	Reason string // lower case: "unknown release \"sid\""
}

// String returns "FILE:LINE: ID: REASON", leaving out what is unknown.
func (p Problem) String() string {
	s := p.File
	if p.Line > 0 {
		s += fmt.Sprintf(":%d", p.Line)
	}
	if p.ID != "" {
		if s != "" {
			s += ": "
		}
		s += p.ID
	}
	if s != "" {
		s += ": "
	}
	return s + p.Reason
}
