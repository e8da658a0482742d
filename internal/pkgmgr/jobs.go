package pkgmgr

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/patchbay/patchbay/internal/protocol"
)

// AptJobs runs deployment jobs with apt and dpkg: the agent's package
// manager (internal/agent.PackageManager) on Debian and Ubuntu hosts.
//
// Dir holds what jobs keep between them: fetched/ the target packages a
// fetch job downloaded ahead, so a pinned version stays installable when
// the archive drops it; kept/ the files of the versions installed before,
// so a rollback never depends on the archive. Each has an index.json of
// "name:arch=version" to file.
type AptJobs struct {
	Apt *Apt
	Dir string
}

func (j *AptJobs) dir(sub string) string { return filepath.Join(j.Dir, sub) }

// Versions returns each action's package's installed version from dpkg's
// database ("" when not installed), half-installed ones included at the
// version dpkg holds.
func (j *AptJobs) Versions(ctx context.Context, actions []protocol.Action) ([]protocol.PackageVersion, error) {
	pkgs, err := j.Apt.Packages(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]protocol.PackageVersion, len(actions))
	for i, a := range actions {
		out[i] = protocol.PackageVersion{Name: a.Name, Arch: a.Arch}
		for _, p := range pkgs {
			if p.Name == a.Name && (a.Arch == "" || p.Arch == a.Arch || p.Arch == "all") && p.Status != "not-installed" && p.Status != "config-files" {
				out[i].Version, out[i].Arch = p.Version, p.Arch
				break
			}
		}
	}
	return out, nil
}

// Fetch downloads the actions' packages into Dir/fetched and keeps the
// files of the installed versions (before) in Dir/kept.
func (j *AptJobs) Fetch(ctx context.Context, actions []protocol.Action, before []protocol.PackageVersion) (string, error) {
	var out strings.Builder
	// Each fetch downloads into a directory of its own, so that the
	// dependencies apt fetched with the targets (Download returns only
	// the targets' files) are known, and install with them.
	sub := filepath.Join(j.dir("fetched"), fetchKey(actions))
	files, err := j.Apt.Download(ctx, toActions(actions), sub)
	if err != nil {
		return "", fmt.Errorf("download the targets: %w", err)
	}
	paths, err := filepath.Glob(filepath.Join(sub, "*.deb"))
	if err != nil {
		return "", err
	}
	group := map[string][]string{}
	for _, a := range actions {
		group[indexKey(a.Name, a.Version)] = paths
	}
	if err := addIndex(j.dir("fetched"), group); err != nil {
		return "", err
	}
	fmt.Fprintf(&out, "fetched %d targets (%d files with their dependencies) into %s\n", len(files), len(paths), sub)
	var names []string
	for _, b := range before {
		if b.Version != "" {
			names = append(names, b.Name)
		}
	}
	err = j.keep(ctx, names, &out)
	return out.String(), err
}

// keep keeps the files of the installed versions of the packages names in
// Dir/kept, saying how in out.
func (j *AptJobs) keep(ctx context.Context, names []string, out *strings.Builder) error {
	if len(names) == 0 {
		return nil
	}
	kept, err := j.Apt.Keep(ctx, names, j.dir("kept"))
	if err != nil {
		return fmt.Errorf("keep the installed versions: %w", err)
	}
	keptIdx := map[string][]string{}
	for _, k := range kept {
		keptIdx[indexKey(k.Name, k.Version)] = []string{k.Path}
	}
	if err := addIndex(j.dir("kept"), keptIdx); err != nil {
		return err
	}
	for _, k := range kept {
		how := "from apt's cache"
		if k.Rebuilt {
			how = "rebuilt from the installed files"
		}
		fmt.Fprintf(out, "kept %s (%s)\n", k.Action, how)
		if len(k.Modified) > 0 {
			fmt.Fprintf(out, "  with local changes: %s\n", strings.Join(k.Modified, ", "))
		}
	}
	return nil
}

// keepChanged keeps the installed versions of the actions' packages that
// no kept file covers: the host's version changed between the fetch and
// the install (someone upgraded by hand, another deployment ran), and a
// rollback goes back to the version before the install, which the fetch
// never saw.
func (j *AptJobs) keepChanged(ctx context.Context, actions []protocol.Action, out *strings.Builder) error {
	now, err := j.Versions(ctx, actions)
	if err != nil {
		return err
	}
	var names []string
	for i, v := range now {
		if v.Version == "" || v.Version == actions[i].Version {
			continue // nothing to go back to, or already the target (a job run again)
		}
		if _, missing := lookup(j.dir("kept"), []protocol.Action{{Name: v.Name, Version: v.Version}}); len(missing) > 0 {
			names = append(names, v.Name)
		}
	}
	return j.keep(ctx, names, out)
}

// Install installs the actions' exact versions from the archive, or, when
// the archive no longer has them, from the files Fetch downloaded.
//
// Installed versions that no kept file covers are kept first: a host that
// cannot be rolled back is not changed.
func (j *AptJobs) Install(ctx context.Context, actions []protocol.Action) (string, error) {
	var kept strings.Builder
	if err := j.keepChanged(ctx, actions, &kept); err != nil {
		return kept.String(), fmt.Errorf("before installing: %w", err)
	}
	out, err := j.install(ctx, actions)
	return kept.String() + out, err
}

func (j *AptJobs) install(ctx context.Context, actions []protocol.Action) (string, error) {
	res, err := j.Apt.Install(ctx, toActions(actions), InstallOptions{})
	if errors.Is(err, ReasonUnavailable) {
		paths, missing := lookup(j.dir("fetched"), actions)
		if len(missing) > 0 {
			return output(res), fmt.Errorf("%w; and not fetched ahead: %s", err, strings.Join(missing, ", "))
		}
		res, err = j.Apt.InstallFiles(ctx, paths)
	}
	return output(res), err
}

// Restore reinstalls the actions' exact versions from the files Fetch
// kept, never from the archive.
func (j *AptJobs) Restore(ctx context.Context, actions []protocol.Action) (string, error) {
	paths, missing := lookup(j.dir("kept"), actions)
	if len(missing) > 0 {
		return "", fmt.Errorf("no kept file for %s: the host cannot be rolled back from this deployment's files", strings.Join(missing, ", "))
	}
	res, err := j.Apt.InstallFiles(ctx, paths)
	return output(res), err
}

// Broken lists the packages dpkg holds half-installed or half-configured.
func (j *AptJobs) Broken(ctx context.Context) ([]string, error) {
	bad, err := j.Apt.Consistent(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(bad))
	for i, p := range bad {
		out[i] = p.Name + " " + p.String()
	}
	return out, nil
}

// WaitIdle waits for dpkg's locks to be free.
func (j *AptJobs) WaitIdle(ctx context.Context) error { return j.Apt.WaitIdle(ctx) }

// fetchKey names the download directory of a set of actions.
func fetchKey(actions []protocol.Action) string {
	keys := make([]string, len(actions))
	for i, a := range actions {
		keys[i] = a.Name + ":" + a.Arch + "=" + a.Version
	}
	sort.Strings(keys)
	sum := sha256.Sum256([]byte(strings.Join(keys, "\n")))
	return hex.EncodeToString(sum[:8])
}

func toActions(as []protocol.Action) []Action {
	out := make([]Action, len(as))
	for i, a := range as {
		out[i] = Action{Name: a.Name, Arch: a.Arch, Version: a.Version}
	}
	return out
}

func output(res *InstallResult) string {
	if res == nil {
		return ""
	}
	return res.Output
}

// indexKey names a file in an index: "name=version", arch aside (a
// package installs in one arch on a host, and "all" ones have none).
func indexKey(name, version string) string { return name + "=" + version }

// addIndex records entries in dir's index.json.
func addIndex(dir string, entries map[string][]string) error {
	idx := readIndex(dir)
	for k, paths := range entries {
		idx[k] = paths
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("index %s: %w", dir, err)
	}
	return writeIndex(dir, idx)
}

// writeIndex replaces dir's index.json atomically.
func writeIndex(dir string, idx map[string][]string) error {
	b, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, ".index.json.tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("index %s: %w", dir, err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "index.json")); err != nil {
		return fmt.Errorf("index %s: %w", dir, err)
	}
	return nil
}

func readIndex(dir string) map[string][]string {
	idx := map[string][]string{}
	if b, err := os.ReadFile(filepath.Join(dir, "index.json")); err == nil {
		json.Unmarshal(b, &idx)
	}
	return idx
}

// lookup returns the indexed files of actions in dir, and the actions
// that have none (or whose files are gone).
func lookup(dir string, actions []protocol.Action) (paths, missing []string) {
	idx := readIndex(dir)
	seen := map[string]bool{}
	for _, a := range actions {
		ps, ok := idx[indexKey(a.Name, a.Version)]
		gone := !ok
		for _, p := range ps {
			if _, err := os.Stat(p); err != nil {
				gone = true
			}
		}
		if gone {
			missing = append(missing, indexKey(a.Name, a.Version))
			continue
		}
		for _, p := range ps {
			if !seen[p] {
				seen[p] = true
				paths = append(paths, p)
			}
		}
	}
	sort.Strings(paths)
	return paths, missing
}

// Prune forgets the fetched targets and the kept versions given, whose
// deployments ended, and deletes the files no remaining entry names. Files
// go first, then the index: a crash between leaves entries whose files are
// gone, which lookup reports as missing, never files no entry names.
func (j *AptJobs) Prune(ctx context.Context, fetched, kept []protocol.PackageVersion) error {
	return pruneJobFiles(j.Dir, fetched, kept)
}

// pruneJobFiles prunes a driver's fetched/ and kept/ under dir.
func pruneJobFiles(dir string, fetched, kept []protocol.PackageVersion) error {
	if err := pruneIndex(filepath.Join(dir, "fetched"), fetched); err != nil {
		return err
	}
	return pruneIndex(filepath.Join(dir, "kept"), kept)
}

// pruneIndex drops vs' entries from dir's index and deletes their files
// that no other entry names, and the directories that leaves empty.
func pruneIndex(dir string, vs []protocol.PackageVersion) error {
	idx := readIndex(dir)
	var dropped []string
	for _, v := range vs {
		k := indexKey(v.Name, v.Version)
		if ps, ok := idx[k]; ok {
			dropped = append(dropped, ps...)
			delete(idx, k)
		}
	}
	if len(dropped) == 0 {
		return nil
	}
	used := map[string]bool{}
	for _, ps := range idx {
		for _, p := range ps {
			used[p] = true
		}
	}
	for _, p := range dropped {
		if used[p] || !within(dir, p) {
			continue // shared with an entry kept, or not ours to delete
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("prune %s: %w", p, err)
		}
		if sub := filepath.Dir(p); sub != filepath.Clean(dir) {
			os.Remove(sub) // only when empty: a fetch's own directory
		}
	}
	return writeIndex(dir, idx)
}

// within reports whether path lies under dir: an index edited by hand must
// not make pruning delete files elsewhere.
func within(dir, path string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}
