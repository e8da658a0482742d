//go:build linux

package pkgmgr

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The processes TestChangeOutlivesTheAgent runs, by this test binary run
// again: an agent running a package-changing command, and that command.
const (
	envChangeAgent = "PATCHBAY_TEST_CHANGE_AGENT" // a directory
	envChangeChild = "PATCHBAY_TEST_CHANGE_CHILD" // a directory
)

// TestChangeOutlivesTheAgent kills an agent while a package-changing
// command it started (one with a log, as apt-get install and dpkg -i
// are) waits midway, as dpkg does in a slow postinst; the command then
// prints, as maintainer scripts do, and must finish: the agent's death
// must not kill it (a pipe nobody reads any more would, by SIGPIPE,
// leaving the package half-configured).
func TestChangeOutlivesTheAgent(t *testing.T) {
	if os.Getenv(envChangeAgent) != "" || os.Getenv(envChangeChild) != "" {
		t.Skip("a helper process of this test")
	}
	dir := t.TempDir()
	gate := filepath.Join(dir, "gate")
	if err := syscall.Mkfifo(gate, 0o600); err != nil {
		t.Fatal(err)
	}
	agent := exec.Command(os.Args[0], "-test.run=^TestHelperChangeAgent$")
	agent.Env = append(os.Environ(), envChangeAgent+"="+dir)
	agent.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	// The orphaned command, whatever happened.
	t.Cleanup(func() { syscall.Kill(-agent.Process.Pid, syscall.SIGKILL) })
	waitFile(t, filepath.Join(dir, "started"), "the command to start")
	if err := agent.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	agent.Wait()
	w, err := os.OpenFile(gate, os.O_WRONLY, 0) // the command has it open for reading
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(w, "go")
	w.Close()
	waitFile(t, filepath.Join(dir, "done"), "the command to finish after the agent was killed (did it die of SIGPIPE?)")
}

// TestHelperChangeAgent is the agent of TestChangeOutlivesTheAgent: it
// runs the command the way Install runs apt-get, and is killed meanwhile.
func TestHelperChangeAgent(t *testing.T) {
	dir := os.Getenv(envChangeAgent)
	if dir == "" {
		t.Skip("a helper process of TestChangeOutlivesTheAgent")
	}
	c := command{argv: []string{os.Args[0], "-test.run=^TestHelperChangeChild$"}, env: []string{envChangeAgent + "=", envChangeChild + "=" + dir}, log: newOutputLog()}
	_, err := c.run(context.Background())
	t.Fatalf("the command ended while its agent should have been killed: %v", err)
}

// TestHelperChangeChild is the command: it says it started, waits for
// the gate, prints on both its outputs, and says it is done.
func TestHelperChangeChild(t *testing.T) {
	dir := os.Getenv(envChangeChild)
	if dir == "" {
		t.Skip("a helper process of TestChangeOutlivesTheAgent")
	}
	if err := os.WriteFile(filepath.Join(dir, "started"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	gate, err := os.Open(filepath.Join(dir, "gate"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bufio.NewReader(gate).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		fmt.Printf("Setting up story-pb (1.1) ... line %d\n", i)
		fmt.Fprintf(os.Stderr, "postinst: a warning, line %d\n", i)
	}
	if err := os.WriteFile(filepath.Join(dir, "done"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
}

// waitFile waits up to 20 s for path to exist.
func waitFile(t *testing.T, path, what string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			return
		} else if !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited 20 s for %s", what)
		}
	}
}

// A package-changing command's output reaches its log interleaved as it
// came, and its failure names the tools' error lines.
func TestChangeOutputAndError(t *testing.T) {
	sh := lookTool(t, "sh")
	log := newOutputLog()
	script := `echo "Setting up story-pb (1.2) ..."; echo "story-pb 1.2: postinst fails on purpose" >&2; ` +
		`echo "dpkg: error processing package story-pb (--configure):" >&2; echo "Errors were encountered while processing:"; ` +
		`echo "E: Sub-process /usr/bin/dpkg returned an error code (1)" >&2; exit 100`
	_, err := command{argv: []string{sh, "-c", script}, log: log}.run(context.Background())
	want := "Setting up story-pb (1.2) ...\nstory-pb 1.2: postinst fails on purpose\ndpkg: error processing package story-pb (--configure):\n" +
		"Errors were encountered while processing:\nE: Sub-process /usr/bin/dpkg returned an error code (1)\n"
	if got := log.String(); got != want {
		t.Errorf("log:\n%s\nwant:\n%s", got, want)
	}
	// The tools' error lines, not the chatter around them.
	wantErr := ": exit status 100: E: Sub-process /usr/bin/dpkg returned an error code (1); dpkg: error processing package story-pb (--configure):"
	if err == nil || !strings.HasSuffix(err.Error(), wantErr) {
		t.Errorf("error %v\nwant it to end %s", err, wantErr)
	}
	locked := func(out string) bool { return strings.Contains(out, "Could not get lock") }
	_, err = command{argv: []string{sh, "-c", `echo "E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 7 (apt-get)" >&2; exit 100`},
		log: newOutputLog(), isLocked: locked}.run(context.Background())
	if !errors.Is(err, ErrLocked) {
		t.Errorf("a run that found the lock held: %v; want ErrLocked", err)
	}
}
