// Package gobin finds Go binaries under configured paths and lists the Go
// modules built into each, from the build information the Go linker embeds
// (debug/buildinfo), so they can be matched against the Go vulnerability
// database.
//
// Each module of each binary becomes one patchbay.Package of ecosystem
// "go": Name is the module path, Version the module version without its
// leading "v" (Go vulnerability records write "0.17.0", not "v0.17.0"), Arch
// is empty and SourceName is the binary's absolute path on the host. The
// toolchain that built the binary is the module "stdlib" at its release
// converted the same way (go1.22.5 is 1.22.5, go1.23rc1 is 1.23.0-rc.1; see
// StdlibVersion). Decisions:
//
//   - A dependency replaced by another module version is reported as the
//     replacement (its path and version), which is the code in the binary.
//     One replaced by a local directory (no version) is left out: its code
//     is not any published version, so no advisory can name it.
//   - The main module is left out when its version is "(devel)" or empty,
//     as for any binary built from a working tree without a version tag:
//     there is no release to match, and every locally built binary would
//     otherwise report a problem.
//   - A binary whose toolchain is not a Go release (a development build
//     "devel go1.24-…", a vendor's branch build "go1.22-20231128-RC02") is
//     reported without "stdlib" and with a Problem, so the gap shows.
//   - A file that is not a Go binary is skipped silently (so is one built
//     before Go 1.13, which carries no module information); so are files that
//     are not regular (devices, FIFOs, sockets), not executable (no execute
//     bit, and not named like a shared library) and symbolic links inside a
//     walked directory, which are never followed: the binary a link points
//     to is scanned where it lives if that place is configured. A
//     configured path that is itself a symbolic link is followed when the
//     root is "/".
//   - An executable that cannot be opened, a Go binary whose build
//     information cannot be read, a directory that cannot be listed, a
//     configured path that does not exist, and a binary whose path cannot
//     be reported (it holds a space) are Problems; the other binaries are
//     still reported.
//   - Limits (Options) bound the work: files larger than MaxFileSize are not
//     read, and the scan stops after MaxFiles files or MaxPackages packages,
//     with a Problem saying so.
package gobin

import (
	"context"
	"debug/buildinfo"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/patchbay/patchbay"
)

// Ecosystem is the package ecosystem of Go modules.
const Ecosystem = "go"

// StdlibModule is the module name Go vulnerability records give the
// standard library (and the runtime) of a Go release.
const StdlibModule = "stdlib"

// Defaults of Options.
const (
	DefaultMaxFileSize = 1 << 30
	DefaultMaxFiles    = 100_000
	DefaultMaxPackages = 50_000
)

// Options adjust Scan.
type Options struct {
	// Root is the directory the configured paths are read under ("/" when
	// empty): a mounted image or a test fixture. Packages name binaries by
	// their path on the host, without Root.
	Root string
	// MaxFileSize is the largest binary read (DefaultMaxFileSize when zero).
	MaxFileSize int64
	// MaxFiles bounds the files looked at over all paths (DefaultMaxFiles
	// when zero).
	MaxFiles int
	// MaxPackages bounds the packages returned (DefaultMaxPackages when
	// zero).
	MaxPackages int
}

// Problem is a path that could not be scanned, or a binary reported only
// in part, and why.
type Problem struct {
	Path string // on the host
	Err  error
}

func (p Problem) Error() string { return p.Path + ": " + p.Err.Error() }

// errStop ends a scan at a limit or when ctx ends.
var errStop = errors.New("scan stopped")

// Scan walks each path, a file or a directory (recursively), and returns
// one package per module of each Go binary found, in path order, and the
// problems met. Paths must be absolute. A binary whose path is reached
// twice (configured paths that overlap) is reported once.
func Scan(ctx context.Context, paths []string, opts Options) ([]patchbay.Package, []Problem) {
	s := &scanner{opts: opts, seen: map[string]bool{}, root: opts.Root}
	if s.root == "" {
		s.root = "/"
	}
	if s.opts.MaxFileSize <= 0 {
		s.opts.MaxFileSize = DefaultMaxFileSize
	}
	if s.opts.MaxFiles <= 0 {
		s.opts.MaxFiles = DefaultMaxFiles
	}
	if s.opts.MaxPackages <= 0 {
		s.opts.MaxPackages = DefaultMaxPackages
	}
	for _, p := range paths {
		if err := s.path(ctx, p); err != nil {
			break
		}
	}
	return s.pkgs, s.problems
}

type scanner struct {
	opts     Options
	root     string
	files    int
	seen     map[string]bool // host paths of binaries scanned
	pkgs     []patchbay.Package
	problems []Problem
}

func (s *scanner) problem(path string, err error) {
	s.problems = append(s.problems, Problem{Path: path, Err: err})
}

// path scans one configured path.
func (s *scanner) path(ctx context.Context, host string) error {
	if !filepath.IsAbs(host) {
		s.problem(host, errors.New("not an absolute path"))
		return nil
	}
	host = filepath.Clean(host)
	local := filepath.Join(s.root, host)
	if s.root == "/" {
		// The configured path itself may be a link, as /opt/app/current
		// often is; under another root an absolute link would lead out of
		// it, so there it is not followed.
		resolved, err := filepath.EvalSymlinks(local)
		if err != nil {
			s.problem(host, unwrapPath(err))
			return nil
		}
		local = resolved
	}
	fi, err := os.Lstat(local)
	if err != nil {
		s.problem(host, unwrapPath(err))
		return nil
	}
	switch {
	case fi.IsDir():
		return s.dir(ctx, host, local)
	case fi.Mode().IsRegular():
		return s.file(ctx, host, local, fi)
	case fi.Mode()&fs.ModeSymlink != 0:
		s.problem(host, fmt.Errorf("a symbolic link: not followed under the root %s", s.root))
	default:
		s.problem(host, fmt.Errorf("neither a regular file nor a directory (%v)", fi.Mode().Type()))
	}
	return nil
}

// dir walks a directory without following symbolic links.
func (s *scanner) dir(ctx context.Context, host, local string) error {
	return filepath.WalkDir(local, func(p string, d fs.DirEntry, err error) error {
		hp := filepath.Join(host, strings.TrimPrefix(p, local))
		if err != nil {
			// A directory that cannot be listed (or vanished): say so,
			// scan the rest.
			s.problem(hp, unwrapPath(err))
			if d != nil && d.IsDir() && p != local {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() || !d.Type().IsRegular() {
			return nil // links (to directories too), devices, FIFOs, sockets
		}
		fi, err := d.Info()
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) { // removed while walking
				s.problem(hp, unwrapPath(err))
			}
			return nil
		}
		return s.file(ctx, hp, p, fi)
	})
}

// file scans one regular file: a candidate if executable, a Go binary if
// its build information says so.
func (s *scanner) file(ctx context.Context, host, local string, fi fs.FileInfo) error {
	if err := ctx.Err(); err != nil {
		s.problem(host, fmt.Errorf("scan ended before this path: %w", err))
		return errStop
	}
	s.files++
	if s.files > s.opts.MaxFiles {
		s.problem(host, fmt.Errorf("stopped after %d files: the limit of a scan", s.opts.MaxFiles))
		return errStop
	}
	if s.seen[host] || !candidate(fi) {
		return nil
	}
	s.seen[host] = true
	f, err := openFile(local)
	if err != nil {
		s.problem(host, unwrapPath(err))
		return nil
	}
	defer f.Close()
	// Look at what was opened: the path may have changed since the walk.
	if fi, err = f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil
	}
	var ident [16]byte
	if n, _ := f.ReadAt(ident[:], 0); n < len(ident) || !executableFormat(ident[:]) {
		return nil
	}
	if fi.Size() > s.opts.MaxFileSize {
		s.problem(host, fmt.Errorf("an executable of %d bytes, over the limit of %d: not read", fi.Size(), s.opts.MaxFileSize))
		return nil
	}
	bi, err := buildinfo.Read(f)
	if err != nil {
		if notGo(err) {
			return nil
		}
		s.problem(host, fmt.Errorf("a Go binary whose build information cannot be read: %w", err))
		return nil
	}
	return s.binary(host, bi)
}

// binary adds the modules of one Go binary.
func (s *scanner) binary(host string, bi *buildinfo.BuildInfo) error {
	var pkgs []patchbay.Package
	have := map[string]bool{}
	add := func(path, version string) {
		p := patchbay.Package{Ecosystem: Ecosystem, Name: path, Version: strings.TrimPrefix(version, "v"), SourceName: host}
		if k := p.Name + "\x00" + p.Version; !have[k] {
			have[k] = true
			pkgs = append(pkgs, p)
		}
	}
	if v, ok := StdlibVersion(bi.GoVersion); ok {
		add(StdlibModule, v)
	} else {
		s.problem(host, fmt.Errorf("built by %q, not a Go release: its standard library is not reported", bi.GoVersion))
	}
	if released(bi.Main.Version) {
		add(bi.Main.Path, bi.Main.Version)
	}
	for _, d := range bi.Deps {
		if m := module(d); m != nil {
			add(m.Path, m.Version)
		}
	}
	kept := pkgs[:0]
	invalid := false
	for _, p := range pkgs {
		if err := patchbay.ValidatePackage("package", p); err != nil {
			if !invalid {
				s.problem(host, fmt.Errorf("module %s %s cannot be reported: %s", p.Name, p.Version, patchbay.ErrorMessageOf(err)))
			}
			invalid = true
			continue
		}
		kept = append(kept, p)
	}
	if len(s.pkgs)+len(kept) > s.opts.MaxPackages {
		s.problem(host, fmt.Errorf("stopped at %d packages: the limit of a scan", len(s.pkgs)))
		return errStop
	}
	s.pkgs = append(s.pkgs, kept...)
	return nil
}

// module returns the module whose code a dependency put in the binary: the
// replacement, if any; nil for a local directory or an unversioned module.
func module(d *debug.Module) *debug.Module {
	if d == nil {
		return nil
	}
	if d.Replace != nil {
		d = d.Replace
	}
	if d.Path == "" || !released(d.Version) {
		return nil
	}
	return d
}

// released reports whether a module version names a published version.
func released(v string) bool { return v != "" && v != "(devel)" }

// candidate reports whether a regular file may be a Go binary worth
// opening: executable, or named like a shared library, as `go version`
// decides for directories.
func candidate(fi fs.FileInfo) bool {
	if !fi.Mode().IsRegular() || fi.Size() < 16 {
		return false
	}
	if fi.Mode()&0o111 != 0 {
		return true
	}
	name := strings.ToLower(fi.Name())
	return strings.HasSuffix(name, ".so") || strings.Contains(name, ".so.") ||
		strings.HasSuffix(name, ".exe") || strings.HasSuffix(name, ".dll")
}

// executableFormat reports whether a file starting with ident is an
// executable format debug/buildinfo reads: ELF, PE, Mach-O (thin or fat).
func executableFormat(ident []byte) bool {
	s := string(ident)
	return strings.HasPrefix(s, "\x7fELF") || strings.HasPrefix(s, "MZ") ||
		strings.HasPrefix(s, "\xfe\xed\xfa") || strings.HasPrefix(s[1:], "\xfa\xed\xfe") ||
		strings.HasPrefix(s, "\xca\xfe\xba\xbe") || strings.HasPrefix(s, "\xca\xfe\xba\xbf")
}

// notGo reports whether a debug/buildinfo error means the file is not a
// Go binary (or no executable it can read) rather than a Go binary it
// failed on. The package exports no sentinel errors, so this compares
// their text, which Read returns unwrapped.
func notGo(err error) bool {
	msg := err.Error()
	return msg == "not a Go executable" || msg == "unrecognized file format"
}

// unwrapPath drops the *fs.PathError wrapper, whose path is the local one
// (under the root): problems name host paths.
func unwrapPath(err error) error {
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		return pe.Err
	}
	return err
}
