package pkgmgr

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// dnfTransaction is what dnf history info says of one transaction
// (dnf/cli/output.py, _historyInfoCmd, with LC_ALL=C).
type dnfTransaction struct {
	id int
	// returnCode is "Success", "Failure: N" or "** Aborted **": a
	// transaction whose dnf was killed is "Failure: 1" once another dnf
	// has run, "** Aborted **" before.
	returnCode string
	comment    string
	packages   []dnfHistoryPackage
	// output is the scriptlet output and the errors rpm logged during
	// the transaction, one line each.
	output []string
}

// dnfHistoryPackage is one line of "Packages Altered".
type dnfHistoryPackage struct {
	action string // Install, Upgrade, Upgraded, Downgrade, Reinstall, Removed, ...
	nevra  string // name-[epoch:]version-release.arch
	// done is false for a line marked "**": the transaction did not get
	// to the end of this package's step.
	done bool
}

// incoming reports whether the transaction was putting the package in,
// rather than taking it out.
func (p dnfHistoryPackage) incoming() bool {
	switch p.action {
	case "Install", "Dep-Install", "Upgrade", "Downgrade", "Reinstall", "Obsoleting":
		return true
	}
	return false
}

// succeeded reports whether dnf recorded the transaction as finished
// without error.
func (t dnfTransaction) succeeded() bool { return t.returnCode == "Success" }

// parseHistoryInfo parses dnf history info of one transaction:
//
//	Transaction ID : 9
//	Begin time     : Fri Dec  4 23:48:18 2026
//	...
//	Return-Code    : Success
//	Comment        : patchbay-0123
//	Packages Altered:
//	    Upgrade  story-pb-1.2-1.noarch @t
//	 ** Upgraded story-pb-1.1-1.noarch @@System
//	Scriptlet output:
//	   1 warning: %post(story-pb-1.2-1.noarch) scriptlet failed, exit status 1
//
// Fields it does not use are skipped; "Transaction performed with:" lists
// packages too, not those altered.
func parseHistoryInfo(out []byte) (dnfTransaction, error) {
	var t dnfTransaction
	section := "" // "", "with", "altered", "output"
	sawID := false
	for n, line := range strings.Split(string(out), "\n") {
		if err := checkLine(line); err != nil {
			return dnfTransaction{}, fmt.Errorf("line %d: %w", n+1, err)
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		switch line {
		case "Transaction performed with:":
			section = "with"
			continue
		case "Packages Altered:":
			section = "altered"
			continue
		case "Scriptlet output:", "Errors:":
			section = "output"
			continue
		}
		if !strings.HasPrefix(line, " ") {
			if section == "output" || section == "altered" {
				return dnfTransaction{}, fmt.Errorf("line %d: a field after the package list: %s", n+1, quote(line))
			}
			section = ""
			label, value, ok := strings.Cut(line, ":")
			if !ok {
				return dnfTransaction{}, fmt.Errorf("line %d: not \"LABEL : value\": %s", n+1, quote(line))
			}
			value = strings.TrimSpace(value)
			switch strings.TrimSpace(label) {
			case "Transaction ID":
				if sawID {
					return dnfTransaction{}, fmt.Errorf("line %d: a second transaction", n+1)
				}
				id, err := strconv.Atoi(value)
				if err != nil || id <= 0 {
					// "3..5": several transactions merged.
					return dnfTransaction{}, fmt.Errorf("line %d: transaction id %s: not one transaction", n+1, quote(value))
				}
				t.id, sawID = id, true
			case "Return-Code":
				t.returnCode = value
			case "Comment":
				t.comment = value
			}
			continue
		}
		switch section {
		case "with":
		case "altered":
			p, err := parseHistoryPackage(line)
			if err != nil {
				return dnfTransaction{}, fmt.Errorf("line %d: %w", n+1, err)
			}
			t.packages = append(t.packages, p)
		case "output":
			num, text, _ := strings.Cut(strings.TrimLeft(line, " "), " ")
			if _, err := strconv.Atoi(num); err != nil {
				return dnfTransaction{}, fmt.Errorf("line %d: output line without its number: %s", n+1, quote(line))
			}
			t.output = append(t.output, text)
		default:
			return dnfTransaction{}, fmt.Errorf("line %d: indented line outside a list: %s", n+1, quote(line))
		}
	}
	if !sawID {
		return dnfTransaction{}, errors.New("no Transaction ID")
	}
	if t.returnCode == "" {
		return dnfTransaction{}, fmt.Errorf("transaction %d: no Return-Code", t.id)
	}
	return t, nil
}

// parseHistoryPackage parses "    ACTION NEVRA REPO" or " ** ACTION NEVRA
// REPO". The action "Reason Change" has a space in it.
func parseHistoryPackage(line string) (dnfHistoryPackage, error) {
	p := dnfHistoryPackage{done: true}
	rest, marked := strings.CutPrefix(line, " ** ")
	if marked {
		p.done = false
	} else if rest, marked = strings.CutPrefix(line, "    "); !marked {
		return p, fmt.Errorf("package line not indented by 4: %s", quote(line))
	}
	if r, ok := strings.CutPrefix(rest, "Reason Change "); ok {
		p.action, rest = "Reason Change", r
	} else {
		var ok bool
		if p.action, rest, ok = strings.Cut(rest, " "); !ok || p.action == "" {
			return p, fmt.Errorf("package line without an action: %s", quote(line))
		}
	}
	f := strings.Fields(rest)
	if len(f) != 1 && len(f) != 2 {
		return p, fmt.Errorf("package line: %d fields after the action, want NEVRA and repository: %s", len(f), quote(line))
	}
	p.nevra = f[0]
	if _, _, _, err := splitNEVRA(p.nevra); err != nil {
		return p, fmt.Errorf("package %w", err)
	}
	return p, nil
}

// rpm's messages for a failed scriptlet (lib/rpmscript.c, rpmlua.c), as
// they reach dnf's history: "%post(story-pb-1.2-1.noarch) scriptlet
// failed, exit status 1" (or ", signal 9") for a program, and "lua script
// failed: [string "%post(story-pb-1.2-1.noarch)"]:1: ..." for Lua.
var (
	scriptletFailed = regexp.MustCompile(`%([a-z]+)\(([^()\s"]+)\) scriptlet failed`)
	luaFailed       = regexp.MustCompile(`lua script failed: \[string "%([a-z]+)\(([^()\s"]+)\)"\]`)
)

// scriptletFailures returns, for each package whose scriptlet the output
// says failed, the scriptlets ("%post"), sorted.
func scriptletFailures(output []string) map[string][]string {
	out := map[string][]string{}
	for _, line := range output {
		for _, re := range []*regexp.Regexp{scriptletFailed, luaFailed} {
			for _, m := range re.FindAllStringSubmatch(line, -1) {
				s := "%" + m[1]
				if !slices.Contains(out[m[2]], s) {
					out[m[2]] = append(out[m[2]], s)
					slices.Sort(out[m[2]])
				}
			}
		}
	}
	return out
}

// dnfScriptError is dnf's own line on stderr for a scriptlet rpm reports
// failed (dnf/yum/rpmtrans.py), naming the package without its version:
// "Error in POSTIN scriptlet in rpm package story-pb".
var dnfScriptError = regexp.MustCompile(`(?m)^Error in (\S+) scriptlet in rpm package (\S+)\s*$`)

// parseDnfCheck parses dnf check's stdout: one problem a line ("foo-1-1.noarch
// is a duplicate with foo-2-1.noarch", "bar-1-1.noarch has missing requires
// of baz >= 2").
func parseDnfCheck(out []byte) ([]string, error) {
	var problems []string
	for n, line := range strings.Split(string(out), "\n") {
		if err := checkLine(line); err != nil {
			return nil, fmt.Errorf("line %d: %w", n+1, err)
		}
		if line = strings.TrimSpace(line); line != "" {
			problems = append(problems, line)
		}
	}
	return problems, nil
}
