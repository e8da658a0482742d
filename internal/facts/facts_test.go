package facts

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/patchbay/patchbay/internal/protocol"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// fixedNow is the clock of the fixture tests; under a fixture root it is
// never read, and a test that reads it sees a fixed zone.
func fixedNow() time.Time {
	return time.Date(2024, 6, 1, 12, 0, 0, 0, time.FixedZone("CEST", 2*3600))
}

// noCommands fails the test if Collect tries to run a program: under a
// root other than "/" it must not.
func noCommands(t *testing.T) Options {
	return Options{
		AgentVersion: "1.2.3-test",
		Now:          fixedNow,
		LookPath: func(file string) (string, error) {
			t.Errorf("LookPath(%q) called under a fixture root", file)
			return "", exec.ErrNotFound
		},
		Command: func(_ context.Context, argv []string) (Result, error) {
			t.Errorf("Command(%q) called under a fixture root", argv)
			return Result{}, errors.New("no")
		},
	}
}

// golden is what a fixture's .golden file holds: the facts and the error
// messages, with the fixture's absolute path replaced by ROOT.
type golden struct {
	Facts  protocol.Facts `json:"facts"`
	Errors []string       `json:"errors"`
}

// TestCollectFixtures collects the facts of each fixture root in testdata
// (see testdata/README.md) and compares them with testdata/NAME.golden;
// go test -update rewrites those.
func TestCollectFixtures(t *testing.T) {
	for _, name := range []string{"debian-12", "ubuntu-22.04", "rocky-9", "alpine-3.20"} {
		t.Run(name, func(t *testing.T) {
			root, err := filepath.Abs(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			opt := noCommands(t)
			opt.Root = root
			f, errs := Collect(context.Background(), opt)
			g := golden{Facts: f, Errors: []string{}}
			for _, e := range errs {
				var fe *Error
				if !errors.As(e, &fe) {
					t.Errorf("error %v is not a *facts.Error", e)
				}
				g.Errors = append(g.Errors, strings.ReplaceAll(e.Error(), root, "ROOT"))
			}
			got, err := json.MarshalIndent(g, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			file := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.WriteFile(file, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Collect(%s) differs from %s (go test -update to accept):\ngot:\n%s", root, file, got)
			}
		})
	}
}

// The fixtures' facts as the files say, checked by hand once so a wrong
// golden file cannot be accepted unnoticed.
func TestCollectFixtureValues(t *testing.T) {
	collect := func(name string) (protocol.Facts, []error) {
		opt := noCommands(t)
		opt.Root = filepath.Join("testdata", name) // relative: Collect makes it absolute
		return Collect(context.Background(), opt)
	}

	deb, errs := collect("debian-12")
	if len(errs) != 0 {
		t.Errorf("debian-12: errors %v", errs)
	}
	if deb.OSRelease["VERSION_CODENAME"] != "bookworm" || deb.OSRelease["NAME"] != "Debian GNU/Linux" || len(deb.OSRelease) != 9 {
		t.Errorf("debian-12 os-release (through the ../usr/lib/os-release link) = %v", deb.OSRelease)
	}
	// /var/run links to /run: inside the root, not the machine's /run.
	if !deb.RebootRequired || !slices.Equal(deb.RebootPackages, []string{"libc6", "linux-image-6.1.0-28-amd64"}) {
		t.Errorf("debian-12 reboot = %v %v; want true [libc6 linux-image-6.1.0-28-amd64]", deb.RebootRequired, deb.RebootPackages)
	}
	if deb.TimeZone != "Europe/Berlin" || deb.Hostname != "bookworm-web-01" || deb.MachineID != "3f5a8c1e9b7d4e2fa0c6b8d9e1f20314" {
		t.Errorf("debian-12: time zone %q, hostname %q, machine id %q", deb.TimeZone, deb.Hostname, deb.MachineID)
	}
	if deb.AgentVersion != "1.2.3-test" || deb.ProtocolVersion != protocol.Version {
		t.Errorf("debian-12: versions %q %d", deb.AgentVersion, deb.ProtocolVersion)
	}

	ubu, errs := collect("ubuntu-22.04")
	// Linux 5.15 has no /proc/sys/kernel/arch, and a root that is not the
	// live machine has no other source for it.
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "arch: ") || !errors.Is(errs[0], fs.ErrNotExist) {
		t.Errorf("ubuntu-22.04: errors %v; want one, for arch", errs)
	}
	// "uninitialized" in /etc/machine-id: the dbus id, lower-cased.
	if ubu.MachineID != "0d4c1b5a2e3f40718293a4b5c6d7e8f9" {
		t.Errorf("ubuntu-22.04 machine id %q", ubu.MachineID)
	}
	// /etc/localtime wins over a stale /etc/timezone.
	if ubu.TimeZone != "America/New_York" || ubu.CPUs != 4 || ubu.MemoryBytes != 8131612*1024 {
		t.Errorf("ubuntu-22.04: time zone %q, cpus %d, memory %d", ubu.TimeZone, ubu.CPUs, ubu.MemoryBytes)
	}
	if ubu.UptimeSeconds != 864123 || !ubu.BootTime.Equal(time.Unix(1717243200, 0)) || ubu.RebootRequired {
		t.Errorf("ubuntu-22.04: uptime %d, boot %v, reboot %v", ubu.UptimeSeconds, ubu.BootTime, ubu.RebootRequired)
	}

	rocky, errs := collect("rocky-9")
	if len(errs) != 0 || rocky.OSRelease["ID_LIKE"] != "rhel centos fedora" || rocky.TimeZone != "America/Chicago" {
		t.Errorf("rocky-9: %v, ID_LIKE %q, time zone %q", errs, rocky.OSRelease["ID_LIKE"], rocky.TimeZone)
	}

	alp, errs := collect("alpine-3.20")
	var facts []string
	for _, e := range errs {
		var fe *Error
		if errors.As(e, &fe) {
			facts = append(facts, fe.Fact)
		}
	}
	// Alpine has no systemd (no machine id) and no /etc/localtime.
	if !slices.Equal(facts, []string{"machine_id", "time_zone"}) {
		t.Errorf("alpine-3.20: errors for %v (%v); want machine_id, time_zone", facts, errs)
	}
	if alp.Hostname != "alpine-edge-gw" || alp.Arch != "aarch64" || alp.CPUs != 4 || alp.OSRelease["VERSION_ID"] != "3.20.3" {
		t.Errorf("alpine-3.20: hostname %q (from /etc/hostname), arch %q, cpus %d, os-release %v", alp.Hostname, alp.Arch, alp.CPUs, alp.OSRelease)
	}
}

// makeRoot builds a root from files (path -> content) and links (path ->
// target).
func makeRoot(t *testing.T, files, links map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, data := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, target := range links {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// Links resolve inside the root: an absolute link, and .. above the root,
// never reach the machine's own files.
func TestRootLinksStayInside(t *testing.T) {
	root := makeRoot(t, map[string]string{
		"usr/lib/os-release": "ID=inside\n",
		"srv/machine-id":     "0123456789abcdef0123456789abcdef\n",
	}, map[string]string{
		"etc/os-release":           "/usr/lib/os-release",
		"etc/machine-id":           "../../../../../../srv/machine-id",
		"etc/timezone":             "/etc/timezone", // a loop
		"etc/localtime":            "/nowhere/zoneinfo/Asia/Tokyo",
		"proc/sys/kernel/hostname": "/etc/hostname", // exists on the machine, not in the root
	})
	opt := noCommands(t)
	opt.Root = root
	f, errs := Collect(context.Background(), opt)
	if f.OSRelease["ID"] != "inside" || f.MachineID != "0123456789abcdef0123456789abcdef" || f.TimeZone != "Asia/Tokyo" {
		t.Errorf("Collect(%s): os-release %v, machine id %q, time zone %q; want the root's", root, f.OSRelease, f.MachineID, f.TimeZone)
	}
	if f.Hostname != "" {
		t.Errorf("hostname %q read through a link out of the root", f.Hostname)
	}
	msgs := fmt.Sprint(errs)
	if !strings.Contains(msgs, "hostname: ") || !strings.Contains(msgs, filepath.Join(root, "etc/hostname")) {
		t.Errorf("errors %s; want a hostname error naming %s", msgs, filepath.Join(root, "etc/hostname"))
	}

	r := rootFS{dir: root}
	if _, err := r.readFile("/etc/timezone", 100); !errors.Is(err, syscall.ELOOP) {
		t.Errorf("readFile(link to itself) = %v; want ELOOP", err)
	}
	if p, err := r.hostPath("/missing/../../etc/x", true); err != nil || p != filepath.Join(root, "etc/x") {
		t.Errorf("hostPath(/missing/../../etc/x) = %q, %v; want %s", p, err, filepath.Join(root, "etc/x"))
	}
}

func TestCollectMissingRoot(t *testing.T) {
	root := filepath.Join(t.TempDir(), "absent")
	f, errs := Collect(context.Background(), Options{Root: root, AgentVersion: "v"})
	if len(errs) != 1 || !errors.Is(errs[0], fs.ErrNotExist) || f.AgentVersion != "v" || f.ProtocolVersion != protocol.Version || f.Hostname != "" {
		t.Errorf("Collect(missing root) = %+v, %v; want only the versions and one error", f, errs)
	}
}

// Every fact of a root without files is an error naming its path; nothing
// panics.
func TestCollectEmptyRoot(t *testing.T) {
	root := t.TempDir()
	opt := noCommands(t)
	opt.Root = root
	_, errs := Collect(context.Background(), opt)
	var facts []string
	for _, e := range errs {
		var fe *Error
		if !errors.As(e, &fe) {
			t.Fatalf("%v is not a *facts.Error", e)
		}
		facts = append(facts, fe.Fact)
		if !strings.Contains(e.Error(), root) {
			t.Errorf("error %v does not name a path under %s", e, root)
		}
	}
	want := []string{"hostname", "machine_id", "os_release", "kernel", "arch", "cpus", "memory_bytes", "uptime_seconds", "boot_time", "time_zone"}
	if !slices.Equal(facts, want) {
		t.Errorf("errors for %v; want %v", facts, want)
	}
}

// needs-restarting -r runs only on the live machine; the collector's
// liveCommands stands in for that here, over the Rocky fixture.
func TestNeedsRestarting(t *testing.T) {
	root, _ := filepath.Abs("testdata/rocky-9")
	const out = "Core libraries or services have been updated since boot-up:\n  * kernel\n  * glibc\n  * kernel\n\nReboot is required to fully utilize these updates.\nMore information: https://access.redhat.com/solutions/27943\n"
	tests := []struct {
		name     string
		look     error
		res      Result
		runErr   error
		want     bool
		wantPkgs []string
		wantErr  string
	}{
		{name: "not installed", look: exec.ErrNotFound},
		{name: "no reboot", res: Result{Stdout: []byte("No core libraries or services have been updated since boot-up.\nReboot should not be necessary.\n")}},
		{name: "reboot", res: Result{Stdout: []byte(out), ExitCode: 1}, want: true, wantPkgs: []string{"glibc", "kernel"}},
		{name: "fails", res: Result{Stderr: []byte("Error: something\n"), ExitCode: 2}, wantErr: "reboot_required: /usr/bin/needs-restarting -r: exit status 2: Error: something"},
		{name: "cannot run", runErr: errors.New("run /usr/bin/needs-restarting: permission denied"), wantErr: "permission denied"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ran []string
			c := &collector{fs: rootFS{dir: root}, liveCommands: true, opt: Options{
				LookPath: func(file string) (string, error) {
					if tc.look != nil {
						return "", tc.look
					}
					return "/usr/bin/" + file, nil
				},
				Command: func(ctx context.Context, argv []string) (Result, error) {
					if _, ok := ctx.Deadline(); !ok {
						t.Error("needs-restarting runs without a deadline")
					}
					ran = argv
					return tc.res, tc.runErr
				},
			}}
			c.rebootRequired(context.Background())
			if tc.look == nil && !slices.Equal(ran, []string{"/usr/bin/needs-restarting", "-r"}) {
				t.Errorf("ran %q; want [/usr/bin/needs-restarting -r]", ran)
			}
			if c.f.RebootRequired != tc.want || !slices.Equal(c.f.RebootPackages, tc.wantPkgs) {
				t.Errorf("reboot %v %v; want %v %v", c.f.RebootRequired, c.f.RebootPackages, tc.want, tc.wantPkgs)
			}
			if got := fmt.Sprint(c.errs); (tc.wantErr == "") != (len(c.errs) == 0) || !strings.Contains(got, tc.wantErr) {
				t.Errorf("errors %s; want %q", got, tc.wantErr)
			}
		})
	}
}

func TestProcParsers(t *testing.T) {
	if _, err := parseMemTotal([]byte("MemFree: 1 kB\n")); err == nil {
		t.Error("parseMemTotal without MemTotal: no error")
	}
	if _, err := parseMemTotal([]byte("MemTotal: 12 MB\n")); err == nil {
		t.Error("parseMemTotal(12 MB): no error")
	}
	if _, err := parseMemTotal([]byte("MemTotal: 99999999999999999999 kB\n")); err == nil {
		t.Error("parseMemTotal(overflow): no error")
	}
	for _, in := range []string{"", "1.0", "-1 2", "NaN 1", "1e300 2"} {
		if _, err := parseUptime([]byte(in)); err == nil {
			t.Errorf("parseUptime(%q): no error", in)
		}
	}
	if _, err := parseBootTime([]byte("cpu 1 2\nbtime x\n")); err == nil {
		t.Error("parseBootTime(btime x): no error")
	}
	s390 := "vendor_id       : IBM/S390\n# processors    : 2\nprocessor 0: version = FF,  identification = 0123, machine = 8561\nprocessor 1: version = FF,  identification = 0123, machine = 8561\n"
	if n, err := countCPUs([]byte(s390)); n != 2 || err != nil {
		t.Errorf("countCPUs(s390x) = %d, %v; want 2", n, err)
	}
	if _, err := countCPUs([]byte("model name: x\n")); err == nil {
		t.Error("countCPUs(no processor lines): no error")
	}
}

func TestValidZone(t *testing.T) {
	for _, ok := range []string{"UTC", "Europe/Berlin", "America/Argentina/Buenos_Aires", "Etc/GMT+10", "Etc/GMT-14"} {
		if err := validZone(ok); err != nil {
			t.Errorf("validZone(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "/etc/UTC", "../x", "Europe//Berlin", "Europe/Berlin\n", "Ünicode", strings.Repeat("a", 65)} {
		if validZone(bad) == nil {
			t.Errorf("validZone(%q): no error", bad)
		}
	}
}
