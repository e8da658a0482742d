package agent

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/patchbay/patchbay/internal/protocol"
)

// Phase is how far the agent got with a job.
type Phase string

// The phases, in order. A job is journalled as received before anything
// is done; as started just before the package manager runs; as rebooting
// or watching while it finishes; as done with its result, until the
// server acknowledged it.
const (
	PhaseReceived  Phase = "received"
	PhaseStarted   Phase = "started"
	PhaseRebooting Phase = "rebooting" // packages in place; the host reboots to finish
	PhaseWatching  Phase = "watching"  // packages in place; health being watched
	PhaseDone      Phase = "done"
)

// Entry is one job in the journal.
type Entry struct {
	Job    protocol.Job              `json:"job"`
	Phase  Phase                     `json:"phase"`
	Before []protocol.PackageVersion `json:"before,omitempty"`
	// Result is set in PhaseDone: the report to deliver.
	Result  *protocol.JobResult `json:"result,omitempty"`
	Started time.Time           `json:"started,omitempty"`
	At      time.Time           `json:"at"`
	// BootBefore and RebootAt are set while rebooting: the boot time
	// before, and when the reboot was due.
	BootBefore time.Time `json:"boot_before,omitempty"`
	RebootAt   time.Time `json:"reboot_at,omitempty"`
}

// Journal keeps the agent's jobs on disk, one file per job attempt,
// written before each step is taken: after a crash or a reboot the agent
// knows which jobs it had begun, reads the true outcome from the package
// database, and reports it, never running a job twice.
type Journal struct{ dir string }

// OpenJournal opens (creating) the journal directory dir, mode 0700.
func OpenJournal(dir string) (*Journal, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open job journal: %w", err)
	}
	return &Journal{dir: dir}, nil
}

func (j *Journal) name(id int64, attempt int) string {
	return filepath.Join(j.dir, fmt.Sprintf("job-%d-%d.json", id, attempt))
}

// Put writes e durably: a temporary file synced, renamed over the entry,
// and the directory synced, so a crash leaves the old entry or the new one.
func (j *Journal) Put(e Entry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("journal job %d: %w", e.Job.ID, err)
	}
	tmp, err := os.CreateTemp(j.dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("journal job %d: %w", e.Job.ID, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("journal job %d: %w", e.Job.ID, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("journal job %d: %w", e.Job.ID, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("journal job %d: %w", e.Job.ID, err)
	}
	if err := os.Rename(tmp.Name(), j.name(e.Job.ID, e.Job.Attempt)); err != nil {
		return fmt.Errorf("journal job %d: %w", e.Job.ID, err)
	}
	return syncDir(j.dir)
}

// Get returns the entry of a job attempt, false when there is none.
func (j *Journal) Get(id int64, attempt int) (Entry, bool, error) {
	var e Entry
	b, err := os.ReadFile(j.name(id, attempt))
	if errors.Is(err, os.ErrNotExist) {
		return e, false, nil
	}
	if err != nil {
		return e, false, fmt.Errorf("read journal: %w", err)
	}
	if err := json.Unmarshal(b, &e); err != nil {
		return e, false, fmt.Errorf("journal entry %s is corrupt: %w", j.name(id, attempt), err)
	}
	return e, true, nil
}

// Entries returns every entry, oldest job first. A corrupt entry is an
// error naming its file: the agent must not guess what it had done.
func (j *Journal) Entries() ([]Entry, error) {
	des, err := os.ReadDir(j.dir)
	if err != nil {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	var out []Entry
	for _, de := range des {
		var id int64
		var attempt int
		if !strings.HasPrefix(de.Name(), "job-") {
			continue
		}
		if _, err := fmt.Sscanf(de.Name(), "job-%d-%d.json", &id, &attempt); err != nil {
			continue
		}
		e, ok, err := j.Get(id, attempt)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b Entry) int {
		return cmp.Or(cmp.Compare(a.Job.ID, b.Job.ID), cmp.Compare(a.Job.Attempt, b.Job.Attempt))
	})
	return out, nil
}

// Remove forgets a job attempt once the server acknowledged its result.
func (j *Journal) Remove(id int64, attempt int) error {
	if err := os.Remove(j.name(id, attempt)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("forget job %d: %w", id, err)
	}
	return syncDir(j.dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
