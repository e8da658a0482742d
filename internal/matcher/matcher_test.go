package matcher_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/feed"
	"github.com/patchbay/patchbay/internal/matcher"
	"github.com/patchbay/patchbay/internal/osv"
	"github.com/patchbay/patchbay/internal/protocol"
	"github.com/patchbay/patchbay/internal/store"
	"github.com/patchbay/patchbay/internal/store/storetest"
)

// fleet enrolls hosts and uploads their inventories.
type fleet struct {
	t      *testing.T
	s      *store.Store
	secret string
	tokens map[string]string
	ids    map[string]int64
}

func newFleet(t *testing.T, s *store.Store) *fleet {
	_, secret, err := s.CreateEnrollSecret(context.Background(), "user:admin", store.NewEnrollSecret{Name: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return &fleet{t: t, s: s, secret: secret, tokens: map[string]string{}, ids: map[string]int64{}}
}

// host enrolls (once) and uploads pkgs ("name=version" or
// "name=version/source=srcversion") for a host on os "debian 12".
func (f *fleet) host(name, os, kernel string, pkgs ...string) int64 {
	f.t.Helper()
	ctx := context.Background()
	id, release, _ := strings.Cut(os, " ")
	facts := protocol.Facts{Hostname: name, MachineID: "m-" + name, Kernel: kernel, Arch: "x86_64",
		OSRelease: map[string]string{"ID": id, "VERSION_ID": release}, AgentVersion: "test", ProtocolVersion: protocol.Version}
	if _, ok := f.tokens[name]; !ok {
		e, err := f.s.Enroll(ctx, protocol.EnrollRequest{EnrollSecret: f.secret, Facts: facts})
		if err != nil {
			f.t.Fatal(err)
		}
		f.tokens[name], f.ids[name] = e.HostToken, e.HostID
	}
	hs, err := f.s.AuthenticateHost(ctx, f.tokens[name])
	if err != nil {
		f.t.Fatal(err)
	}
	inv := protocol.Inventory{Packages: []protocol.Package{}, Updates: []protocol.Update{}}
	for _, p := range pkgs {
		bin, src, _ := strings.Cut(p, "/")
		n, v, _ := strings.Cut(bin, "=")
		pkg := protocol.Package{Ecosystem: "deb", Name: n, Version: v, Arch: "amd64"}
		if src != "" {
			pkg.SourceName, pkg.SourceVersion, _ = strings.Cut(src, "=")
		}
		inv.Packages = append(inv.Packages, pkg)
	}
	inv.Hash = protocol.InventoryHash(inv)
	if _, err := f.s.CheckIn(ctx, hs, facts, inv.Hash); err != nil {
		f.t.Fatal(err)
	}
	if err := f.s.PutInventory(ctx, hs, inv); err != nil {
		f.t.Fatal(err)
	}
	return f.ids[name]
}

func record(t *testing.T, js string) *osv.Record {
	t.Helper()
	r, err := osv.Parse([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func deb(id, modified, eco, name, events string, extra ...string) string {
	more := ""
	if len(extra) > 0 {
		more = "," + strings.Join(extra, ",")
	}
	return `{"id":"` + id + `","modified":"` + modified + `","upstream":["CVE-` + strings.TrimPrefix(id, "DSA-") + `"]` + more +
		`,"affected":[{"package":{"ecosystem":"` + eco + `","name":"` + name + `"},"ranges":[{"type":"ECOSYSTEM","events":[` + events + `]}]}]}`
}

func importRecs(t *testing.T, s *store.Store, recs ...*osv.Record) store.ImportSummary {
	t.Helper()
	sum, err := s.ImportAdvisories(context.Background(), "user:admin", store.AdvisoryImport{Source: "test", Kind: "osv", Records: recs})
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

// open lists the open findings as "host package advisory", sorted.
func open(t *testing.T, s *store.Store, f *fleet) []string {
	t.Helper()
	var out []string
	for _, id := range f.ids {
		fs, err := s.Findings(context.Background(), patchbay.FindingFilter{HostID: id})
		if err != nil {
			t.Fatal(err)
		}
		for _, fd := range fs {
			out = append(out, fmt.Sprintf("%s %s %s", fd.Hostname, fd.Package.Name, fd.Advisory))
		}
	}
	slices.Sort(out)
	return out
}

func sync(t *testing.T, m *matcher.Matcher) matcher.Stats {
	t.Helper()
	st, err := m.Sync(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestMatcherLifecycle(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := newFleet(t, s)
		const k13, k17 = "6.1.0-13-amd64", "6.1.0-17-amd64"
		base := []string{"libssl3=3.0.11-1~deb12u1/openssl=3.0.11-1~deb12u1", "bash=5.2.15-2+b8/bash=5.2.15-2",
			"linux-image-6.1.0-13-amd64=6.1.55-1/linux=6.1.55-1", "linux-image-6.1.0-17-amd64=6.1.69-1/linux=6.1.69-1"}
		web1 := f.host("web1", "debian 12", k13, base...)
		f.host("web2", "debian 12", k17, base...)
		f.host("old1", "debian 11", "5.10.0-26-amd64", "libssl1.1=1.1.1w-0+deb11u1/openssl=1.1.1w-0+deb11u1")

		importRecs(t, s,
			record(t, deb("DSA-2023-0001", "2024-01-01T00:00:00Z", "Debian:12", "openssl", `{"introduced":"0"},{"fixed":"3.0.13-1~deb12u1"}`)),
			record(t, deb("DSA-2023-0002", "2024-01-01T00:00:00Z", "Debian:11", "openssl", `{"introduced":"0"},{"fixed":"1.1.1w-0+deb11u2"}`)),
			record(t, deb("DSA-2023-0003", "2024-01-01T00:00:00Z", "Debian:12", "linux", `{"introduced":"0"},{"fixed":"6.1.66-1"}`)),
			record(t, deb("DSA-2023-0004", "2024-01-01T00:00:00Z", "Debian", "bash", `{"introduced":"0"},{"fixed":"5.2.15-2+b1"}`)),
		)
		m := matcher.New(s, matcher.Options{Holder: "test"})
		st := sync(t, m)
		want := []string{
			"old1 libssl1.1 DSA-2023-0002",
			"web1 bash DSA-2023-0004", "web1 libssl3 DSA-2023-0001", "web1 linux-image-6.1.0-13-amd64 DSA-2023-0003",
			"web2 bash DSA-2023-0004", "web2 libssl3 DSA-2023-0001",
		}
		if got := open(t, s, f); !slices.Equal(got, want) {
			t.Fatalf("findings after the first sync:\n got %q\nwant %q", got, want)
		}
		// web1 and web2 share an inventory but not their kernel: the keys
		// are evaluated once each, not once per host.
		if st.Hosts != 3 || st.KeysEvaluated != 5 {
			t.Errorf("first sync: %+v; want 3 hosts and 5 distinct keys evaluated", st)
		}
		if st := sync(t, m); st.Hosts != 0 || st.Opened != 0 {
			t.Errorf("a second sync with nothing new did %+v", st)
		}

		// Explanations and enrichment.
		fs, _ := s.Findings(ctx, patchbay.FindingFilter{HostID: web1, Limit: 10})
		var ssl patchbay.Finding
		for _, fd := range fs {
			if fd.Advisory == "DSA-2023-0001" {
				ssl = fd
			}
		}
		if ssl.Matched != "Debian:12 openssl 3.0.11-1~deb12u1" || !slices.Equal(ssl.Fixed, []string{"3.0.13-1~deb12u1"}) ||
			len(ssl.Why) != 1 || !strings.Contains(ssl.Why[0], "introduced 0 <= 3.0.11-1~deb12u1 < fixed 3.0.13-1~deb12u1") || ssl.KEV {
			t.Errorf("finding = %+v", ssl)
		}
		due := time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)
		if _, err := s.ImportAdvisories(ctx, "user:admin", store.AdvisoryImport{Source: "kev", Kind: "kev", KEV: &feed.KEVCatalog{Version: "t",
			Entries: []feed.KEVEntry{{CVE: "CVE-2023-0001", VendorProject: "OpenSSL", Product: "OpenSSL", DateAdded: due.AddDate(0, 0, -21), DueDate: due}}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ImportAdvisories(ctx, "user:admin", store.AdvisoryImport{Source: "epss", Kind: "epss", EPSS: &feed.EPSSScores{ScoreDate: due,
			Scores: map[string]feed.EPSSScore{"CVE-2023-0001": {EPSS: 0.93, Percentile: 0.99}}}}); err != nil {
			t.Fatal(err)
		}
		d, err := s.Advisory(ctx, "CVE-2023-0001")
		if err != nil || len(d) != 1 || d[0].ID != "DSA-2023-0001" || !d[0].KEV || d[0].KEVDue == nil || !d[0].KEVDue.Equal(due) ||
			d[0].EPSS == nil || *d[0].EPSS != 0.93 || d[0].HostsAffected != 2 || !d[0].FixAvailable || !slices.Equal(d[0].CVEs, []string{"CVE-2023-0001"}) {
			t.Fatalf("Advisory(CVE-2023-0001) = %+v, %v", d, err)
		}
		if hosts, _ := s.HostsAffectedBy(ctx, "CVE-2023-0001"); len(hosts) != 2 {
			t.Errorf("HostsAffectedBy = %v", hosts)
		}

		// web1 upgrades openssl and boots the fixed kernel: both fixed.
		up := []string{"libssl3=3.0.13-1~deb12u1/openssl=3.0.13-1~deb12u1", base[1], base[2], base[3]}
		f.host("web1", "debian 12", k17, up...)
		st = sync(t, m)
		if st.Hosts != 1 || st.Closed != 2 {
			t.Errorf("after web1's upgrade: %+v; want 1 host, 2 fixed", st)
		}
		fixed, _ := s.Findings(ctx, patchbay.FindingFilter{HostID: web1, Status: []patchbay.FindingStatus{patchbay.FindingFixed}, Limit: 10})
		if len(fixed) != 2 || fixed[0].FixedAt == nil {
			t.Fatalf("fixed findings of web1 = %+v", fixed)
		}
		if h, _ := s.FindingHistory(ctx, web1); len(h) != 2 || h[0].Status != patchbay.FindingFixed {
			t.Errorf("history = %+v", h)
		}

		// A new advisory is evaluated only for the packages it names.
		importRecs(t, s, record(t, deb("DSA-2023-0005", "2024-01-01T00:00:00Z", "Debian:12", "bash", `{"introduced":"0"}`)))
		st = sync(t, m)
		if st.KeysEvaluated != 1 || st.Hosts != 0 || st.Opened != 2 {
			t.Errorf("new bash advisory: %+v; want 1 key evaluated, no host evaluated whole, 2 opened", st)
		}
		// Re-importing the same records changes nothing; an older copy
		// never replaces a newer one.
		if sum := importRecs(t, s, record(t, deb("DSA-2023-0005", "2023-06-01T00:00:00Z", "Debian:12", "bash", `{"introduced":"0"}`))); sum.Older != 1 || sum.Seq != 0 {
			t.Errorf("importing an older copy: %+v", sum)
		}
		// Withdrawing it withdraws its findings.
		importRecs(t, s, record(t, deb("DSA-2023-0005", "2024-03-01T00:00:00Z", "Debian:12", "bash", `{"introduced":"0"}`, `"withdrawn":"2024-03-01T00:00:00Z"`)))
		st = sync(t, m)
		if st.Closed != 2 {
			t.Errorf("withdrawn advisory: %+v; want 2 withdrawn", st)
		}
		wd, _ := s.Findings(ctx, patchbay.FindingFilter{Advisory: "DSA-2023-0005", Status: []patchbay.FindingStatus{patchbay.FindingWithdrawn}})
		if len(wd) != 2 || wd[0].Status != patchbay.FindingWithdrawn {
			t.Errorf("withdrawn findings: %+v", wd)
		}
		// The fix moves past what web1 upgraded to: its fixed finding
		// reopens, and web2's open one gets the new fixed version.
		importRecs(t, s, record(t, deb("DSA-2023-0001", "2024-04-01T00:00:00Z", "Debian:12", "openssl", `{"introduced":"0"},{"fixed":"3.0.14-1~deb12u1"}`)))
		st = sync(t, m)
		if st.Opened != 1 || st.Closed != 0 {
			t.Errorf("moved fix: %+v; want web1's finding reopened", st)
		}
		d, _ = s.Advisory(ctx, "DSA-2023-0001")
		for _, fd := range d[0].Findings {
			if !slices.Equal(fd.Fixed, []string{"3.0.14-1~deb12u1"}) {
				t.Errorf("after the fix moved, %s's finding says fixed in %v", fd.Hostname, fd.Fixed)
			}
		}
		if len(d[0].Findings) != 2 || d[0].HostsAffected != 2 {
			t.Errorf("after the fix moved: %d findings on %d hosts, want 2 on 2", len(d[0].Findings), d[0].HostsAffected)
		}

		// A fresh matcher (a restarted server) finds nothing to do.
		if st := sync(t, matcher.New(s, matcher.Options{Holder: "test2"})); st.Hosts != 0 {
			t.Errorf("a restarted matcher redid %+v", st)
		}

		// A retired host's findings go with it, without events.
		old1 := f.ids["old1"]
		events, _ := s.FindingHistory(ctx, old1)
		if _, err := s.RetireHost(ctx, "user:admin", old1); err != nil {
			t.Fatal(err)
		}
		if st := sync(t, m); st.Hosts != 1 || st.Closed != 0 {
			t.Errorf("after retiring old1: %+v; want it evaluated, nothing closed", st)
		}
		if hosts, _ := s.HostsAffectedBy(ctx, "CVE-2023-0002"); len(hosts) != 0 {
			t.Errorf("hosts affected by CVE-2023-0002 after its only host retired: %v", hosts)
		}
		if d, _ := s.Advisory(ctx, "DSA-2023-0002"); d[0].HostsAffected != 0 || len(d[0].Findings) != 0 {
			t.Errorf("DSA-2023-0002 after its host retired: %d hosts, %d findings", d[0].HostsAffected, len(d[0].Findings))
		}
		if after, _ := s.FindingHistory(ctx, old1); len(after) != len(events) {
			t.Errorf("retiring made events: %+v", after[len(events):])
		}
	})
}

func TestLease(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		if ok, err := s.TakeLease(ctx, "matcher", "a", time.Minute); !ok || err != nil {
			t.Fatalf("a: %v %v", ok, err)
		}
		if ok, _ := s.TakeLease(ctx, "matcher", "b", time.Minute); ok {
			t.Fatal("b took a lease a holds")
		}
		if ok, _ := s.TakeLease(ctx, "matcher", "a", time.Minute); !ok {
			t.Fatal("a could not renew")
		}
		if ok, _ := s.TakeLease(ctx, "matcher", "b", -time.Minute); ok {
			t.Fatal("b took it early")
		}
		// An expired lease goes to whoever asks.
		if ok, _ := s.TakeLease(ctx, "other", "a", -time.Second); !ok {
			t.Fatal("a: other")
		}
		if ok, _ := s.TakeLease(ctx, "other", "b", time.Minute); !ok {
			t.Fatal("b could not take an expired lease")
		}
	})
}

// The same id twice in one import: the newest copy wins, whatever was
// stored before, and nothing panics.
func TestImportDuplicateIDs(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		r1 := record(t, deb("DSA-2023-0001", "2024-01-01T00:00:00Z", "Debian:12", "foo", `{"introduced":"0"}`))
		importRecs(t, s, r1)
		r2 := record(t, deb("DSA-2023-0001", "2024-02-01T00:00:00Z", "Debian:12", "foo", `{"introduced":"0"},{"fixed":"2"}`))
		sum := importRecs(t, s, r1, r2)
		if sum.Replaced != 1 || sum.Older != 1 || sum.Added != 0 {
			t.Fatalf("import of a stored copy and a newer one: %+v", sum)
		}
		sum = importRecs(t, s, record(t, deb("DSA-2023-0009", "2024-01-01T00:00:00Z", "Debian:12", "foo", `{"introduced":"0"}`)),
			record(t, deb("DSA-2023-0009", "2024-01-02T00:00:00Z", "Debian:12", "foo", `{"introduced":"0"}`)))
		if sum.Added != 1 || sum.Older != 1 {
			t.Fatalf("two copies of a new id: %+v", sum)
		}
		d, err := s.Advisory(context.Background(), "DSA-2023-0001")
		if err != nil || !d[0].Modified.Equal(r2.Modified) {
			t.Fatalf("stored %+v, %v; want the newer copy", d, err)
		}
	})
}

// Regressions found in review: each once left advisory_hosts and the
// derived findings disagreeing.
func TestMatcherReviewCases(t *testing.T) {
	// agree checks that an advisory's hosts, from its row, are the hosts
	// whose derived findings include it.
	agree := func(t *testing.T, s *store.Store, f *fleet, adv string) {
		t.Helper()
		ctx := context.Background()
		byRow, _ := s.HostsAffectedBy(ctx, adv)
		var byHost []int64
		for _, id := range f.ids {
			fs, _ := s.Findings(ctx, patchbay.FindingFilter{HostID: id})
			for _, fd := range fs {
				if fd.Advisory == adv {
					byHost = append(byHost, id)
					break
				}
			}
		}
		slices.Sort(byHost)
		if !slices.Equal(byRow, byHost) && !(len(byRow) == 0 && len(byHost) == 0) {
			t.Errorf("%s: hosts by its row %v, by the hosts' findings %v", adv, byRow, byHost)
		}
	}
	t.Run("a replaced record no longer names a package", func(t *testing.T) {
		storetest.Each(t, func(t *testing.T, s *store.Store) {
			f := newFleet(t, s)
			f.host("h1", "debian 12", "", "libfoo1=1.0-1/foo=1.0-1")
			importRecs(t, s, record(t, deb("DSA-2023-0001", "2024-01-01T00:00:00Z", "Debian:12", "foo", `{"introduced":"0"}`)))
			m := matcher.New(s, matcher.Options{Holder: "t"})
			sync(t, m)
			importRecs(t, s, record(t, deb("DSA-2023-0001", "2024-02-01T00:00:00Z", "Debian:12", "bar", `{"introduced":"0"}`)))
			sync(t, m)
			f.host("h2", "debian 12", "", "libfoo1=1.0-1/foo=1.0-1")
			sync(t, m)
			agree(t, s, f, "DSA-2023-0001")
			if hosts, _ := s.HostsAffectedBy(context.Background(), "DSA-2023-0001"); len(hosts) != 0 {
				t.Errorf("hosts affected by a record that no longer names their package: %v", hosts)
			}
		})
	})
	t.Run("fix available follows the pairs", func(t *testing.T) {
		storetest.Each(t, func(t *testing.T, s *store.Store) {
			ctx := context.Background()
			f := newFleet(t, s)
			f.host("new", "debian 12", "", "libssl3=3.0.11-1/openssl=3.0.11-1")
			f.host("old", "debian 11", "", "libssl1.1=1.1.1w-0/openssl=1.1.1w-0")
			importRecs(t, s, record(t, `{"id":"DSA-2023-0001","modified":"2024-01-01T00:00:00Z","affected":[`+
				`{"package":{"ecosystem":"Debian:12","name":"openssl"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"3.0.13-1"}]}]},`+
				`{"package":{"ecosystem":"Debian:11","name":"openssl"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}]}]}`))
			m := matcher.New(s, matcher.Options{Holder: "t"})
			sync(t, m)
			f.host("new", "debian 12", "", "libssl3=3.0.13-1/openssl=3.0.13-1")
			sync(t, m)
			l, _ := s.Advisories(ctx, patchbay.AdvisoryFilter{Limit: 10})
			if len(l) != 1 || l[0].FixAvailable || l[0].HostsAffected != 1 {
				t.Errorf("after the host with a fix upgraded: %+v; want 1 host, no fix known", l)
			}
		})
	})
	t.Run("an advisory that first hit nothing", func(t *testing.T) {
		storetest.Each(t, func(t *testing.T, s *store.Store) {
			ctx := context.Background()
			f := newFleet(t, s)
			h := f.host("h", "debian 12", "", "bash=5.2-1/bash=5.2-1")
			importRecs(t, s, record(t, deb("DSA-2023-0001", "2024-01-01T00:00:00Z", "Debian:12", "foo", `{"introduced":"0"}`)))
			m := matcher.New(s, matcher.Options{Holder: "t"})
			sync(t, m)
			f.host("h", "debian 12", "", "bash=5.2-1/bash=5.2-1", "libfoo1=1.0-1/foo=1.0-1")
			sync(t, m)
			f.host("h", "debian 12", "", "bash=5.2-1/bash=5.2-1")
			sync(t, m)
			ev, _ := s.FindingHistory(ctx, h)
			var got []string
			for _, e := range ev {
				got = append(got, string(e.Status))
			}
			if !slices.Equal(got, []string{"open", "fixed"}) {
				t.Errorf("history %v, want [open fixed]", got)
			}
		})
	})
	t.Run("a pass that fails to commit", func(t *testing.T) {
		for _, eng := range storetest.Engines() {
			t.Run(string(eng), func(t *testing.T) {
				ctx := context.Background()
				var cancel context.CancelFunc
				s, err := store.Open(ctx, storetest.Location(t, eng), store.Options{FailPoint: func(n string) {
					if n == "findings-commit" && cancel != nil {
						cancel()
					}
				}})
				if err != nil {
					t.Skip(err)
				}
				defer s.Close()
				f := newFleet(t, s)
				f.host("h1", "debian 12", "", "libfoo1=1.0-1/foo=1.0-1")
				importRecs(t, s, record(t, deb("DSA-2023-0001", "2024-01-01T00:00:00Z", "Debian:12", "foo", `{"introduced":"0"}`)))
				m := matcher.New(s, matcher.Options{Holder: "t"})
				sync(t, m)
				f.host("h2", "debian 12", "", "libfoo1=1.1-1/foo=1.1-1")
				cctx, c := context.WithCancel(ctx)
				cancel = c
				if _, err := m.Sync(cctx); err == nil {
					t.Fatal("a pass whose commit was cancelled reported no error")
				}
				cancel = nil
				sync(t, m)
				agree(t, s, f, "DSA-2023-0001")
				if hosts, _ := s.HostsAffectedBy(ctx, "DSA-2023-0001"); len(hosts) != 2 {
					t.Errorf("hosts affected: %v, want both", hosts)
				}
			})
		}
	})
}

// A pass run under the lease commits only while its server holds it.
func TestPassFencedByLease(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := newFleet(t, s)
		f.host("h1", "debian 12", "", "libfoo1=1.0-1/foo=1.0-1")
		importRecs(t, s, record(t, deb("DSA-2023-0001", "2024-01-01T00:00:00Z", "Debian:12", "foo", `{"introduced":"0"}`)))
		if ok, _ := s.TakeLease(ctx, "matcher", "other", time.Minute); !ok {
			t.Fatal("could not take the lease")
		}
		err := s.ApplyMatch(ctx, store.MatchUpdate{Seq: 1, Lease: "matcher", Holder: "me"})
		if !errors.Is(err, store.ErrLeaseLost) {
			t.Fatalf("a pass without the lease: %v, want ErrLeaseLost", err)
		}
		if seq, _ := s.MatcherSeq(ctx); seq != 0 {
			t.Fatalf("the refused pass moved the matcher to seq %d", seq)
		}
		if err := s.ApplyMatch(ctx, store.MatchUpdate{Seq: 1, Lease: "matcher", Holder: "other"}); err != nil {
			t.Fatalf("the holder's pass: %v", err)
		}
		sync(t, matcher.New(s, matcher.Options{Holder: "t"}))
		if hosts, _ := s.HostsAffectedBy(ctx, "cve-2023-0001"); len(hosts) != 1 {
			t.Fatalf("HostsAffectedBy of a lower-case CVE id: %v, want the one host", hosts)
		}
	})
}
