package pkgmgr

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Keep puts the file of each named package's installed version into dir,
// so that a rollback can reinstall exactly that version (InstallFiles)
// whether or not any archive still holds it. The file comes from apt's
// archive cache under the root when it is there (checked against its
// control fields); otherwise it is rebuilt from the installed package, as
// dpkg-repack does, with only dpkg's own programs (dpkg-query, dpkg-deb):
// the control fields of its record in dpkg's status, its maintainer
// scripts and other control files, its conffiles, and its files as they
// are on disk (with their modes and, when running as root, their owners).
// A rebuilt file's DebFile lists files changed since they were installed
// (Modified) and files no longer there (Missing).
//
// A name is "NAME" or "NAME:ARCH". A package that is not fully installed
// (half-configured after a failed upgrade, say) is an error: its files
// may be no version's. Keep changes nothing installed and takes no lock.
func (a *Apt) Keep(ctx context.Context, names []string, dir string) ([]DebFile, error) {
	const op = "keep packages"
	if len(names) == 0 {
		return nil, fmt.Errorf("%s: no packages", op)
	}
	for _, n := range names {
		name, arch, hasArch := strings.Cut(n, ":")
		if err := validDebName(name); err != nil {
			return nil, fmt.Errorf("%s: package name %w", op, err)
		}
		if hasArch {
			if err := validDebArch(arch); err != nil || arch[0] == '-' {
				return nil, fmt.Errorf("%s: package %s: bad architecture", op, quote(n))
			}
		}
	}
	root, err := cleanRoot(a.Root)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	pkgs, err := a.packages(ctx, root, dpkgEnv())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	var out []DebFile
	for _, n := range names {
		name, arch, _ := strings.Cut(n, ":")
		p := snapshot(pkgs).find(name, arch)
		if !p.Installed() {
			return nil, fmt.Errorf("%s: %s is %s: only an installed version can be kept", op, n, p)
		}
		if slices.ContainsFunc(out, func(f DebFile) bool { return f.Name == p.Name && f.Arch == p.Arch }) {
			continue
		}
		f, err := a.keepOne(ctx, root, p, dir)
		if err != nil {
			return nil, fmt.Errorf("%s: %s %s: %w", op, n, p.Version, err)
		}
		out = append(out, f)
	}
	return out, nil
}

// keepOne keeps one installed package's file in dir.
func (a *Apt) keepOne(ctx context.Context, root string, p PackageState, dir string) (DebFile, error) {
	want := Action{Name: p.Name, Arch: p.Arch, Version: p.Version}
	dst := filepath.Join(dir, debFileName(p.Name, p.Version, p.Arch))
	cached := filepath.Join(root, "var/cache/apt/archives", debFileName(p.Name, p.Version, p.Arch))
	if _, err := os.Stat(cached); err == nil {
		got, err := a.debInfo(ctx, cached)
		if err == nil && got == want {
			if err := copyFile(cached, dst); err != nil {
				return DebFile{}, err
			}
			return DebFile{Action: want, Path: dst}, nil
		}
		// A file of the right name holding something else: rebuild.
	}
	f, err := a.repack(ctx, root, p, dir)
	if err != nil {
		return DebFile{}, err
	}
	if err := os.Rename(f.Path, dst); err != nil {
		os.Remove(f.Path)
		return DebFile{}, err
	}
	f.Path = dst
	return f, nil
}

// repack rebuilds the file of installed package p in a temporary file in
// dir, which it returns.
func (a *Apt) repack(ctx context.Context, root string, p PackageState, dir string) (DebFile, error) {
	query, err := lookProgram(a.DpkgQuery, "dpkg-query")
	if err != nil {
		return DebFile{}, err
	}
	dpkgDeb, err := lookProgram(a.DpkgDeb, "dpkg-deb")
	if err != nil {
		return DebFile{}, err
	}
	q := func(args ...string) ([]byte, error) {
		argv := append(append([]string{query}, a.admindirOpt(root)...), args...)
		return command{argv: argv, env: dpkgEnv()}.run(ctx)
	}
	out, err := q("--status", "--", p.ref)
	if err != nil {
		return DebFile{}, err
	}
	rc, err := parseStatusStanza(out)
	if err != nil {
		return DebFile{}, fmt.Errorf("dpkg-query --status output: %w", err)
	}
	want := Action{Name: p.Name, Arch: p.Arch, Version: p.Version}
	if rc.pkg != want {
		return DebFile{}, fmt.Errorf("dpkg-query --status printed %s, not %s", rc.pkg, want)
	}
	if out, err = q("--listfiles", "--", p.ref); err != nil {
		return DebFile{}, err
	}
	files, err := parseDpkgList(out)
	if err != nil {
		return DebFile{}, fmt.Errorf("dpkg-query --listfiles output: %w", err)
	}
	if out, err = q("--control-list", "--", p.ref); err != nil {
		return DebFile{}, err
	}
	members := map[string][]byte{}
	for _, m := range strings.Fields(string(out)) {
		if !validMember(m) {
			return DebFile{}, fmt.Errorf("control file %s: not a control file's name", quote(m))
		}
		if members[m], err = q("--control-show", "--", p.ref, m); err != nil {
			return DebFile{}, err
		}
	}
	sums := map[string]string{}
	if data, ok := members["md5sums"]; ok {
		if sums, err = parseMD5Sums(data); err != nil {
			return DebFile{}, fmt.Errorf("md5sums: %w", err)
		}
	}

	tmp, err := os.MkdirTemp(dir, ".repack-")
	if err != nil {
		return DebFile{}, err
	}
	defer os.RemoveAll(tmp)
	tree := filepath.Join(tmp, "tree")
	res := DebFile{Action: want, Rebuilt: true}
	if err := copyTree(root, tree, files, rc.conffiles, sums, &res); err != nil {
		return DebFile{}, err
	}
	if err := writeControl(tree, rc, members, res.Missing); err != nil {
		return DebFile{}, err
	}
	deb, err := os.CreateTemp(dir, ".repack-*.deb")
	if err != nil {
		return DebFile{}, err
	}
	deb.Close()
	argv := []string{dpkgDeb, "-Zgzip"}
	if os.Geteuid() != 0 {
		// Files copied by another user belong to that user; a package's
		// belong to root.
		argv = append(argv, "--root-owner-group")
	}
	argv = append(argv, "--build", "--", tree, deb.Name())
	if _, err := (command{argv: argv, env: dpkgEnv()}).run(ctx); err != nil {
		os.Remove(deb.Name())
		return DebFile{}, err
	}
	got, err := a.debInfo(ctx, deb.Name())
	if err == nil && got != want {
		err = fmt.Errorf("dpkg-deb built %s, not %s", got, want)
	}
	if err != nil {
		os.Remove(deb.Name())
		return DebFile{}, err
	}
	res.Path = deb.Name()
	return res, nil
}

// validMember accepts the name of a control file (postinst, md5sums,
// triggers, shlibs): lower-case letters, digits, and _ - . after the
// first character; never "control" or "conffiles", which Keep writes.
func validMember(m string) bool {
	if m == "" || len(m) > 64 || m == "control" || m == "conffiles" {
		return false
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || i > 0 && strings.IndexByte("_-.", c) >= 0) {
			return false
		}
	}
	return true
}

// scripts are the control files dpkg runs, which must be executable.
var scripts = map[string]bool{"preinst": true, "postinst": true, "prerm": true, "postrm": true, "config": true}

// writeControl writes tree/DEBIAN: the control file, the conffiles that
// are still there, and the other control files as dpkg kept them.
func writeControl(tree string, rc repackControl, members map[string][]byte, missing []string) error {
	debian := filepath.Join(tree, "DEBIAN")
	if err := os.Mkdir(debian, 0o755); err != nil {
		return err
	}
	write := func(name string, data []byte, mode os.FileMode) error {
		p := filepath.Join(debian, name)
		if err := os.WriteFile(p, data, mode); err != nil {
			return err
		}
		return os.Chmod(p, mode) // whatever the umask
	}
	if err := write("control", []byte(rc.control), 0o644); err != nil {
		return err
	}
	var conf strings.Builder
	for _, c := range rc.conffiles {
		if !slices.Contains(missing, c) {
			conf.WriteString(c + "\n")
		}
	}
	if conf.Len() > 0 {
		if err := write("conffiles", []byte(conf.String()), 0o644); err != nil {
			return err
		}
	}
	for m, data := range members {
		mode := os.FileMode(0o644)
		if scripts[m] {
			mode = 0o755
		}
		if err := write(m, data, mode); err != nil {
			return err
		}
	}
	return nil
}

// copyTree copies the package's files from root into tree, as they are
// on disk, noting in res the files missing and those whose contents no
// longer match md5sums (conffiles aside).
func copyTree(root, tree string, files []packageFile, conffiles []string, sums map[string]string, res *DebFile) error {
	if err := os.Mkdir(tree, 0o755); err != nil {
		return err
	}
	if err := os.Chmod(tree, 0o755); err != nil {
		return err
	}
	asRoot := os.Geteuid() == 0
	// A path with others under it was a directory in the package, even
	// where it is a symbolic link on disk now: on a merged-/usr host dpkg
	// still lists /lib as the package's directory, and /lib is a link to
	// usr/lib. The rebuilt package has a directory there, as the original
	// had, not a link it would then own.
	parents := map[string]bool{}
	for _, f := range files {
		for d := filepath.Dir(f.path); d != "/"; d = filepath.Dir(d) {
			parents[d] = true
		}
	}
	var dirs []packageFile
	for _, f := range files {
		if f.path == "/DEBIAN" || strings.HasPrefix(f.path, "/DEBIAN/") {
			return fmt.Errorf("%s: a package file where dpkg-deb wants its control files", f.path)
		}
		src := filepath.Join(root, f.onDisk)
		dst := filepath.Join(tree, f.path)
		stat := os.Lstat
		if parents[f.path] {
			stat = os.Stat
		}
		fi, err := stat(src)
		if errors.Is(err, fs.ErrNotExist) {
			res.Missing = append(res.Missing, f.path)
			continue
		}
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		switch {
		case parents[f.path] && !fi.IsDir():
			return fmt.Errorf("%s: files of the package are under it, but it is not a directory", f.path)
		case fi.IsDir():
			if err := os.Mkdir(dst, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
				return err
			}
			dirs = append(dirs, f) // its metadata once its contents are in
			continue
		case fi.Mode().IsRegular():
			sum, err := copyContents(src, dst)
			if err != nil {
				return err
			}
			if want, ok := sums[f.path]; ok && want != sum && !slices.Contains(conffiles, f.path) {
				res.Modified = append(res.Modified, f.path)
			}
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(src)
			if err != nil {
				return err
			}
			if err := os.Symlink(target, dst); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s: %v files are not rebuilt", f.path, fi.Mode().Type())
		}
		if err := setMeta(dst, fi, asRoot); err != nil {
			return err
		}
	}
	for _, d := range slices.Backward(dirs) {
		fi, err := os.Stat(filepath.Join(root, d.onDisk))
		if err != nil {
			return err
		}
		if err := setMeta(filepath.Join(tree, d.path), fi, asRoot); err != nil {
			return err
		}
	}
	return nil
}

// setMeta gives dst the owner (as root), mode and modification time of
// the file fi describes; a symbolic link only its owner.
func setMeta(dst string, fi os.FileInfo, asRoot bool) error {
	if uid, gid, ok := fileOwner(fi); asRoot && ok {
		if err := os.Lchown(dst, uid, gid); err != nil {
			return err
		}
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return nil
	}
	// After the chown, which clears set-user-ID and set-group-ID bits.
	if err := os.Chmod(dst, fi.Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
		return err
	}
	return os.Chtimes(dst, fi.ModTime(), fi.ModTime())
}

// copyContents copies a regular file's contents and returns their MD5, as
// md5sums has it.
func copyContents(src, dst string) (string, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	h := md5.New()
	_, err = io.Copy(io.MultiWriter(out, h), in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// copyFile copies src to dst through a temporary file in dst's directory,
// so that dst is whole or absent.
func copyFile(src, dst string) error {
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".keep-*.deb")
	if err != nil {
		return err
	}
	tmp.Close()
	os.Remove(tmp.Name())
	if _, err := copyContents(src, tmp.Name()); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return nil
}
