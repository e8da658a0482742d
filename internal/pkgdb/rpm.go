package pkgdb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"path/filepath"
	"strings"
)

// RPMReader reads the RPM database under a root by running the rpm command
// (rpm --root ROOT --dbpath DIR --query --all --queryformat ...), without a
// shell. The database directory is found by pkgdb itself (see Detect) and
// passed explicitly: rpm, asked to query a database that does not exist,
// creates an empty one and reports success, and Debian's rpm looks in
// ~/.rpmdb by default.
//
// rpm reports a damaged database on stderr, sometimes with exit status 0
// and the packages it could still read on stdout; Read turns any stderr
// line other than a warning into an error, so a partial list is never
// returned. The gpg-pubkey pseudo-packages (keys imported with rpm
// --import) are not packages and are left out.
type RPMReader struct {
	// Command is the rpm program to run; "" means "rpm" found on PATH.
	Command string
}

// rpmQueryFormat prints one package per line, its fields separated by tabs;
// rpm's tags cannot hold either (rpmbuild refuses them), and the parser
// refuses a line with any other number of fields.
const rpmQueryFormat = `%{NAME}\t%{EPOCH}\t%{VERSION}\t%{RELEASE}\t%{ARCH}\t%{SOURCERPM}\n`

// rpmNone is how rpm prints a tag the header does not have.
const rpmNone = "(none)"

// rpmDBLocations lists where rpm keeps its database, relative to a root:
// /usr/lib/sysimage/rpm (Fedora 36+, openSUSE, where /var/lib/rpm is a
// link to it) before /var/lib/rpm; and the file each backend keeps there:
// sqlite (rpm 4.16+), Berkeley DB, ndb.
func rpmDBLocations() (dirs, files []string) {
	return []string{"usr/lib/sysimage/rpm", "var/lib/rpm"},
		[]string{"rpmdb.sqlite", "Packages", "Packages.db"}
}

// findRPMDB returns the database directory (as rpm's --dbpath, relative to
// root) and the database file found under root, or an error that wraps
// fs.ErrNotExist.
func findRPMDB(root string) (dbpath, file string, err error) {
	dirs, files := rpmDBLocations()
	for _, dir := range dirs {
		for _, name := range files {
			p := filepath.Join(root, dir, name)
			ok, err := isFile(p)
			if err != nil {
				return "", "", err
			}
			if ok {
				return "/" + dir, p, nil
			}
		}
	}
	return "", "", fmt.Errorf("no rpm database under %s: %w", root, fs.ErrNotExist)
}

// Read returns the packages in the RPM database under root. A root without
// one is an error that wraps fs.ErrNotExist; a missing rpm command, one that
// wraps exec.ErrNotFound (or fs.ErrNotExist when Command names a path).
func (r RPMReader) Read(ctx context.Context, root string) ([]Package, error) {
	dbpath, dbfile, err := findRPMDB(root)
	if err != nil {
		return nil, fmt.Errorf("read rpm database: %w", err)
	}
	// rpm wants an absolute --root.
	absRoot, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("read rpm database %s: %w", dbfile, err)
	}
	command := r.Command
	if command == "" {
		command, err = exec.LookPath("rpm")
		if err != nil {
			return nil, fmt.Errorf("read rpm database %s: rpm command: %w", dbfile, err)
		}
	}
	cmd := exec.CommandContext(ctx, command,
		"--root", absRoot, "--dbpath", dbpath,
		"--query", "--all", "--queryformat", rpmQueryFormat)
	// A fixed environment: messages in English (the stderr check reads
	// them), and no HOME, so no ~/.rpmmacros changes what is read.
	cmd.Env = []string{"LC_ALL=C"}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("read rpm database %s: %w", dbfile, ctx.Err())
	}
	if err != nil {
		return nil, fmt.Errorf("read rpm database %s: %s: %w%s", dbfile, command, err, stderrSummary(stderr.String()))
	}
	if msg := rpmErrors(stderr.String()); msg != "" {
		return nil, fmt.Errorf("read rpm database %s: rpm reported errors: %s", dbfile, msg)
	}
	pkgs, err := parseRPMQuery(ctx, stdout.Bytes())
	if err != nil {
		return nil, fmt.Errorf("read rpm database %s: rpm output: %w", dbfile, err)
	}
	return pkgs, nil
}

// rpmErrors returns the lines of rpm's stderr that are not warnings, joined
// and cut short, or "" when there are none.
func rpmErrors(stderr string) string {
	var bad []string
	for _, line := range strings.Split(stderr, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "warning:") {
			continue
		}
		bad = append(bad, line)
	}
	return summarize(bad)
}

func stderrSummary(stderr string) string {
	var lines []string
	for _, line := range strings.Split(stderr, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			lines = append(lines, line)
		}
	}
	if len(lines) == 0 {
		return ""
	}
	return ": " + summarize(lines)
}

// summarize joins the first three lines, each cut to 200 bytes.
func summarize(lines []string) string {
	more := ""
	if len(lines) > 3 {
		more = fmt.Sprintf(" (and %d more lines)", len(lines)-3)
		lines = lines[:3]
	}
	for i, l := range lines {
		if len(l) > 200 {
			lines[i] = l[:200] + "..."
		}
	}
	return strings.Join(lines, "; ") + more
}

// parseRPMQuery parses rpm's output for rpmQueryFormat.
func parseRPMQuery(ctx context.Context, data []byte) ([]Package, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(data) == 0 {
		return nil, nil
	}
	if data[len(data)-1] != '\n' {
		return nil, parseErrorf(bytes.Count(data, []byte("\n"))+1, "no newline at end of output (truncated?)")
	}
	var pkgs []Package
	for n, line := range strings.Split(string(data[:len(data)-1]), "\n") {
		lineNo := n + 1
		if lineNo%ctxEvery == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		if len(line) > maxLineLen {
			return nil, parseErrorf(lineNo, "line longer than %d bytes", maxLineLen)
		}
		if err := checkText(line); err != nil {
			return nil, parseErrorf(lineNo, "%s", err.Msg)
		}
		p, skip, err := parseRPMLine(line)
		if err != nil {
			return nil, parseErrorf(lineNo, "%v", err)
		}
		if !skip {
			pkgs = append(pkgs, p)
		}
	}
	sortPackages(pkgs)
	return pkgs, nil
}

// parseRPMLine parses one line of rpmQueryFormat output. skip reports a
// gpg-pubkey pseudo-package.
func parseRPMLine(line string) (p Package, skip bool, err error) {
	f := strings.Split(line, "\t")
	if len(f) != 6 {
		return p, false, fmt.Errorf("%d fields, want 6: %s", len(f), quote(line))
	}
	name, epoch, version, release, arch, srpm := f[0], f[1], f[2], f[3], f[4], f[5]
	if name == "gpg-pubkey" {
		return p, true, nil
	}
	p = Package{Ecosystem: RPM, Name: name, Arch: arch}
	if arch == rpmNone {
		return p, false, fmt.Errorf("package %s has no architecture", quote(name))
	}
	evr := version + "-" + release
	if epoch != rpmNone {
		if err := validRPMEpoch(epoch); err != nil {
			return p, false, fmt.Errorf("package %s: %w", quote(name), err)
		}
		evr = epoch + ":" + evr
	}
	p.Version = evr
	if strings.Contains(version, "-") || strings.Contains(release, "-") {
		return p, false, fmt.Errorf("package %s: hyphen in version %s or release %s", quote(name), quote(version), quote(release))
	}
	if srpm != rpmNone {
		p.SourceRPM = srpm
		p.SourceName, p.SourceVersion, err = ParseSourceRPM(srpm)
		if err != nil {
			return p, false, fmt.Errorf("package %s: source rpm %s: %w", quote(name), quote(srpm), err)
		}
	}
	if err := p.Validate(); err != nil {
		return p, false, err
	}
	return p, false, nil
}

// ParseSourceRPM splits a source rpm's file name, name-version-release.src.rpm
// (or .nosrc.rpm), into the name and version-release.
func ParseSourceRPM(srpm string) (name, versionRelease string, err error) {
	base, ok := strings.CutSuffix(srpm, ".src.rpm")
	if !ok {
		base, ok = strings.CutSuffix(srpm, ".nosrc.rpm")
	}
	if !ok {
		return "", "", errors.New("not a file name ending in .src.rpm")
	}
	r := strings.LastIndexByte(base, '-')
	if r <= 0 {
		return "", "", errors.New("no release")
	}
	v := strings.LastIndexByte(base[:r], '-')
	if v <= 0 {
		return "", "", errors.New("no version")
	}
	return base[:v], base[v+1:], nil
}
