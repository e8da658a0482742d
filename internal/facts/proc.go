package facts

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The kernel's files, under the root. A fixture root in a test holds
// copies; on the live machine they are the kernel's own.
const (
	procHostname  = "/proc/sys/kernel/hostname"
	procOSRelease = "/proc/sys/kernel/osrelease"
	procArch      = "/proc/sys/kernel/arch" // Linux 6.1 and later: uname -m
	procMeminfo   = "/proc/meminfo"
	procUptime    = "/proc/uptime"
	procStat      = "/proc/stat"
	procCPUInfo   = "/proc/cpuinfo"
)

// maxProcSize bounds what is read of a /proc file; /proc/cpuinfo of a
// machine with hundreds of CPUs is the largest, about 1 KB a CPU.
const maxProcSize = 4 << 20

// parseMemTotal returns MemTotal of /proc/meminfo, in bytes.
func parseMemTotal(data []byte) (uint64, error) {
	for line := range strings.SplitSeq(string(data), "\n") {
		rest, ok := strings.CutPrefix(line, "MemTotal:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("MemTotal line %s: want a number of kB", quote(line))
		}
		kb, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil || kb == 0 || kb > math.MaxUint64/1024 {
			return 0, fmt.Errorf("MemTotal line %s: bad number", quote(line))
		}
		return kb * 1024, nil
	}
	return 0, errors.New("no MemTotal line")
}

// parseUptime returns the first field of /proc/uptime, the seconds since
// boot, rounded down.
func parseUptime(data []byte) (int64, error) {
	f := strings.Fields(string(data))
	if len(f) != 2 {
		return 0, fmt.Errorf("want 2 fields, got %s", quote(string(data)))
	}
	s, err := strconv.ParseFloat(f[0], 64)
	if err != nil || s < 0 || s > math.MaxInt64/2 || math.IsNaN(s) {
		return 0, fmt.Errorf("bad uptime %s", quote(f[0]))
	}
	return int64(s), nil
}

// parseBootTime returns btime of /proc/stat: the boot time the kernel
// keeps, in whole seconds, the same on every read. (now - uptime would
// move by a second between reads, and make every check-in look like a
// reboot to a server comparing boot times.) The kernel moves it when the
// wall clock is stepped, by the size of the step.
func parseBootTime(data []byte) (time.Time, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, maxProcSize)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "btime ")
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(rest), 10, 64)
		if err != nil || n <= 0 {
			return time.Time{}, fmt.Errorf("bad btime %s", quote(rest))
		}
		return time.Unix(n, 0).UTC(), nil
	}
	if err := sc.Err(); err != nil {
		return time.Time{}, err
	}
	return time.Time{}, errors.New("no btime line")
}

// countCPUs counts the processors /proc/cpuinfo lists: lines "processor : N"
// (x86, arm64, ppc64le, riscv64) or "processor N: ..." (s390x).
func countCPUs(data []byte) (int, error) {
	n := 0
	for line := range strings.SplitSeq(string(data), "\n") {
		rest, ok := strings.CutPrefix(line, "processor")
		if !ok {
			continue
		}
		if rest = strings.TrimLeft(rest, " \t"); strings.HasPrefix(rest, ":") || (rest != "" && '0' <= rest[0] && rest[0] <= '9') {
			n++
		}
	}
	if n == 0 {
		return 0, errors.New("no processor lines")
	}
	return n, nil
}

// goarchToUname maps GOARCH to the machine name uname -m prints, for
// kernels without /proc/sys/kernel/arch (before Linux 6.1). It is the
// agent binary's architecture, which is the kernel's except for a 32-bit
// agent on a 64-bit kernel; for 32-bit ARM the kernel's name depends on the
// CPU (armv7l, armv6l), and armv7l is assumed.
var goarchToUname = map[string]string{
	"amd64":    "x86_64",
	"arm64":    "aarch64",
	"386":      "i686",
	"arm":      "armv7l",
	"ppc64le":  "ppc64le",
	"ppc64":    "ppc64",
	"s390x":    "s390x",
	"riscv64":  "riscv64",
	"loong64":  "loongarch64",
	"mips64le": "mips64",
	"mips64":   "mips64",
}

func unameFromGOARCH() string {
	if m, ok := goarchToUname[runtime.GOARCH]; ok {
		return m
	}
	return runtime.GOARCH
}

// firstLine returns the first line of a one-line kernel or /etc file,
// trimmed, refusing an empty one or one with control characters.
func firstLine(data []byte, maxLen int) (string, error) {
	s, _, _ := strings.Cut(string(data), "\n")
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errors.New("empty")
	}
	if len(s) > maxLen {
		return "", fmt.Errorf("longer than %d bytes", maxLen)
	}
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("invalid UTF-8 in %s", quote(s))
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return "", fmt.Errorf("control character in %s", quote(s))
		}
	}
	return s, nil
}
