package pkgmgr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// runLogged runs a command that changes packages (c.log set): its stdout
// and stderr go, interleaved as they come, to a file rather than to
// pipes, and from the file to c.log once it ended.
//
// Pipes would tie the command's life to the agent's. Once it runs, the
// command is not stopped (a dpkg killed halfway leaves the host worse off
// than a late one), and a killed agent's dpkg goes on; but the next line
// it, apt-get or a maintainer script printed into a pipe nobody reads any
// more would kill the writer (SIGPIPE), leaving the package
// half-configured. A file takes an orphan's writes as well. It is unlinked
// at once, so nothing is left behind, whoever ends first.
func (c command) runLogged(ctx context.Context, okStatus ...int) error {
	out, err := os.CreateTemp("", "patchbay-output-*")
	if err != nil {
		return fmt.Errorf("%s: a file for its output: %w", c.describe(), err)
	}
	defer out.Close()
	if err := os.Remove(out.Name()); err != nil {
		return fmt.Errorf("%s: a file for its output: %w", c.describe(), err)
	}
	cmd := exec.CommandContext(ctx, c.argv[0], c.argv[1:]...)
	cmd.Env = mergeEnv(os.Environ(), c.env)
	cmd.Stdout, cmd.Stderr = out, out
	err = cmd.Run()
	// This run's output alone (c.log may hold earlier runs'), bounded the
	// same way, for the lock check and the error's summary.
	this := newOutputLog()
	if _, serr := out.Seek(0, io.SeekStart); serr != nil {
		return fmt.Errorf("%s: read its output back: %w", c.describe(), errors.Join(err, serr))
	}
	if _, cerr := io.Copy(io.MultiWriter(c.log, this), out); cerr != nil {
		return fmt.Errorf("%s: read its output back: %w", c.describe(), errors.Join(err, cerr))
	}
	text := this.String()
	locked := c.isLocked != nil && c.isLocked(text)
	if ctx.Err() != nil {
		if locked {
			return fmt.Errorf("%s: %w: %w", c.describe(), ErrLocked, ctx.Err())
		}
		return fmt.Errorf("%s: %w", c.describe(), ctx.Err())
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.Exited() {
		for _, s := range okStatus {
			if exit.ExitCode() == s {
				err = nil
			}
		}
	}
	switch {
	case err == nil:
		return nil
	case locked:
		return fmt.Errorf("%s: %w: %w%s", c.describe(), ErrLocked, err, outputSummary(text))
	case errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("%s: %s not found: %w", c.describe(), filepath.Base(c.argv[0]), err)
	}
	return fmt.Errorf("%s: %w%s", c.describe(), err, outputSummary(text))
}

// outputSummary is stderrSummary for a run whose stdout and stderr went
// to one file: the tools' own error lines (apt's "E:", dnf's "Error:",
// apk's "ERROR:", rpm's "error:", dpkg's "dpkg: …"), E:, Error: and ERROR:
// first; without any,
// the last lines, where a failure shows.
func outputSummary(out string) string {
	var errs, tools, all []string
	for line := range strings.SplitSeq(out, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "":
			continue
		case strings.HasPrefix(line, "E: ") || strings.HasPrefix(line, "Error: ") || strings.HasPrefix(line, "ERROR: "):
			errs = append(errs, line)
		case strings.HasPrefix(line, "error: ") || strings.HasPrefix(line, "dpkg: "):
			tools = append(tools, line)
		}
		all = append(all, line)
	}
	lines := append(errs, tools...)
	if len(lines) == 0 {
		lines = all[max(len(all)-4, 0):]
	}
	return summary(lines)
}
