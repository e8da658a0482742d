package facts

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"
)

// Files of the system, under the root.
const (
	etcHostname       = "/etc/hostname"
	etcMachineID      = "/etc/machine-id"
	dbusMachineID     = "/var/lib/dbus/machine-id"
	etcOSRelease      = "/etc/os-release"
	usrLibOSRelease   = "/usr/lib/os-release"
	rebootRequired    = "/var/run/reboot-required"      // Debian, Ubuntu: update-notifier-common, unattended-upgrades
	rebootRequiredPkg = "/var/run/reboot-required.pkgs" // the packages that asked, one a line, repeated
	etcLocaltime      = "/etc/localtime"
	etcTimezone       = "/etc/timezone"
	maxEtcSize        = 64 << 10
)

// Limits the server enforces on facts (internal/store, factsColumns).
const (
	maxHostnameLen       = 253
	maxRebootPackages    = 1000
	maxRebootPackageLen  = 256
	maxTimeZoneLen       = 64
	needsRestartingLimit = 2 * time.Minute
)

// hostname is the kernel's hostname (/proc/sys/kernel/hostname). Without
// that file: os.Hostname on the live machine, /etc/hostname under another
// root (a mounted image has no /proc).
func (c *collector) hostname() {
	data, err := c.readProc(procHostname)
	if err == nil {
		c.set("hostname", procHostname, data, maxHostnameLen, &c.f.Hostname)
		return
	}
	if !errors.Is(err, fs.ErrNotExist) {
		c.fail("hostname", err)
		return
	}
	if c.fs.live {
		h, err2 := os.Hostname()
		if err2 != nil {
			c.fail("hostname", fmt.Errorf("%w; os.Hostname: %w", err, err2))
			return
		}
		c.set("hostname", "os.Hostname", []byte(h), maxHostnameLen, &c.f.Hostname)
		return
	}
	data, err2 := c.fs.readFile(etcHostname, maxEtcSize)
	if err2 != nil {
		c.fail("hostname", fmt.Errorf("%w; %w", err, err2))
		return
	}
	c.set("hostname", etcHostname, skipComments(data), maxHostnameLen, &c.f.Hostname)
}

// set stores the first line of data in *dst, or records why it cannot.
func (c *collector) set(fact, name string, data []byte, maxLen int, dst *string) {
	v, err := firstLine(data, maxLen)
	if err != nil {
		c.fail(fact, fmt.Errorf("%s: %w", c.fs.display(name), err))
		return
	}
	*dst = v
}

// skipComments drops the blank lines and # comments before the first line
// of a one-value /etc file.
func skipComments(data []byte) []byte {
	s := string(data)
	for s != "" {
		line, rest, _ := strings.Cut(s, "\n")
		if t := strings.TrimSpace(line); t != "" && t[0] != '#' {
			return []byte(t)
		}
		s = rest
	}
	return nil
}

// machineID is the first valid id of /etc/machine-id and
// /var/lib/dbus/machine-id: 32 hexadecimal digits, not all zero
// (machine-id(5)), reported in lower case. An empty or "uninitialized"
// /etc/machine-id, as images ship it, is not an id.
func (c *collector) machineID() {
	var errs []error
	for _, name := range []string{etcMachineID, dbusMachineID} {
		data, err := c.fs.readFile(name, 4096)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		id := strings.TrimSpace(string(data))
		if err := validMachineID(id); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c.fs.display(name), err))
			continue
		}
		c.f.MachineID = strings.ToLower(id)
		return
	}
	c.fail("machine_id", joinErrors(errs...))
}

func validMachineID(id string) error {
	if len(id) != 32 {
		return fmt.Errorf("%s is not 32 hexadecimal digits", quote(id))
	}
	zero := true
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return fmt.Errorf("%s is not 32 hexadecimal digits", quote(id))
		}
		zero = zero && c == '0'
	}
	if zero {
		return errors.New("all zeros")
	}
	return nil
}

// osRelease reads /etc/os-release or, when it does not exist,
// /usr/lib/os-release (os-release(5)).
func (c *collector) osRelease() {
	name := etcOSRelease
	data, err := c.fs.readFile(name, maxOSReleaseSize)
	if errors.Is(err, fs.ErrNotExist) {
		name = usrLibOSRelease
		var err2 error
		if data, err2 = c.fs.readFile(name, maxOSReleaseSize); err2 != nil {
			err = fmt.Errorf("%w; %w", err, err2)
		} else {
			err = nil
		}
	}
	if err != nil {
		c.fail("os_release", err)
		return
	}
	fields, errs := ParseOSRelease(data)
	for _, e := range errs {
		c.fail("os_release", fmt.Errorf("%s: %w", c.fs.display(name), e))
	}
	if len(fields) == 0 {
		if len(errs) == 0 {
			c.fail("os_release", fmt.Errorf("%s: no fields", c.fs.display(name)))
		}
		return
	}
	c.f.OSRelease = fields
}

// rebootRequired: on Debian and Ubuntu, /var/run/reboot-required exists
// when an upgraded package asked for a reboot, and
// /var/run/reboot-required.pkgs names them. Otherwise, on the live machine
// where needs-restarting exists (RPM systems: dnf-utils or yum-utils),
// needs-restarting -r decides: exit status 1 means a reboot is required,
// 0 that it is not. A machine with neither needs no reboot that it knows
// of.
func (c *collector) rebootRequired(ctx context.Context) {
	ok, err := c.fs.exists(rebootRequired)
	if err != nil {
		c.fail("reboot_required", err)
		return
	}
	if ok {
		c.f.RebootRequired = true
		c.rebootPackages()
		return
	}
	if c.liveCommands {
		c.needsRestarting(ctx)
	}
}

func (c *collector) rebootPackages() {
	data, err := c.fs.readFile(rebootRequiredPkg, 1<<20)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil {
		c.fail("reboot_required", err)
		return
	}
	pkgs, err := parsePackageList(data)
	if err != nil {
		c.fail("reboot_required", fmt.Errorf("%s: %w", c.fs.display(rebootRequiredPkg), err))
	}
	c.f.RebootPackages = pkgs
}

// parsePackageList returns the distinct names of a list, one a line, sorted;
// bad lines are left out and reported, the list cut at maxRebootPackages.
func parsePackageList(data []byte) ([]string, error) {
	var pkgs []string
	var errs []error
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if v, err := firstLine([]byte(line), maxRebootPackageLen); err != nil || strings.ContainsAny(v, " \t") {
			errs = append(errs, fmt.Errorf("line %d: not a package name: %s", n+1, quote(line)))
			continue
		}
		pkgs = append(pkgs, line)
	}
	slices.Sort(pkgs)
	pkgs = slices.Compact(pkgs)
	if len(pkgs) > maxRebootPackages {
		errs = append(errs, fmt.Errorf("%d packages, only the first %d reported", len(pkgs), maxRebootPackages))
		pkgs = pkgs[:maxRebootPackages]
	}
	return pkgs, joinErrors(errs...)
}

// needsRestarting runs needs-restarting -r, when it is installed. Its
// output on exit status 1 lists the packages updated since boot as lines
// "  * NAME" (dnf-plugins-core's needs_restarting.py).
func (c *collector) needsRestarting(ctx context.Context) {
	lookPath, run := c.opt.LookPath, c.opt.Command
	if lookPath == nil {
		lookPath = exec.LookPath
	}
	if run == nil {
		run = RunCommand
	}
	prog, err := lookPath("needs-restarting")
	if err != nil {
		return // not an RPM system with dnf-utils: nothing to ask
	}
	ctx, cancel := context.WithTimeout(ctx, needsRestartingLimit)
	defer cancel()
	res, err := run(ctx, []string{prog, "-r"})
	if err != nil {
		c.fail("reboot_required", err)
		return
	}
	switch res.ExitCode {
	case 0:
	case 1:
		c.f.RebootRequired = true
		var names []string
		for line := range strings.SplitSeq(string(res.Stdout), "\n") {
			if name, ok := strings.CutPrefix(line, "  * "); ok {
				names = append(names, name)
			}
		}
		pkgs, err := parsePackageList([]byte(strings.Join(names, "\n")))
		if err != nil {
			c.fail("reboot_required", fmt.Errorf("%s -r: %w", prog, err))
		}
		c.f.RebootPackages = pkgs
	default:
		c.fail("reboot_required", fmt.Errorf("%s -r: exit status %d: %s", prog, res.ExitCode, summarize(res.Stderr)))
	}
}

// timeZone is the IANA name of the local time zone: the target of the
// /etc/localtime link below a zoneinfo directory, which is what the C
// library reads; else the name in /etc/timezone (Debian's copy, which can
// be stale, hence second); else, on the live machine, the abbreviation of
// the agent's local zone (as Go read it from /etc/localtime, say "CET").
func (c *collector) timeZone() {
	var errs []error
	target, err := c.fs.readlink(etcLocaltime)
	if err == nil {
		if i := strings.LastIndex(target, "zoneinfo/"); i >= 0 {
			name := target[i+len("zoneinfo/"):]
			name = strings.TrimPrefix(strings.TrimPrefix(name, "posix/"), "right/")
			if err := validZone(name); err == nil {
				c.f.TimeZone = name
				return
			}
		}
		errs = append(errs, fmt.Errorf("%s links to %s, not a zone in a zoneinfo directory", c.fs.display(etcLocaltime), quote(target)))
	} else {
		errs = append(errs, err)
	}
	data, err := c.fs.readFile(etcTimezone, maxEtcSize)
	if err == nil {
		name := string(skipComments(data))
		if err := validZone(name); err == nil {
			c.f.TimeZone = name
			return
		}
		errs = append(errs, fmt.Errorf("%s: not a zone name: %s", c.fs.display(etcTimezone), quote(name)))
	} else {
		errs = append(errs, err)
	}
	if c.fs.live {
		if abbr, _ := c.now().Zone(); abbr != "" {
			c.f.TimeZone = abbr
			return
		}
	}
	c.fail("time_zone", joinErrors(errs...))
}

// validZone accepts an IANA zone name: Europe/Berlin, Etc/GMT+1, UTC.
func validZone(s string) error {
	if s == "" || len(s) > maxTimeZoneLen || s[0] == '/' {
		return errors.New("bad length or absolute")
	}
	for _, part := range strings.Split(s, "/") {
		if part == "" || part == "." || part == ".." {
			return errors.New("bad path component")
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("/_+-.", c) >= 0) {
			return fmt.Errorf("character %q", c)
		}
	}
	return nil
}

// summarize returns the first lines of a program's stderr for a message.
func summarize(stderr []byte) string {
	s := strings.TrimSpace(string(stderr))
	if s == "" {
		return "no message"
	}
	lines := strings.Split(s, "\n")
	if len(lines) > 3 {
		lines = append(lines[:3], fmt.Sprintf("(and %d more lines)", len(lines)-3))
	}
	s = strings.Join(lines, "; ")
	if len(s) > 600 {
		s = s[:600] + "..."
	}
	return s
}

// joinErrors joins errors on one line, separated by "; " (errors.Join
// separates them with newlines, awkward in a log line or a table cell);
// errors.Is and errors.As see each of them.
func joinErrors(errs ...error) error {
	errs = slices.DeleteFunc(errs, func(e error) bool { return e == nil })
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return multiError(errs)
}

type multiError []error

func (m multiError) Error() string {
	s := make([]string, len(m))
	for i, e := range m {
		s[i] = e.Error()
	}
	return strings.Join(s, "; ")
}

func (m multiError) Unwrap() []error { return m }
