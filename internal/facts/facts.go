// Package facts collects what the agent reports about its host at every
// check-in (protocol.Facts): hostname, machine id, the fields of
// os-release, kernel release, architecture, CPU count, memory, uptime and
// boot time, whether a reboot is required, the local time zone, and the
// agent's and protocol's versions.
//
// Everything is read from files under a root directory, "/" on a host, a
// fixture tree in a test: /etc and /var files of the system, and the
// kernel's /proc files (a fixture root holds copies of those). Under a root
// other than "/", symbolic links resolve inside the root, as in a chroot.
// Only on the live machine (root "/") does Collect also ask the process
// (os.Hostname, runtime.NumCPU, the local time zone's abbreviation) and run
// needs-restarting.
//
// A fact that cannot be read is an *Error naming the fact and the path, and
// leaves that field at its zero value; the other facts are still
// collected. Nothing here panics on a malformed file.
package facts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	"github.com/patchbay/patchbay/internal/protocol"
)

// Options configure Collect. The zero value collects the live machine's
// facts with the real clock and os/exec.
type Options struct {
	// Root is the root directory; "" means "/".
	Root string
	// AgentVersion is reported as is.
	AgentVersion string
	// Now is the clock; nil means time.Now. Collect reads it for the time
	// zone's abbreviation when the zone has no name.
	Now func() time.Time
	// LookPath finds a program on PATH; nil means exec.LookPath.
	LookPath func(file string) (string, error)
	// Command runs a program; nil means os/exec (see RunCommand).
	Command CommandFunc
}

// CommandFunc runs argv[0] with the arguments argv[1:], never through a
// shell. A program that ran and exited with any status is not an error:
// the status is in the Result. err is for a program that could not be
// started or did not exit (a signal, ctx done).
type CommandFunc func(ctx context.Context, argv []string) (Result, error)

// Result is what a program printed and its exit status.
type Result struct {
	Stdout, Stderr []byte
	ExitCode       int
}

// RunCommand is the CommandFunc of os/exec. The program runs with the
// agent's environment, LC_ALL=C so its messages are in English.
func RunCommand(ctx context.Context, argv []string) (Result, error) {
	if len(argv) == 0 {
		return Result{}, errors.New("run: no program")
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := Result{Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
	if ctx.Err() != nil {
		return res, fmt.Errorf("run %s: %w", argv[0], ctx.Err())
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.Exited() {
		res.ExitCode = exit.ExitCode()
		return res, nil
	}
	if err != nil {
		return res, fmt.Errorf("run %s: %w", argv[0], err)
	}
	return res, nil
}

// Error reports one fact that could not be read.
type Error struct {
	// Fact is the fact's name in protocol.Facts' JSON: hostname,
	// machine_id, os_release, kernel, arch, cpus, memory_bytes,
	// uptime_seconds, boot_time, reboot_required, time_zone.
	Fact string
	Err  error
}

// Error returns "FACT: why".
func (e *Error) Error() string { return e.Fact + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Collect returns the facts of the host under opt.Root, and an *Error for
// each fact it could not read (os-release lines it skipped are errors of
// the fact os_release, and the fields of the other lines are returned).
// The errors come in the order of protocol.Facts' fields. A root that does
// not exist is one error, and only the versions are set.
func Collect(ctx context.Context, opt Options) (protocol.Facts, []error) {
	root := opt.Root
	if root == "" {
		root = "/"
	}
	abs, err := filepath.Abs(root)
	if err == nil {
		var fi os.FileInfo
		if fi, err = os.Stat(abs); err == nil && !fi.IsDir() {
			err = fmt.Errorf("%s is not a directory", abs)
		}
	}
	c := &collector{opt: opt, fs: rootFS{dir: abs, live: abs == "/"}, liveCommands: abs == "/"}
	c.f.AgentVersion = opt.AgentVersion
	c.f.ProtocolVersion = protocol.Version
	if err != nil {
		return c.f, []error{fmt.Errorf("collect facts: root: %w", err)}
	}
	c.collect(ctx)
	return c.f, c.errs
}

// collector gathers the facts one by one, recording each failure.
type collector struct {
	opt  Options
	fs   rootFS
	f    protocol.Facts
	errs []error
	// liveCommands runs the programs that inspect the running system
	// (needs-restarting): only when the root is the live machine.
	liveCommands bool
}

func (c *collector) fail(fact string, err error) {
	c.errs = append(c.errs, &Error{Fact: fact, Err: err})
}

func (c *collector) now() time.Time {
	if c.opt.Now != nil {
		return c.opt.Now()
	}
	return time.Now()
}

func (c *collector) collect(ctx context.Context) {
	c.hostname()
	c.machineID()
	c.osRelease()
	c.kernel()
	c.arch()
	c.cpus()
	c.memory()
	c.uptime()
	c.bootTime()
	c.rebootRequired(ctx)
	c.timeZone()
}

// readProc reads a kernel file under the root.
func (c *collector) readProc(name string) ([]byte, error) {
	return c.fs.readFile(name, maxProcSize)
}

// parseProc reads a kernel file and parses it, naming the file in an error.
func parseProc[T any](c *collector, fact, name string, parse func([]byte) (T, error)) (T, bool) {
	var zero T
	data, err := c.readProc(name)
	if err != nil {
		c.fail(fact, err)
		return zero, false
	}
	v, err := parse(data)
	if err != nil {
		c.fail(fact, fmt.Errorf("%s: %w", c.fs.display(name), err))
		return zero, false
	}
	return v, true
}

func (c *collector) kernel() {
	if v, ok := parseProc(c, "kernel", procOSRelease, func(b []byte) (string, error) { return firstLine(b, 256) }); ok {
		c.f.Kernel = v
	}
}

// arch is uname -m: /proc/sys/kernel/arch where the kernel has it; on the
// live machine with an older kernel, the agent's GOARCH mapped to the
// kernel's name (see goarchToUname).
func (c *collector) arch() {
	data, err := c.readProc(procArch)
	if err != nil {
		if c.fs.live && errors.Is(err, os.ErrNotExist) {
			c.f.Arch = unameFromGOARCH()
			return
		}
		c.fail("arch", err)
		return
	}
	v, err := firstLine(data, 32)
	if err != nil {
		c.fail("arch", fmt.Errorf("%s: %w", c.fs.display(procArch), err))
		return
	}
	c.f.Arch = v
}

// cpus is runtime.NumCPU on the live machine: the CPUs the agent may run
// on, which is every online CPU unless the agent is confined to fewer
// (taskset, a cpuset cgroup). Under another root, the processors
// /proc/cpuinfo lists.
func (c *collector) cpus() {
	if c.fs.live {
		c.f.CPUs = runtime.NumCPU()
		return
	}
	if n, ok := parseProc(c, "cpus", procCPUInfo, countCPUs); ok {
		c.f.CPUs = n
	}
}

func (c *collector) memory() {
	if v, ok := parseProc(c, "memory_bytes", procMeminfo, parseMemTotal); ok {
		c.f.MemoryBytes = v
	}
}

func (c *collector) uptime() {
	if v, ok := parseProc(c, "uptime_seconds", procUptime, parseUptime); ok {
		c.f.UptimeSeconds = v
	}
}

func (c *collector) bootTime() {
	if v, ok := parseProc(c, "boot_time", procStat, parseBootTime); ok {
		c.f.BootTime = v
	}
}
