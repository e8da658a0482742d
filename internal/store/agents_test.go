package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/protocol"
	"github.com/patchbay/patchbay/internal/store"
	"github.com/patchbay/patchbay/internal/store/storetest"
)

func facts(host, machine string) protocol.Facts {
	return protocol.Facts{Hostname: host, MachineID: machine, Kernel: "6.1.0-28-amd64", Arch: "x86_64",
		OSRelease: map[string]string{"ID": "debian", "VERSION_ID": "12", "VERSION_CODENAME": "bookworm"},
		BootTime:  time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC), TimeZone: "Europe/Berlin", AgentVersion: "test", ProtocolVersion: protocol.Version}
}

func inventory(pkgs ...string) protocol.Inventory {
	inv := protocol.Inventory{Packages: []protocol.Package{}, Updates: []protocol.Update{}}
	for _, p := range pkgs {
		name, ver, _ := strings.Cut(p, "=")
		inv.Packages = append(inv.Packages, protocol.Package{Ecosystem: "deb", Name: name, Version: ver, Arch: "amd64"})
	}
	inv.Hash = protocol.InventoryHash(inv)
	return inv
}

func enrollSecret(t *testing.T, s *store.Store, n store.NewEnrollSecret) string {
	t.Helper()
	if n.Name == "" {
		n.Name = "test"
	}
	_, secret, err := s.CreateEnrollSecret(context.Background(), "user:admin", n)
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

func TestEnrollment(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		two := 2
		secret := enrollSecret(t, s, store.NewEnrollSecret{MaxUses: &two, Labels: []string{"prod"}, Groups: []string{"web"}})
		e1, err := s.Enroll(ctx, protocol.EnrollRequest{EnrollSecret: secret, Facts: facts("web1", "aaaa")})
		if err != nil || e1.HostID == 0 || !strings.HasPrefix(e1.HostToken, protocol.HostTokenPrefix) {
			t.Fatalf("Enroll = %+v, %v", e1, err)
		}
		h, err := s.Host(ctx, e1.HostID)
		if err != nil || h.Hostname != "web1" || h.OSName != "debian" || h.OSFamily != "debian" || h.OSRelease != "12" ||
			strings.Join(h.Labels, ",") != "prod" || strings.Join(h.Groups, ",") != "web" {
			t.Fatalf("enrolled host = %+v, %v", h, err)
		}
		// Re-enrolling with the old token keeps the host and rotates the token.
		e2, err := s.Enroll(ctx, protocol.EnrollRequest{EnrollSecret: secret, HostToken: e1.HostToken, Facts: facts("web1", "aaaa")})
		if err != nil || e2.HostID != e1.HostID || !e2.Reenrolled || e2.HostToken == e1.HostToken {
			t.Fatalf("re-Enroll = %+v, %v; want the same host with a new token", e2, err)
		}
		if _, err := s.AuthenticateHost(ctx, e1.HostToken); patchbay.ErrorCodeOf(err) != patchbay.EUnauthorized {
			t.Fatalf("old token after re-enrollment: err = %v, want unauthorized", err)
		}
		// The secret is used up.
		if _, err := s.Enroll(ctx, protocol.EnrollRequest{EnrollSecret: secret, Facts: facts("web2", "bbbb")}); patchbay.ErrorCodeOf(err) != patchbay.EUnauthorized {
			t.Fatalf("third enrollment with a 2-use secret: err = %v, want unauthorized", err)
		}
		// A new secret and the same machine id without the token: a new host, flagged.
		other := enrollSecret(t, s, store.NewEnrollSecret{})
		e3, err := s.Enroll(ctx, protocol.EnrollRequest{EnrollSecret: other, Facts: facts("web1-clone", "aaaa")})
		if err != nil || e3.HostID == e1.HostID || e3.PossibleDuplicateOf != e1.HostID {
			t.Fatalf("Enroll with a known machine id = %+v, %v; want a new host flagged as duplicate of %d", e3, err, e1.HostID)
		}
		dups, _ := s.Hosts(ctx, patchbay.HostFilter{Duplicates: true, Limit: 10})
		if len(dups) != 1 || dups[0].ID != e3.HostID {
			t.Fatalf("duplicates = %+v", dups)
		}
		// Merge: the original host takes over the clone's token.
		merged, err := s.ResolveDuplicate(ctx, "user:admin", e3.HostID, false)
		if err != nil || merged.ID != e1.HostID {
			t.Fatalf("ResolveDuplicate(merge) = %+v, %v", merged, err)
		}
		hs, err := s.AuthenticateHost(ctx, e3.HostToken)
		if err != nil || hs.HostID != e1.HostID {
			t.Fatalf("clone's token after merge = %+v, %v; want it to act for host %d", hs, err, e1.HostID)
		}
		gone, _ := s.Host(ctx, e3.HostID)
		if gone.RetiredAt == nil || gone.MergedInto == nil || *gone.MergedInto != e1.HostID {
			t.Fatalf("merged duplicate = %+v, want retired and merged into %d", gone, e1.HostID)
		}
		// Retiring stops the token at once.
		if _, err := s.RetireHost(ctx, "user:admin", e1.HostID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AuthenticateHost(ctx, e3.HostToken); patchbay.ErrorCodeOf(err) != patchbay.EUnauthorized {
			t.Fatalf("token of a retired host: err = %v, want unauthorized", err)
		}
		if n, err := s.VerifyAudit(ctx); err != nil || n < 6 {
			t.Fatalf("audit after enrollments = %d, %v", n, err)
		}
	})
}

func TestEnrollSecretRules(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		zero := 0
		past := time.Now().Add(-time.Hour)
		for _, tc := range []struct {
			n     store.NewEnrollSecret
			field string
		}{
			{store.NewEnrollSecret{}, "name"},
			{store.NewEnrollSecret{Name: "x", MaxUses: &zero}, "max_uses"},
			{store.NewEnrollSecret{Name: "x", ExpiresAt: &past}, "expires_at"},
			{store.NewEnrollSecret{Name: "x", Labels: []string{"bad label"}}, "labels"},
		} {
			_, _, err := s.CreateEnrollSecret(ctx, "user:admin", tc.n)
			if patchbay.ErrorCodeOf(err) != patchbay.EUnprocessable || !strings.Contains(err.Error(), tc.field) {
				t.Errorf("CreateEnrollSecret(%+v) err = %v, want unprocessable naming %s", tc.n, err, tc.field)
			}
		}
		secret := enrollSecret(t, s, store.NewEnrollSecret{})
		list, _ := s.EnrollSecrets(ctx)
		if _, err := s.RevokeEnrollSecret(ctx, "user:admin", list[0].ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Enroll(ctx, protocol.EnrollRequest{EnrollSecret: secret, Facts: facts("h", "m")}); err == nil || !strings.Contains(err.Error(), "revoked") {
			t.Fatalf("Enroll with a revoked secret: err = %v", err)
		}
		garbage, _ := patchbay.NewSecret(protocol.EnrollSecretPrefix)
		if _, err := s.Enroll(ctx, protocol.EnrollRequest{EnrollSecret: garbage, Facts: facts("h", "m")}); patchbay.ErrorCodeOf(err) != patchbay.EUnauthorized {
			t.Fatalf("Enroll with an unknown secret: err = %v", err)
		}
		hosts, _ := s.Hosts(ctx, patchbay.HostFilter{Limit: 10})
		if len(hosts) != 0 {
			t.Fatalf("refused enrollments created hosts: %+v", hosts)
		}
	})
}

func TestCheckInAndInventory(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		secret := enrollSecret(t, s, store.NewEnrollSecret{})
		var tokens []string
		// session re-authenticates host i, as each request does.
		session := func(i int) *store.HostSession {
			t.Helper()
			hs, err := s.AuthenticateHost(ctx, tokens[i])
			if err != nil {
				t.Fatal(err)
			}
			return hs
		}
		for i := range 3 {
			e, err := s.Enroll(ctx, protocol.EnrollRequest{EnrollSecret: secret, Facts: facts(fmt.Sprintf("h%d", i), fmt.Sprintf("m%d", i))})
			if err != nil {
				t.Fatal(err)
			}
			tokens = append(tokens, e.HostToken)
		}
		inv := inventory("openssl=3.0.15-1~deb12u1", "bash=5.2.15-2+b7", "curl=7.88.1-10+deb12u8")
		inv.Packages[0].SourceName = "openssl"
		inv.Packages[0].SourceVersion = ""
		inv.Hash = protocol.InventoryHash(inv)

		need, err := s.CheckIn(ctx, session(0), facts("h0", "m0"), inv.Hash)
		if err != nil || !need {
			t.Fatalf("first CheckIn = %v, %v; want the inventory asked for", need, err)
		}
		bad := inv
		bad.Hash = strings.Repeat("0", 64)
		if err := s.PutInventory(ctx, session(0), bad); patchbay.ErrorCodeOf(err) != patchbay.EUnprocessable {
			t.Fatalf("PutInventory with a wrong hash: err = %v", err)
		}
		if err := s.PutInventory(ctx, session(0), inv); err != nil {
			t.Fatalf("PutInventory: %v", err)
		}
		if need, err := s.CheckIn(ctx, session(0), facts("h0", "m0"), inv.Hash); err != nil || need {
			t.Fatalf("CheckIn after upload = %v, %v; want nothing asked", need, err)
		}
		// A second host with the very same inventory is attached without an upload.
		if need, err := s.CheckIn(ctx, session(1), facts("h1", "m1"), inv.Hash); err != nil || need {
			t.Fatalf("CheckIn of a host with a known inventory = %v, %v; want no upload", need, err)
		}
		pkgs, _, err := s.HostPackages(ctx, session(1).HostID)
		if err != nil || len(pkgs) != 3 || pkgs[0].Name != "bash" {
			t.Fatalf("HostPackages of the attached host = %+v, %v", pkgs, err)
		}
		// A third host with one package different shares the other rows.
		inv3 := inventory("openssl=3.0.15-1~deb12u1", "bash=5.2.15-2+b7", "curl=7.88.1-10+deb12u9")
		inv3.Packages[0].SourceName = "openssl"
		inv3.Hash = protocol.InventoryHash(inv3)
		if err := s.PutInventory(ctx, session(2), inv3); err != nil {
			t.Fatal(err)
		}
		which, err := s.WhichHosts(ctx, "curl", 100)
		if err != nil || len(which) != 3 || which[2].Package.Version != "7.88.1-10+deb12u9" {
			t.Fatalf("WhichHosts(curl) = %+v, %v", which, err)
		}
		if which, _ := s.WhichHosts(ctx, "openssl", 100); len(which) != 3 {
			t.Fatalf("WhichHosts(openssl) = %+v", which)
		}
		if which, _ := s.WhichHosts(ctx, "nothing", 100); len(which) != 0 {
			t.Fatalf("WhichHosts(nothing) = %+v", which)
		}
		h, _ := s.Host(ctx, session(2).HostID)
		if h.Inventory == nil || h.Inventory.Packages != 3 || h.Inventory.Hash != inv3.Hash {
			t.Fatalf("host inventory summary = %+v", h.Inventory)
		}
		// A failed source keeps the previous packages of that source.
		broken := protocol.Inventory{Packages: []protocol.Package{}, Updates: []protocol.Update{},
			Errors: []protocol.SourceError{{Source: "dpkg", Message: "read dpkg status: line 7: truncated"}}}
		broken.Hash = protocol.InventoryHash(broken)
		if err := s.PutInventory(ctx, session(2), broken); err != nil {
			t.Fatal(err)
		}
		pkgs, _, _ = s.HostPackages(ctx, session(2).HostID)
		h, _ = s.Host(ctx, session(2).HostID)
		if len(pkgs) != 3 || h.Inventory == nil || !strings.Contains(string(h.Inventory.Errors), "truncated") {
			t.Fatalf("after a failed dpkg read: %d packages, inventory %+v; want the 3 kept and the error shown", len(pkgs), h.Inventory)
		}
		if need, _ := s.CheckIn(ctx, session(2), facts("h2", "m2"), broken.Hash); need {
			t.Fatal("the same failing inventory is asked for again at every check-in")
		}
		if _, _, err := s.HostPackages(ctx, 99999); patchbay.ErrorCodeOf(err) != patchbay.ENotFound {
			t.Fatalf("HostPackages of a missing host: err = %v, want not found", err)
		}
		// Bad packages are refused whole.
		evil := inventory("bash=5.2 ; rm -rf /")
		if err := s.PutInventory(ctx, session(0), evil); patchbay.ErrorCodeOf(err) != patchbay.EUnprocessable {
			t.Fatalf("PutInventory with a space in a version: err = %v", err)
		}
	})
}

// TestLastSeenBatched checks that an unchanged check-in writes nothing at
// once and that the batched last-seen time lands at the next flush.
func TestLastSeenBatched(t *testing.T) {
	for _, eng := range storetest.Engines() {
		t.Run(string(eng), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
			var clock = func() time.Time { return now }
			s, err := store.Open(ctx, storetest.Location(t, eng), store.Options{Now: func() time.Time { return clock() }, SeenFlushInterval: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			secret := enrollSecret(t, s, store.NewEnrollSecret{})
			e, err := s.Enroll(ctx, protocol.EnrollRequest{EnrollSecret: secret, Facts: facts("h", "m")})
			if err != nil {
				t.Fatal(err)
			}
			inv := inventory("bash=5.2.15-2+b7")
			hs, _ := s.AuthenticateHost(ctx, e.HostToken)
			if err := s.PutInventory(ctx, hs, inv); err != nil {
				t.Fatal(err)
			}
			if err := s.FlushSeen(ctx); err != nil {
				t.Fatal(err)
			}
			later := now.Add(5 * time.Minute)
			clock = func() time.Time { return later }
			hs, _ = s.AuthenticateHost(ctx, e.HostToken)
			if need, err := s.CheckIn(ctx, hs, facts("h", "m"), inv.Hash); err != nil || need {
				t.Fatalf("CheckIn = %v, %v", need, err)
			}
			if h, _ := s.Host(ctx, e.HostID); !h.LastSeenAt.Equal(now) {
				t.Fatalf("last seen %v before the flush, want still %v", h.LastSeenAt, now)
			}
			if err := s.FlushSeen(ctx); err != nil {
				t.Fatal(err)
			}
			if h, _ := s.Host(ctx, e.HostID); !h.LastSeenAt.Equal(later) {
				t.Fatalf("last seen %v after the flush, want %v", h.LastSeenAt, later)
			}
			stale, _ := s.Hosts(ctx, patchbay.HostFilter{SeenBefore: later.Add(-time.Minute), Limit: 10})
			online, _ := s.Hosts(ctx, patchbay.HostFilter{SeenSince: later.Add(-time.Minute), Limit: 10})
			if len(stale) != 0 || len(online) != 1 {
				t.Fatalf("stale %d, online %d; want 0 and 1", len(stale), len(online))
			}
		})
	}
}

// TestUpdateHostConcurrentFields edits a host's owner and its labels from
// two goroutines at once: each field ends with its own writer's last value,
// neither edit undoing the other.
func TestUpdateHostConcurrentFields(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		h, err := s.CreateHost(ctx, "system", patchbay.Host{Hostname: "web1"})
		if err != nil {
			t.Fatal(err)
		}
		const n = 25
		errs := make(chan error, 2)
		go func() {
			for i := range n {
				owner := fmt.Sprintf("team-%d", i)
				if _, err := s.UpdateHost(ctx, "user:a", h.ID, store.HostUpdate{Owner: &owner}); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
		go func() {
			for i := range n {
				labels := []string{fmt.Sprintf("wave-%d", i)}
				if _, err := s.UpdateHost(ctx, "user:b", h.ID, store.HostUpdate{Labels: &labels}); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
		for range 2 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.Host(ctx, h.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Owner != fmt.Sprintf("team-%d", n-1) || strings.Join(got.Labels, ",") != fmt.Sprintf("wave-%d", n-1) {
			t.Fatalf("owner %q, labels %v: one writer's edit undid the other's", got.Owner, got.Labels)
		}
		if _, err := s.UpdateHost(ctx, "user:a", 9999, store.HostUpdate{Owner: &got.Owner}); patchbay.ErrorCodeOf(err) != patchbay.ENotFound {
			t.Fatalf("UpdateHost of a missing host: err = %v", err)
		}
	})
}
