// Package pkgmgr drives the host's package managers (apt and dpkg, dnf and
// rpm, apk) through argv calls, never a shell.
//
// It asks them which updates are available, without changing anything
// installed: Apt and Dnf each have Refresh (download the package indexes)
// and Updates (the candidates, read-only, from the indexes as last
// refreshed). RefreshPolicy decides when indexes are stale.
//
// And it changes packages: AptJobs, DnfJobs and ApkJobs run deployment
// jobs (fetch ahead, install exact versions, restore kept ones). Apt.Install installs exact versions (an Action each:
// NAME=VERSION, validated before it reaches a command line), upgrades only
// if asked, downgrades only if asked, and records each package's state
// before and after from dpkg's database; a package that fails has a typed
// Reason (held, not installed, version not available, locked, failed). For
// deployments and their rollback: Download fetches target versions ahead,
// so that they stay installable after the archive drops them; Keep keeps
// the installed versions' files, from apt's cache or rebuilt from the
// installed files; InstallFiles installs such files with dpkg, without
// the archive; Consistent lists the packages a failed or interrupted run
// left half-installed or half-configured. The commands that change
// packages wait for dpkg's locks up to Apt.LockTimeout, and once they run
// are not stopped by their context: a dpkg killed halfway leaves the host
// worse off than a late one.
//
// Every driver takes a root directory: "/" on a host; another root (a
// throwaway tree in a test) is isolated from the machine's own package
// manager configuration as far as the tool allows (see Apt and Dnf); dpkg
// runs maintainer scripts chrooted into such a root.
// Programs run with the agent's environment, LC_ALL=C (their output is
// parsed in English) and DEBIAN_FRONTEND=noninteractive. A failing
// program's error names the command, its exit status and its stderr; a
// missing program wraps exec.ErrNotFound; a package manager lock held by
// another process wraps ErrLocked.
package pkgmgr

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// ErrLocked is wrapped by the error of a command that failed because
// another process holds the package manager's lock (an apt-get or
// unattended-upgrades run, say): worth retrying later, not a broken host.
var ErrLocked = errors.New("package manager lock held by another process")

// maxOutput bounds what is kept of one command's output. apt-cache policy
// of a few thousand packages is a few MB.
const maxOutput = 256 << 20

// command is one program run: argv, the environment added to the agent's,
// and how to recognise a lock held by someone else in its stderr.
type command struct {
	argv     []string
	env      []string // KEY=value, replacing the agent's
	isLocked func(stderr string) bool
	// log, when set, marks a command that changes packages: its stdout
	// and stderr go there, interleaved, and nowhere else (see runLogged).
	log *outputLog
}

// run runs c and returns its stdout (none for a command with a log). A
// nonzero exit status is an error unless okStatus accepts it; the error
// holds the command line, the status and a summary of stderr.
func (c command) run(ctx context.Context, okStatus ...int) ([]byte, error) {
	if c.log != nil {
		return nil, c.runLogged(ctx, okStatus...)
	}
	name := filepath.Base(c.argv[0])
	cmd := exec.CommandContext(ctx, c.argv[0], c.argv[1:]...)
	cmd.Env = mergeEnv(os.Environ(), c.env)
	stdout := &limitedBuffer{max: maxOutput}
	stderr := &limitedBuffer{max: 1 << 20}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.WaitDelay = 10 * time.Second // a child keeping the pipes open
	err := cmd.Run()
	if ctx.Err() != nil {
		if c.isLocked != nil && c.isLocked(stderr.String()) {
			// dnf waits for another dnf instead of failing.
			return nil, fmt.Errorf("%s: %w: %w", c.describe(), ErrLocked, ctx.Err())
		}
		return nil, fmt.Errorf("%s: %w", c.describe(), ctx.Err())
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.Exited() {
		for _, s := range okStatus {
			if exit.ExitCode() == s {
				err = nil
			}
		}
	}
	if err != nil {
		msg := stderrSummary(stderr.String())
		if c.isLocked != nil && c.isLocked(stderr.String()) {
			return nil, fmt.Errorf("%s: %w: %w%s", c.describe(), ErrLocked, err, msg)
		}
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s: %s not found: %w", c.describe(), name, err)
		}
		return nil, fmt.Errorf("%s: %w%s", c.describe(), err, msg)
	}
	if stdout.overflow {
		return nil, fmt.Errorf("%s: output larger than %d bytes", c.describe(), maxOutput)
	}
	return stdout.Bytes(), nil
}

// describe returns the program and its first arguments that are not
// options, for messages: "apt-get update", "dnf updateinfo".
func (c command) describe() string {
	words := []string{filepath.Base(c.argv[0])}
	for i := 1; i < len(c.argv) && len(words) < 3; i++ {
		a := c.argv[i]
		if a == "-o" || a == "--setopt" {
			i++
			continue
		}
		if !strings.HasPrefix(a, "-") {
			words = append(words, a)
		}
	}
	return strings.Join(words, " ")
}

// mergeEnv returns base with the variables of set replacing those of the
// same name; LANG, LANGUAGE and the LC_ variables of base are dropped when
// set has LC_ALL.
func mergeEnv(base, set []string) []string {
	names := map[string]bool{}
	for _, kv := range set {
		k, _, _ := strings.Cut(kv, "=")
		names[k] = true
	}
	out := make([]string, 0, len(base)+len(set))
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if names[k] || (names["LC_ALL"] && (k == "LANG" || k == "LANGUAGE" || strings.HasPrefix(k, "LC_"))) {
			continue
		}
		out = append(out, kv)
	}
	return append(out, set...)
}

// limitedBuffer keeps the first max bytes written to it and notes that more
// came, without failing the writer (so the program is not killed by
// SIGPIPE before it reports its own error).
type limitedBuffer struct {
	bytes.Buffer
	max      int
	overflow bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); len(p) > room {
		b.overflow = true
		if room > 0 {
			b.Buffer.Write(p[:room])
		}
		return len(p), nil
	}
	return b.Buffer.Write(p)
}

// outputLog keeps what a package-changing run printed, stdout and stderr
// interleaved as they came, bounded: the first head bytes (what apt
// planned) and the last tail bytes (where it failed), with a note of how
// much was left out between them. It is safe for the two writers of one
// command.
type outputLog struct {
	mu         sync.Mutex
	head, tail int
	first      []byte
	last       []byte // up to 2*tail, cut back to tail when full
	dropped    int64
}

// Bounds of the output kept from one install: maintainer scripts can
// print a lot (a kernel's postinst rebuilding initramfs images).
const (
	logHead = 16 << 10
	logTail = 48 << 10
)

func newOutputLog() *outputLog { return &outputLog{head: logHead, tail: logTail} }

func (l *outputLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := len(p)
	if room := l.head - len(l.first); room > 0 {
		k := min(room, len(p))
		l.first = append(l.first, p[:k]...)
		p = p[k:]
	}
	l.last = append(l.last, p...)
	if len(l.last) > 2*l.tail {
		cut := len(l.last) - l.tail
		l.dropped += int64(cut)
		l.last = append(l.last[:0], l.last[cut:]...)
	}
	return n, nil
}

// String returns the output kept.
func (l *outputLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	last, dropped := l.last, l.dropped
	if len(last) > l.tail {
		dropped += int64(len(last) - l.tail)
		last = last[len(last)-l.tail:]
	}
	if dropped == 0 {
		return string(l.first) + string(last)
	}
	return fmt.Sprintf("%s\n[... %d bytes left out ...]\n%s", l.first, dropped, last)
}

// stderrSummary returns ": " and the first lines of stderr, errors (apt's
// "E:" lines) first, or "" when it is empty.
func stderrSummary(stderr string) string {
	var errs, other []string
	for line := range strings.SplitSeq(stderr, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "":
		case strings.HasPrefix(line, "E: ") || strings.HasPrefix(line, "Error: "):
			errs = append(errs, line)
		default:
			other = append(other, line)
		}
	}
	return summary(append(errs, other...))
}

// summary returns ": " and the first four of lines, joined, each cut at
// 300 bytes, or "" when there are none.
func summary(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	more := ""
	if len(lines) > 4 {
		more = fmt.Sprintf(" (and %d more lines)", len(lines)-4)
		lines = lines[:4]
	}
	for i, l := range lines {
		if len(l) > 300 {
			lines[i] = l[:300] + "..."
		}
	}
	return ": " + strings.Join(lines, "; ") + more
}

// lookProgram returns prog, or the program name found on PATH when prog is
// "". A missing program is an error wrapping exec.ErrNotFound (or
// fs.ErrNotExist for a path).
func lookProgram(prog, name string) (string, error) {
	if prog == "" {
		prog = name
	}
	if strings.ContainsRune(prog, filepath.Separator) {
		if _, err := os.Stat(prog); err != nil {
			return "", fmt.Errorf("%s: %w", name, err)
		}
		return prog, nil
	}
	p, err := exec.LookPath(prog)
	if err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	return p, nil
}

// cleanRoot returns root made absolute, "/" for "".
func cleanRoot(root string) (string, error) {
	if root == "" {
		return "/", nil
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return "", fmt.Errorf("root %s: %w", root, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return "", fmt.Errorf("root: %w", err)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("root %s is not a directory", abs)
	}
	return abs, nil
}
