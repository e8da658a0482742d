package pkgmgr

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
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
	if len(names) == 0 {
		return out.String(), nil
	}
	kept, err := j.Apt.Keep(ctx, names, j.dir("kept"))
	if err != nil {
		return out.String(), fmt.Errorf("keep the installed versions: %w", err)
	}
	keptIdx := map[string][]string{}
	for _, k := range kept {
		keptIdx[indexKey(k.Name, k.Version)] = []string{k.Path}
	}
	if err := addIndex(j.dir("kept"), keptIdx); err != nil {
		return out.String(), err
	}
	for _, k := range kept {
		how := "from apt's cache"
		if k.Rebuilt {
			how = "rebuilt from the installed files"
		}
		fmt.Fprintf(&out, "kept %s (%s)\n", k.Action, how)
		if len(k.Modified) > 0 {
			fmt.Fprintf(&out, "  with local changes: %s\n", strings.Join(k.Modified, ", "))
		}
	}
	return out.String(), nil
}

// Install installs the actions' exact versions from the archive, or, when
// the archive no longer has them, from the files Fetch downloaded.
func (j *AptJobs) Install(ctx context.Context, actions []protocol.Action) (string, error) {
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
	b, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("index %s: %w", dir, err)
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
