package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/protocol"
)

// hostFacts are the host columns that come from an agent's facts.
type hostFacts struct {
	hostname, machineID                     string
	osFamily, osName, osRelease, osCodename string
	kernel, arch, agentVersion, timeZone    string
	rebootRequired                          bool
	bootTime                                *time.Time
	raw                                     string // the facts as JSON
	hash                                    string // of raw without the fields that change every check-in
}

// factsColumns validates f and derives the host columns from it. Agents'
// strings are data: bounded, free of control characters, never
// interpolated anywhere.
func factsColumns(f protocol.Facts) (hostFacts, error) {
	check := func(field, v string, max int) error {
		if len(v) > max {
			return patchbay.FieldError(patchbay.EUnprocessable, "facts."+field, "longer than %d bytes", max)
		}
		if strings.IndexFunc(v, unicode.IsControl) >= 0 {
			return patchbay.FieldError(patchbay.EUnprocessable, "facts."+field, "contains control characters")
		}
		return nil
	}
	var errs []error
	errs = append(errs, check("hostname", f.Hostname, 253), check("machine_id", f.MachineID, 64),
		check("kernel", f.Kernel, 256), check("arch", f.Arch, 32), check("agent_version", f.AgentVersion, 64),
		check("time_zone", f.TimeZone, 64))
	if f.Hostname == "" {
		errs = append(errs, patchbay.FieldError(patchbay.EUnprocessable, "facts.hostname", "is required"))
	}
	if len(f.OSRelease) > 64 {
		errs = append(errs, patchbay.FieldError(patchbay.EUnprocessable, "facts.os_release", "more than 64 fields"))
	}
	for k, v := range f.OSRelease {
		errs = append(errs, check("os_release."+truncate(k, 40), k, 64), check("os_release."+truncate(k, 40), v, 512))
	}
	if len(f.RebootPackages) > 1000 {
		errs = append(errs, patchbay.FieldError(patchbay.EUnprocessable, "facts.reboot_packages", "more than 1000 entries"))
	}
	for _, p := range f.RebootPackages {
		errs = append(errs, check("reboot_packages", p, 256))
	}
	if err := firstError(errs); err != nil {
		return hostFacts{}, err
	}
	raw, err := json.Marshal(f)
	if err != nil {
		return hostFacts{}, err
	}
	if len(raw) > protocol.MaxFactBytes {
		return hostFacts{}, patchbay.FieldError(patchbay.ETooLarge, "facts", "larger than %d bytes", protocol.MaxFactBytes)
	}
	stable := f
	stable.UptimeSeconds = 0
	sb, _ := json.Marshal(stable)
	sum := sha256.Sum256(sb)
	c := hostFacts{
		hostname: f.Hostname, machineID: f.MachineID, kernel: f.Kernel, arch: f.Arch,
		agentVersion: f.AgentVersion, timeZone: f.TimeZone, rebootRequired: f.RebootRequired,
		osName: f.OSRelease["ID"], osRelease: f.OSRelease["VERSION_ID"], osCodename: f.OSRelease["VERSION_CODENAME"],
		osFamily: osFamily(f.OSRelease), raw: string(raw), hash: hex.EncodeToString(sum[:]),
	}
	if !f.BootTime.IsZero() {
		bt := f.BootTime.UTC()
		c.bootTime = &bt
	}
	return c, nil
}

func firstError(errs []error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// osFamily names the family of an os-release: debian, rhel, suse, alpine,
// or the distribution's own ID.
func osFamily(osr map[string]string) string {
	ids := append([]string{osr["ID"]}, strings.Fields(osr["ID_LIKE"])...)
	for _, id := range ids {
		switch id {
		case "debian", "ubuntu":
			return "debian"
		case "rhel", "fedora", "centos", "rocky", "almalinux":
			return "rhel"
		case "suse", "opensuse", "sles":
			return "suse"
		case "alpine":
			return "alpine"
		}
	}
	return osr["ID"]
}

// writeFacts stores new facts of a host.
func (t *Tx) writeFacts(ctx context.Context, id int64, c hostFacts, now time.Time) error {
	// plan_facts_at moves when what the planner reads of the facts changes
	// (the right-hand sides see the row as it was): policies' os selectors
	// read the family, name, release and codename, host-local windows the
	// time zone.
	_, err := t.exec(ctx, `UPDATE hosts SET hostname = ?, machine_id = ?, os_family = ?, os_name = ?, os_release = ?,
		os_codename = ?, kernel = ?, arch = ?, agent_version = ?, reboot_required = ?, facts = ?, facts_hash = ?,
		boot_time = ?, time_zone = ?, last_seen_at = ?,
		plan_facts_at = CASE WHEN os_family <> ? OR os_name <> ? OR os_release <> ? OR os_codename <> ? OR time_zone <> ? THEN ? ELSE plan_facts_at END
		WHERE id = ?`,
		c.hostname, c.machineID, c.osFamily, c.osName, c.osRelease, c.osCodename, c.kernel, c.arch, c.agentVersion,
		boolInt(c.rebootRequired), c.raw, c.hash, optMicros(c.bootTime), c.timeZone, micros(now),
		c.osFamily, c.osName, c.osRelease, c.osCodename, c.timeZone, micros(now), id)
	if err != nil {
		return fmt.Errorf("store facts of host %d: %w", id, err)
	}
	return nil
}

// HostSession is what a host token authenticates: the host and what the
// server holds of it.
type HostSession struct {
	HostID       int64
	Hostname     string
	FactsHash    string
	ReportedHash string // the inventory hash the agent last sent and the server took
}

// AuthenticateHost returns the active host that token belongs to.
func (s *Store) AuthenticateHost(ctx context.Context, token string) (*HostSession, error) {
	if !patchbay.WellFormedSecret(protocol.HostTokenPrefix, token) {
		return nil, patchbay.Errorf(patchbay.EUnauthorized, "not a patchbay host token")
	}
	h := patchbay.HashSecret(token)
	var hs HostSession
	var stored []byte
	var retired sql.NullInt64
	err := s.queryRow(ctx, "SELECT id, hostname, facts_hash, reported_hash, token_hash, retired_at FROM hosts WHERE token_hash = ?", h[:]).
		Scan(&hs.HostID, &hs.Hostname, &hs.FactsHash, &hs.ReportedHash, &stored, &retired)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, patchbay.Errorf(patchbay.EUnauthorized, "unknown host token")
	}
	if err != nil {
		return nil, fmt.Errorf("authenticate host: %w", classify(err))
	}
	if len(stored) != len(h) || !h.Equal(patchbay.TokenHash(stored)) {
		return nil, patchbay.Errorf(patchbay.EUnauthorized, "unknown host token")
	}
	if retired.Valid {
		return nil, patchbay.Errorf(patchbay.EUnauthorized, "the host was retired")
	}
	return &hs, nil
}

// CheckIn records a host's check-in and says whether the server needs its
// full inventory. Unchanged facts cost no write: the last-seen time is
// batched (see seenBatcher). A hash the server already holds for another
// host is attached without an upload.
func (s *Store) CheckIn(ctx context.Context, hs *HostSession, f protocol.Facts, inventoryHash string) (needInventory bool, err error) {
	now := s.now()
	if len(inventoryHash) != 64 {
		return false, patchbay.FieldError(patchbay.EUnprocessable, "inventory_hash", "want a hex SHA-256")
	}
	c, err := factsColumns(f)
	if err != nil {
		return false, err
	}
	if c.hash == hs.FactsHash && inventoryHash == hs.ReportedHash {
		s.seen.mark(hs.HostID, now)
		return false, nil
	}
	err = s.inTx(ctx, func(tx *Tx) error {
		if c.hash != hs.FactsHash {
			if err := tx.writeFacts(ctx, hs.HostID, c, now); err != nil {
				return err
			}
		}
		if inventoryHash == hs.ReportedHash {
			return nil
		}
		// Another host may already have sent this very inventory.
		var invID int64
		err := tx.queryRow(ctx, "SELECT id FROM inventories WHERE hash = ? AND errors = '[]'", inventoryHash).Scan(&invID)
		if errors.Is(err, sql.ErrNoRows) {
			needInventory = true
			return nil
		}
		if err != nil {
			return fmt.Errorf("check in host %d: %w", hs.HostID, classify(err))
		}
		return tx.attachInventory(ctx, hs.HostID, invID, inventoryHash, now)
	})
	if err == nil && !needInventory {
		s.seen.mark(hs.HostID, now)
	}
	return needInventory, err
}

// seenBatcher collects last-seen times and writes them in one transaction
// per interval, so an unchanged check-in is a read. A server killed between
// flushes loses at most one interval of last-seen times, nothing else.
type seenBatcher struct {
	mu      sync.Mutex
	pending map[int64]time.Time
}

func (b *seenBatcher) mark(id int64, t time.Time) {
	b.mu.Lock()
	if b.pending == nil {
		b.pending = map[int64]time.Time{}
	}
	b.pending[id] = t
	b.mu.Unlock()
}

func (b *seenBatcher) take() map[int64]time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.pending
	b.pending = nil
	return p
}

// FlushSeen writes pending last-seen times of hosts and last-used times of
// tokens now, in one transaction.
func (s *Store) FlushSeen(ctx context.Context) error {
	hosts, tokens := s.seen.take(), s.tokenUsed.take()
	if len(hosts) == 0 && len(tokens) == 0 {
		return nil
	}
	err := s.inTx(ctx, func(tx *Tx) error {
		for _, b := range []struct {
			q       string
			pending map[int64]time.Time
		}{
			{"UPDATE hosts SET last_seen_at = ? WHERE id = ? AND (last_seen_at IS NULL OR last_seen_at < ?)", hosts},
			{"UPDATE tokens SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)", tokens},
		} {
			for id, t := range b.pending {
				if _, err := tx.exec(ctx, b.q, micros(t), id, micros(t)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		s.seen.restore(hosts)
		s.tokenUsed.restore(tokens)
		return fmt.Errorf("flush last-seen times: %w", err)
	}
	return nil
}

// restore puts back times a failed flush did not write, unless newer ones
// came meanwhile.
func (b *seenBatcher) restore(p map[int64]time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.pending == nil {
		b.pending = map[int64]time.Time{}
	}
	for id, t := range p {
		if cur, ok := b.pending[id]; !ok || cur.Before(t) {
			b.pending[id] = t
		}
	}
}

// flushSeenLoop flushes last-seen times every interval until stop closes.
func (s *Store) flushSeenLoop(interval time.Duration, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := s.FlushSeen(ctx); err != nil {
				s.log.Warn("flush last-seen times", "err", err)
			}
			cancel()
		}
	}
}
