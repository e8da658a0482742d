package pkgmgr

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/patchbay/patchbay/internal/protocol"
)

// keepChanged keeps the installed versions of the actions' packages that
// are to change and that no kept file covers.
func (j *DnfJobs) keepChanged(ctx context.Context, actions []protocol.Action) (string, error) {
	if err := validateRPMActions(actions); err != nil {
		return "", err
	}
	r, err := j.newRun()
	if err != nil {
		return "", err
	}
	db, err := j.installed(ctx, r.root)
	if err != nil {
		return "", err
	}
	var before []protocol.PackageVersion
	for _, a := range actions {
		evr, arch := db.version(a)
		if evr == "" || db.at(a) {
			continue
		}
		if _, missing := lookup(j.dir("kept"), []protocol.Action{{Name: a.Name, Version: evr}}); len(missing) > 0 {
			before = append(before, protocol.PackageVersion{Name: a.Name, Arch: arch, Version: evr})
		}
	}
	kept, err := j.keep(ctx, r, db, before)
	var out strings.Builder
	for _, k := range kept {
		fmt.Fprintf(&out, "kept %s (%s)\n", k.nevra, k.from)
	}
	return out.String(), err
}

// fetchedFiles returns the files Fetch downloaded for actions, to install
// them without the repositories: each action's own package file, and the
// dependencies fetched with it that are not installed now at their
// version or a newer one (installing those would downgrade them). missing
// names the actions ("name=version") with no file.
func (j *DnfJobs) fetchedFiles(ctx context.Context, actions []protocol.Action, db rpmDB) (files, missing []string, err error) {
	paths, missing := lookup(j.dir("fetched"), actions)
	if len(missing) > 0 {
		return nil, missing, nil
	}
	hs, err := j.readFiles(ctx, paths)
	if err != nil {
		return nil, nil, fmt.Errorf("the files fetched ahead: %w", err)
	}
	own := make([]bool, len(actions))
	for _, h := range hs {
		target := false
		for i, a := range actions {
			if h.name == a.Name && (a.Arch == "" || h.arch == a.Arch) && sameRPMVersion(h.evr(), a.Version) {
				own[i], target = true, true
			}
		}
		if installed := db.find(h.name, h.arch); !target && len(installed) > 0 && rpmCompare(installed[0].evr(), h.evr()) >= 0 {
			continue
		}
		if !slices.Contains(files, h.path) {
			files = append(files, h.path)
		}
	}
	for i, a := range actions {
		if !own[i] {
			missing = append(missing, indexKey(a.Name, a.Version))
		}
	}
	slices.Sort(files)
	return files, missing, nil
}

// Fetch keeps the files of the installed versions (before) in Dir/kept,
// and downloads the actions' packages with the dependencies they need into
// Dir/fetched (dnf install --downloadonly). The kept files come from this agent's files,
// dnf's package cache, or a repository (dnf reinstall --downloadonly),
// each checked to be the very build installed (its header digest). When
// no copy of an installed version can be had, the fetch fails: rpm cannot
// rebuild a package from its installed files, and a host that could not
// be rolled back is not to be upgraded. Nothing installed changes.
func (j *DnfJobs) Fetch(ctx context.Context, actions []protocol.Action, before []protocol.PackageVersion) (string, error) {
	const op = "dnf fetch"
	if err := validateRPMActions(actions); err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	r, err := j.newRun()
	if err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	db, err := j.installed(ctx, r.root)
	if err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	// The installed versions first: a host that could not be rolled back
	// is not to be upgraded, whatever the targets.
	kept, err := j.keep(ctx, r, db, before)
	var keptOut string
	for _, k := range kept {
		keptOut += fmt.Sprintf("kept %s (%s)\n", k.nevra, k.from)
	}
	if err != nil {
		return keptOut, fmt.Errorf("%s: %w", op, err)
	}
	var out strings.Builder
	var need []protocol.Action
	for _, a := range actions {
		if !db.at(a) {
			need = append(need, a)
		}
	}
	sub := filepath.Join(j.dir("fetched"), fetchKey(actions))
	if err := os.MkdirAll(sub, 0o700); err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	if len(need) > 0 {
		fails, unavailable, err := r.check(ctx, need, db, InstallOptions{AllowDowngrades: true})
		if err != nil {
			return "", fmt.Errorf("%s: %w", op, err)
		}
		for _, a := range unavailable {
			fails = append(fails, dnfFail{a, ReasonUnavailable, "no repository holds it"})
		}
		if len(fails) > 0 {
			return "", dnfFailure(op, fails, nil, nil)
		}
		args := []string{"install", "--downloadonly", "--downloaddir=" + sub, "--"}
		for _, a := range need {
			args = append(args, dnfSpec(a))
		}
		if _, err := r.dnf(ctx, false, nil, nil, args...); err != nil {
			return "", fmt.Errorf("%s: %w", op, err)
		}
	}
	paths, err := filepath.Glob(filepath.Join(sub, "*.rpm"))
	if err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	hs, err := j.readFiles(ctx, paths)
	if err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	group := map[string][]string{}
	for _, a := range actions {
		if slices.Contains(need, a) && !slices.ContainsFunc(hs, func(h rpmHeader) bool {
			return h.name == a.Name && (a.Arch == "" || h.arch == a.Arch) && sameRPMVersion(h.evr(), a.Version)
		}) {
			return "", fmt.Errorf("%s: dnf downloaded no file of %s into %s", op, dnfSpec(a), sub)
		}
		group[indexKey(a.Name, a.Version)] = paths
	}
	if err := addIndex(j.dir("fetched"), group); err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	fmt.Fprintf(&out, "fetched %d targets (%d files with their dependencies) into %s\n", len(need), len(paths), sub)
	out.WriteString(keptOut)
	return out.String(), nil
}

// dnfKept is an installed version's file that Fetch kept, and where it
// came from.
type dnfKept struct {
	nevra, from string
}

// keep puts a copy of each installed version of before into Dir/kept and
// indexes it, or fails naming those of which no copy can be had.
func (j *DnfJobs) keep(ctx context.Context, r *dnfRun, db rpmDB, before []protocol.PackageVersion) ([]dnfKept, error) {
	var want []rpmHeader
	for _, b := range before {
		if b.Version == "" {
			continue
		}
		var found bool
		for _, h := range db.find(b.Name, b.Arch) {
			if sameRPMVersion(h.evr(), b.Version) {
				want, found = append(want, h), true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("cannot keep %s-%s for a rollback: it is not installed any more", b.Name, b.Version)
		}
	}
	if len(want) == 0 {
		return nil, nil
	}
	dir := j.dir("kept")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	var kept []dnfKept
	idx := map[string][]string{}
	add := func(h rpmHeader, path, from string) error {
		dst := filepath.Join(dir, h.nevra()+".rpm")
		if path != dst {
			if err := copyFile(path, dst); err != nil {
				return err
			}
		}
		k := indexKey(h.name, h.evr())
		if !slices.Contains(idx[k], dst) {
			idx[k] = append(idx[k], dst)
		}
		kept = append(kept, dnfKept{h.nevra(), from})
		return nil
	}
	var fromRepo []rpmHeader
	for _, h := range want {
		path, from, err := j.localCopy(ctx, r.root, h)
		if err != nil {
			return kept, err
		}
		if path == "" {
			fromRepo = append(fromRepo, h)
			continue
		}
		if err := add(h, path, from); err != nil {
			return kept, err
		}
	}
	var missing []string
	if len(fromRepo) > 0 {
		acts := make([]protocol.Action, len(fromRepo))
		for i, h := range fromRepo {
			acts[i] = protocol.Action{Name: h.name, Arch: h.arch, Version: h.evr()}
		}
		found, err := r.available(ctx, acts, true)
		if err != nil {
			return kept, err
		}
		tmp, err := os.MkdirTemp(dir, ".download-")
		if err != nil {
			return kept, err
		}
		defer os.RemoveAll(tmp)
		args := []string{"reinstall", "--downloadonly", "--downloaddir=" + tmp, "--disableexcludes=all", "--"}
		specs := 0
		for i, a := range acts {
			if found[i] {
				args = append(args, dnfSpec(a))
				specs++
			}
		}
		var files []rpmHeader
		if specs > 0 {
			if _, err := r.dnf(ctx, false, nil, nil, args...); err != nil {
				return kept, err
			}
			paths, _ := filepath.Glob(filepath.Join(tmp, "*.rpm"))
			if files, err = j.readFiles(ctx, paths); err != nil {
				return kept, err
			}
		}
		for _, h := range fromRepo {
			i := slices.IndexFunc(files, func(f rpmHeader) bool { return sameRPMBuild(f, h) })
			switch {
			case i >= 0:
				if err := add(h, files[i].path, "from the repository"); err != nil {
					return kept, err
				}
			case slices.ContainsFunc(files, func(f rpmHeader) bool { return f.nevra() == h.nevra() }):
				missing = append(missing, h.nevra()+" (the repository's is another build than the one installed)")
			default:
				missing = append(missing, h.nevra())
			}
		}
	}
	if err := dnfMergeIndex(dir, idx); err != nil {
		return kept, err
	}
	if len(missing) > 0 {
		return kept, fmt.Errorf("cannot keep %s for a rollback: no repository or cache holds it", strings.Join(missing, ", "))
	}
	return kept, nil
}

// sameRPMBuild reports whether a package file is the build h is (the same
// NEVRA, and the same header digest when both have one).
func sameRPMBuild(f, h rpmHeader) bool {
	return f.nevra() == h.nevra() && (f.sha1 == "" || h.sha1 == "" || f.sha1 == h.sha1)
}

// localCopy looks for a file of installed package h on this host: kept
// before, fetched by an earlier job (the version installed from it), or in
// dnf's package cache under the root (kept there with keepcache=True, or
// left by an interrupted run). It returns "" when there is none.
func (j *DnfJobs) localCopy(ctx context.Context, root string, h rpmHeader) (path, from string, err error) {
	name := h.name + "-" + h.version + "-" + h.release + "." + h.arch + ".rpm"
	places := []struct{ glob, from string }{
		{filepath.Join(j.dir("kept"), h.nevra()+".rpm"), "kept before"},
		{filepath.Join(j.dir("fetched"), "*", name), "fetched by an earlier job"},
		{filepath.Join(root, "var/cache/dnf", "*", "packages", name), "from dnf's cache"},
	}
	for _, p := range places {
		matches, err := filepath.Glob(p.glob)
		if err != nil {
			return "", "", err
		}
		for _, m := range matches {
			fs, err := j.readFiles(ctx, []string{m})
			if err != nil {
				continue // not a package file, or a damaged one
			}
			if sameRPMBuild(fs[0], h) {
				return m, p.from, nil
			}
		}
	}
	return "", "", nil
}

// dnfMergeIndex adds entries to dir's index.json, each key's files added to
// those it had (the architectures of one version of a multilib package).
func dnfMergeIndex(dir string, entries map[string][]string) error {
	old := readIndex(dir)
	for k, paths := range entries {
		for _, p := range old[k] {
			if !slices.Contains(paths, p) {
				if _, err := os.Stat(p); err == nil {
					paths = append(paths, p)
				}
			}
		}
		slices.Sort(paths)
		entries[k] = paths
	}
	return addIndex(dir, entries)
}
