package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"time"

	"github.com/patchbay/patchbay/internal/facts"
)

// HostOps is what jobs need of the host beyond its package manager:
// health (services, boot time, reboot needed), the hooks an administrator
// put on it, and rebooting. Names always come from the job; none of them
// reaches a shell.
type HostOps interface {
	// ServiceActive reports whether a systemd unit is active.
	ServiceActive(ctx context.Context, unit string) (bool, error)
	// BootTime is when the host last booted.
	BootTime(ctx context.Context) (time.Time, error)
	// RebootRequired reports whether an update asked for a reboot.
	RebootRequired(ctx context.Context) bool
	// Reboot reboots the host after delay, with a notice to logged-in
	// users.
	Reboot(ctx context.Context, delay time.Duration) error
	// RunHook runs the named executable from the hooks directory, with a
	// timeout, and returns its output.
	RunHook(ctx context.Context, name string) (string, error)
}

// LocalHost is HostOps on the machine the agent runs on.
type LocalHost struct {
	Root string // "/" on a host
	// HooksDir holds the hooks deployments may name (default
	// /etc/patchbay/hooks.d); AllowHooks must be set for any to run.
	HooksDir    string
	AllowHooks  bool
	HookTimeout time.Duration // default 5 minutes
}

// unitRE is what a systemd unit name may be.
var unitRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9:_.@\\-]{0,255}$`)

// hookRE is what a hook's name may be: a file name, nothing else.
var hookRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

// ServiceActive asks systemctl is-active.
func (h LocalHost) ServiceActive(ctx context.Context, unit string) (bool, error) {
	if !unitRE.MatchString(unit) {
		return false, fmt.Errorf("%q is not a systemd unit name", unit)
	}
	cmd := exec.CommandContext(ctx, "systemctl", "is-active", "--quiet", "--", unit)
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &exit):
		return false, nil
	}
	return false, fmt.Errorf("systemctl is-active %s: %w", unit, err)
}

// BootTime reads the boot time from /proc/stat.
func (h LocalHost) BootTime(ctx context.Context) (time.Time, error) {
	f, errs := facts.Collect(ctx, facts.Options{Root: h.root()})
	if f.BootTime.IsZero() {
		return time.Time{}, fmt.Errorf("boot time unknown: %v", errors.Join(errs...))
	}
	return f.BootTime, nil
}

// RebootRequired reads the distribution's reboot-required flag.
func (h LocalHost) RebootRequired(ctx context.Context) bool {
	f, _ := facts.Collect(ctx, facts.Options{Root: h.root()})
	return f.RebootRequired
}

// Reboot schedules a reboot with shutdown(8), which notifies logged-in
// users; the delay is rounded up to whole minutes.
func (h LocalHost) Reboot(ctx context.Context, delay time.Duration) error {
	when := "now"
	if delay > 0 {
		when = fmt.Sprintf("+%d", int((delay+time.Minute-1)/time.Minute))
	}
	out, err := exec.CommandContext(ctx, "shutdown", "-r", when, "patchbay: rebooting to finish a deployment").CombinedOutput()
	if err != nil {
		return fmt.Errorf("shutdown -r %s: %w: %s", when, err, bytes.TrimSpace(out))
	}
	return nil
}

// RunHook runs HooksDir/name with no arguments. The hooks directory and
// the hook must be owned by root and not writable by group or others, so
// that nobody but root decides what runs.
func (h LocalHost) RunHook(ctx context.Context, name string) (string, error) {
	if !h.AllowHooks {
		return "", fmt.Errorf("hook %s: this agent runs no hooks (start it with --allow-hooks)", name)
	}
	if !hookRE.MatchString(name) {
		return "", fmt.Errorf("%q is not a hook name (a file name in the hooks directory)", name)
	}
	dir := h.HooksDir
	if dir == "" {
		dir = "/etc/patchbay/hooks.d"
	}
	// Absolute, so that the file checked below is the one run: a relative
	// path would be taken from cmd.Dir, or looked up in $PATH.
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("hook %s: %w", name, err)
	}
	path := filepath.Join(dir, name)
	for _, p := range []string{dir, path} {
		if err := rootOnly(p); err != nil {
			return "", fmt.Errorf("hook %s: %w", name, err)
		}
	}
	timeout := h.HookTimeout
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path)
	cmd.Dir = dir
	// The hook's own children go with it when it times out.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() == context.DeadlineExceeded {
		return string(out), fmt.Errorf("hook %s: did not finish within %s", name, timeout)
	}
	if err != nil {
		return string(out), fmt.Errorf("hook %s: %w", name, err)
	}
	return string(out), nil
}

// rootOnly refuses a file not owned by root or writable by others.
func rootOnly(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		return fmt.Errorf("%s is a symbolic link", path)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Uid != 0 {
		return fmt.Errorf("%s is not owned by root", path)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("%s is writable by group or others (mode %v)", path, fi.Mode().Perm())
	}
	return nil
}

func (h LocalHost) root() string {
	if h.Root == "" {
		return "/"
	}
	return h.Root
}
