package pkgmgr

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/patchbay/patchbay/internal/protocol"
)

// Fetch downloads the actions' packages, with their dependencies, into
// Dir/fetched, and keeps the files of the versions installed now (before)
// in Dir/kept; it changes nothing installed.
//
// apk-tools 2's fetch takes package names, not versions (app_fetch.c
// matches its arguments against names and picks the newest version, or
// solves the names without versions with --recursive): Fetch runs apk
// fetch --recursive --output DIR NAME... and checks that each target's
// file, NAME-VERSION.apk, is among what apk downloaded. When the
// repositories no longer have the target version (or their indexes are
// older than it), the fetch fails saying what they have.
//
// A kept file comes from apk's cache (etc/apk/cache, a link to
// var/cache/apk, where apk keeps the packages it installs when the cache
// is set up), the file of exactly the installed build (the cache names it
// NAME-VERSION.CHECKSUM.apk); else from apk fetch NAME, when the newest
// version the repositories have is still the installed one. apk has no
// way to rebuild a package from the installed files, so when neither has
// it the fetch fails, naming the packages: an install must not start on
// a host that cannot be rolled back.
func (j *ApkJobs) Fetch(ctx context.Context, actions []protocol.Action, before []protocol.PackageVersion) (string, error) {
	if err := validateApkActions(actions); err != nil {
		return "", fmt.Errorf("apk fetch: %w", err)
	}
	root, base, err := j.setup()
	if err != nil {
		return "", fmt.Errorf("apk fetch: %w", err)
	}
	st, err := readApkState(root)
	if err != nil {
		return "", fmt.Errorf("apk fetch: %w", err)
	}
	var out strings.Builder
	sub := filepath.Join(j.dir("fetched"), fetchKey(actions))
	names := make([]string, len(actions))
	for i, a := range actions {
		names[i] = a.Name
	}
	paths, err := j.fetchNames(ctx, base, sub, true, names, &out)
	if err != nil {
		return out.String(), fmt.Errorf("apk fetch: download the targets: %w", err)
	}
	var wrong []string
	for _, a := range actions {
		if !slices.Contains(paths, filepath.Join(sub, apkFileName(a.Name, a.Version))) {
			wrong = append(wrong, fmt.Sprintf("%s %s (the repositories have %s)", a.Name, a.Version, fetchedVersions(paths, a.Name)))
		}
	}
	if len(wrong) > 0 {
		return out.String(), fmt.Errorf("apk fetch: the target version is not in the repositories: %s; apk fetch downloads the newest version of a name (the indexes may be older than the deployment: apk update refreshes them)", strings.Join(wrong, "; "))
	}
	group := map[string][]string{}
	for _, a := range actions {
		group[indexKey(a.Name, a.Version)] = paths
	}
	if err := addIndex(j.dir("fetched"), group); err != nil {
		return out.String(), err
	}
	fmt.Fprintf(&out, "fetched %d targets (%d files with their dependencies) into %s\n", len(actions), len(paths), sub)

	kept, err := j.keep(ctx, root, base, st, before, &out)
	if err != nil {
		return out.String(), fmt.Errorf("apk fetch: keep the installed versions: %w", err)
	}
	if err := addIndex(j.dir("kept"), kept); err != nil {
		return out.String(), err
	}
	return out.String(), nil
}

// fetchNames runs apk fetch [--recursive] --output dir NAME... and returns
// the package files in dir afterwards.
func (j *ApkJobs) fetchNames(ctx context.Context, base []string, dir string, recursive bool, names []string, out *strings.Builder) ([]string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	argv := append(append([]string(nil), base...), "fetch")
	if recursive {
		argv = append(argv, "--recursive")
	}
	argv = append(append(argv, "--output="+dir), names...)
	log := newOutputLog()
	fmt.Fprintf(log, "$ %s\n", strings.Join(append([]string{filepath.Base(argv[0])}, argv[1:]...), " "))
	_, err := command{argv: argv, env: apkEnv(), isLocked: apkLocked, log: log}.run(ctx)
	out.WriteString(log.String())
	if err != nil {
		// apk fetch says which names it could not select on stdout.
		var why []string
		for _, line := range strings.Split(log.String(), "\n") {
			if strings.HasSuffix(line, ": unable to select package (or its dependencies)") {
				why = append(why, line)
			}
		}
		if len(why) > 0 {
			err = fmt.Errorf("%w: %s", err, strings.Join(why, "; "))
		}
		return nil, err
	}
	paths, err := filepath.Glob(filepath.Join(dir, "*.apk"))
	if err != nil {
		return nil, err
	}
	slices.Sort(paths)
	return paths, nil
}

// fetchedVersions lists the versions of name among package files, for a
// message.
func fetchedVersions(paths []string, name string) string {
	var vs []string
	for _, p := range paths {
		n, v, ok := splitApkNameVersion(strings.TrimSuffix(filepath.Base(p), ".apk"))
		if ok && n == name {
			vs = append(vs, v)
		}
	}
	if len(vs) == 0 {
		return "no version of it"
	}
	return strings.Join(vs, ", ")
}

// keep copies the files of the installed versions in before into
// Dir/kept, as NAME-VERSION.apk, and returns their index entries.
func (j *ApkJobs) keep(ctx context.Context, root string, base []string, st apkState, before []protocol.PackageVersion, out *strings.Builder) (map[string][]string, error) {
	keptDir := j.dir("kept")
	if err := os.MkdirAll(keptDir, 0o700); err != nil {
		return nil, err
	}
	kept := map[string][]string{}
	cache, cacheErr := apkCacheDir(root)
	var missing []apkInstalled
	for _, b := range before {
		if b.Version == "" {
			continue
		}
		p, ok := st.installed[b.Name]
		if !ok || p.Version != b.Version {
			return nil, fmt.Errorf("%s %s is no longer installed (the database has %s): nothing to keep for a rollback", b.Name, b.Version, installedVersion(st, b.Name))
		}
		src := ""
		if cache != "" {
			src = cachedFile(cache, p)
		}
		if src == "" {
			missing = append(missing, p)
			continue
		}
		dst := filepath.Join(keptDir, apkFileName(p.Name, p.Version))
		if err := copyFile(src, dst); err != nil {
			return nil, fmt.Errorf("keep %s %s: %w", p.Name, p.Version, err)
		}
		kept[indexKey(p.Name, p.Version)] = []string{dst}
		fmt.Fprintf(out, "kept %s=%s (from apk's cache, %s)\n", p.Name, p.Version, src)
	}
	if len(missing) == 0 {
		return kept, nil
	}
	// apk fetch NAME downloads the newest version: the installed one only
	// when the repositories have nothing newer.
	// A directory of its own, so that what apk downloads is known; one
	// name, as the agent runs one job at a time.
	tmp := filepath.Join(keptDir, ".fetch")
	if err := os.RemoveAll(tmp); err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	names := make([]string, len(missing))
	for i, p := range missing {
		names[i] = p.Name
	}
	paths, err := j.fetchNames(ctx, base, tmp, false, names, out)
	if err != nil {
		return nil, fmt.Errorf("%s not in apk's cache, and apk fetch failed: %w", strings.Join(names, ", "), err)
	}
	var gone []string
	for _, p := range missing {
		src := filepath.Join(tmp, apkFileName(p.Name, p.Version))
		if !slices.Contains(paths, src) {
			gone = append(gone, fmt.Sprintf("%s %s (the repositories have %s)", p.Name, p.Version, fetchedVersions(paths, p.Name)))
			continue
		}
		dst := filepath.Join(keptDir, apkFileName(p.Name, p.Version))
		if err := os.Rename(src, dst); err != nil {
			return nil, fmt.Errorf("keep %s %s: %w", p.Name, p.Version, err)
		}
		kept[indexKey(p.Name, p.Version)] = []string{dst}
		fmt.Fprintf(out, "kept %s=%s (downloaded: the repositories still have it)\n", p.Name, p.Version)
	}
	if len(gone) > 0 {
		where := "apk's cache is not set up (" + apkCacheLink + " under the root does not exist" + errSuffix(cacheErr) + ")"
		if cache != "" {
			where = "not in apk's cache (" + cache + ")"
		}
		return nil, fmt.Errorf("no copy of the installed version of %s: %s, and apk cannot fetch an older version nor rebuild one from the installed files; setting up apk's cache (setup-apkcache) keeps the files of installed packages", strings.Join(gone, "; "), where)
	}
	return kept, nil
}

func installedVersion(st apkState, name string) string {
	if p, ok := st.installed[name]; ok {
		return p.Version
	}
	return "none"
}

func errSuffix(err error) string {
	if err == nil {
		return ""
	}
	return ": " + err.Error()
}

// apkCacheDir returns the directory apk's cache link under root points
// to, "" when the root has none (apk then keeps no package files). An
// absolute link target is taken inside root, as it is on the host itself.
func apkCacheDir(root string) (string, error) {
	link := filepath.Join(root, apkCacheLink)
	fi, err := os.Lstat(link)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	dir := link
	if fi.Mode()&fs.ModeSymlink != 0 {
		target, err := os.Readlink(link)
		if err != nil {
			return "", err
		}
		if filepath.IsAbs(target) {
			dir = filepath.Join(root, target)
		} else {
			dir = filepath.Join(filepath.Dir(link), target)
		}
	}
	fi, err = os.Stat(dir)
	if err != nil {
		return "", err
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("%s is not a directory", dir)
	}
	return dir, nil
}

// cachedFile returns the file of exactly p's build in apk's cache:
// NAME-VERSION.TAG.apk with TAG from p's checksum; or, when p's checksum
// is not one apk writes, the one file of p's name and version. "" when
// the cache has none.
func cachedFile(cache string, p apkInstalled) string {
	if tag := p.cacheTag(); tag != "" {
		path := filepath.Join(cache, p.Name+"-"+p.Version+"."+tag+".apk")
		if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() {
			return path
		}
		return ""
	}
	matches, _ := filepath.Glob(filepath.Join(cache, globEscape(p.Name+"-"+p.Version)+".*.apk"))
	if len(matches) != 1 {
		return ""
	}
	return matches[0]
}

// globEscape quotes the characters filepath.Match treats specially.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
