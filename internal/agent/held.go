package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/patchbay/patchbay/internal/protocol"
)

// Pruner is what a package manager that keeps files for deployments
// (internal/pkgmgr's drivers) offers to delete them once their
// deployments no longer need them.
type Pruner interface {
	Prune(ctx context.Context, fetched, kept []protocol.PackageVersion) error
}

// Held records, on disk, which package files each deployment needs on
// this host: the targets fetched ahead and the versions kept for a
// rollback. The agent tells the server which deployments it holds files
// for; the server answers which have ended and passed their retention, and
// their files that no other deployment needs are deleted.
type Held struct {
	path string
	mu   sync.Mutex
	m    map[int64]*heldFiles
}

type heldFiles struct {
	Fetched []protocol.PackageVersion `json:"fetched,omitempty"`
	Kept    []protocol.PackageVersion `json:"kept,omitempty"`
}

// OpenHeld reads the record at path; a missing file is an empty record. A
// damaged one is an error: forgetting it would keep files forever, and
// guessing could delete a rollback's.
func OpenHeld(path string) (*Held, error) {
	h := &Held{path: path, m: map[int64]*heldFiles{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return h, nil
	}
	if err != nil {
		return nil, fmt.Errorf("held package files: %w", err)
	}
	if err := json.Unmarshal(b, &h.m); err != nil {
		return nil, fmt.Errorf("held package files %s: %w (move it aside to start afresh; its deployments' files then stay until deleted by hand)", path, err)
	}
	return h, nil
}

// Add records that deployment needs fetched and kept, with what it needs
// already.
func (h *Held) Add(deployment int64, fetched, kept []protocol.PackageVersion) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	f := h.m[deployment]
	if f == nil {
		f = &heldFiles{}
		h.m[deployment] = f
	}
	before := len(f.Fetched) + len(f.Kept)
	f.Fetched = addVersions(f.Fetched, fetched)
	f.Kept = addVersions(f.Kept, kept)
	if len(f.Fetched)+len(f.Kept) == before && before > 0 {
		return nil
	}
	return h.save()
}

func addVersions(list, add []protocol.PackageVersion) []protocol.PackageVersion {
	for _, v := range add {
		if v.Version != "" && !slices.ContainsFunc(list, func(w protocol.PackageVersion) bool { return w.Name == v.Name && w.Version == v.Version }) {
			list = append(list, protocol.PackageVersion{Name: v.Name, Arch: v.Arch, Version: v.Version})
		}
	}
	return list
}

// IDs returns the deployments recorded, oldest first, at most
// protocol.MaxHolding (the rest are asked about once those are released).
func (h *Held) IDs() []int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	ids := make([]int64, 0, len(h.m))
	for id := range h.m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids[:min(len(ids), protocol.MaxHolding)]
}

// Unused returns the files of deployments ids that no other deployment
// recorded needs.
func (h *Held) Unused(ids []int64) (fetched, kept []protocol.PackageVersion) {
	h.mu.Lock()
	defer h.mu.Unlock()
	gone := map[int64]bool{}
	for _, id := range ids {
		gone[id] = true
	}
	type key struct{ name, version string }
	usedF, usedK := map[key]bool{}, map[key]bool{}
	for id, f := range h.m {
		if gone[id] {
			continue
		}
		for _, v := range f.Fetched {
			usedF[key{v.Name, v.Version}] = true
		}
		for _, v := range f.Kept {
			usedK[key{v.Name, v.Version}] = true
		}
	}
	for _, id := range ids {
		f := h.m[id]
		if f == nil {
			continue
		}
		for _, v := range f.Fetched {
			if !usedF[key{v.Name, v.Version}] {
				fetched = addVersions(fetched, []protocol.PackageVersion{v})
			}
		}
		for _, v := range f.Kept {
			if !usedK[key{v.Name, v.Version}] {
				kept = addVersions(kept, []protocol.PackageVersion{v})
			}
		}
	}
	return fetched, kept
}

// Remove forgets deployments ids.
func (h *Held) Remove(ids []int64) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := len(h.m)
	for _, id := range ids {
		delete(h.m, id)
	}
	if len(h.m) == n {
		return nil
	}
	return h.save()
}

// save writes the record atomically (under h.mu).
func (h *Held) save() error {
	b, err := json.Marshal(h.m)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(h.path), 0o700); err != nil {
		return fmt.Errorf("held package files: %w", err)
	}
	tmp := h.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("held package files: %w", err)
	}
	if err := os.Rename(tmp, h.path); err != nil {
		return fmt.Errorf("held package files: %w", err)
	}
	return nil
}

// release deletes the files of the deployments the server released, then
// forgets them: a crash between deletes them again next time, harmlessly.
func (a *runner) release(ctx context.Context, held *Held, pm PackageManager, ids []int64) {
	if len(ids) == 0 || held == nil {
		return
	}
	if p, ok := pm.(Pruner); ok {
		fetched, kept := held.Unused(ids)
		if err := p.Prune(ctx, fetched, kept); err != nil {
			a.log.Error("deleting the package files of ended deployments", "deployments", ids, "err", err)
			return
		}
		a.log.Info("deleted the package files of ended deployments", "deployments", ids, "fetched", len(fetched), "kept", len(kept))
	}
	if err := held.Remove(ids); err != nil {
		a.log.Error("held package files", "err", err)
	}
}
