package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/apiv1"
	"github.com/patchbay/patchbay/internal/client"
)

const trackerDir = "../../internal/feed/testdata/debian-security-tracker-2023-04"

// waitFindings waits until the matcher has findings for the fleet.
func waitFindings(t *testing.T, c *client.Client) []patchbay.Advisory {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		l, err := c.Vulns(context.Background(), client.VulnQuery{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Items) > 0 {
			return l.Items
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("no findings within 30 s")
	return nil
}

// TestFeedsVulnsFindings imports the real Debian tracker lists, KEV and an
// EPSS file into a server with a simulated fleet, checks what vulns,
// findings and packages where answer, and carries the feeds to a second,
// "air-gapped" server with feeds export and import.
func TestFeedsVulnsFindings(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, filepath.Join(dir, "data"), nil, "--match-interval", "200ms")
	env := map[string]string{"HOME": dir, "PATCHBAY_SERVER": ts.url, "PATCHBAY_TOKEN": ts.token}
	if out, _, err := runCLI(t, env, "sim", "--hosts", "30", "--seed", "3", "--interval", "0", "--ramp", "0", "--checkins", "1", "--report", "0"); err != nil {
		t.Fatalf("sim: %v\n%s", err, out)
	}

	out, _, err := runCLI(t, env, "feeds", "import", trackerDir+"/DSA/list", trackerDir+"/DLA/list",
		"../../internal/feed/testdata/kev/known_exploited_vulnerabilities.json", "../../internal/feed/testdata/epss/epss_scores-2025-08-25.csv.gz")
	if err != nil {
		t.Fatalf("feeds import: %v\n%s", err, out)
	}
	if !strings.Contains(out, "list (debian-tracker): ") || !strings.Contains(out, "known_exploited_vulnerabilities.json (kev)") {
		t.Fatalf("feeds import said %q", out)
	}
	// Idempotent: the same lists again change nothing.
	out, _, err = runCLI(t, env, "feeds", "import", "-o", "json", trackerDir+"/DSA/list")
	var again []apiv1.FeedImportResult
	if err != nil || json.Unmarshal([]byte(out), &again) != nil || len(again) != 1 || again[0].Added != 0 || again[0].Replaced != 0 ||
		again[0].Unchanged != again[0].Records || again[0].Records < 5000 {
		t.Fatalf("importing DSA/list again: %v %s", err, out)
	}

	c, _ := client.New(client.Options{Server: ts.url, Token: ts.token})
	advs := waitFindings(t, c)
	time.Sleep(500 * time.Millisecond) // let the matcher finish every host
	advs = waitFindings(t, c)
	if v := metric(t, ts.url, `patchbay_matcher_total{what="opened"}`); v == "" || v == "0" {
		t.Errorf("the matcher's opened findings metric is %q", v)
	}
	a := advs[0]
	if a.HostsAffected == 0 || a.Severity == "" || len(a.CVEs) == 0 {
		t.Fatalf("first advisory: %+v", a)
	}
	// vulns show by CVE finds the advisory and lists each affected host.
	out, _, err = runCLI(t, env, "vulns", "show", a.CVEs[0], "-o", "json")
	var ds []apiv1.AdvisoryDetail
	if err != nil || json.Unmarshal([]byte(out), &ds) != nil || len(ds) == 0 {
		t.Fatalf("vulns show %s: %v %s", a.CVEs[0], err, out)
	}
	var d apiv1.AdvisoryDetail
	for _, x := range ds {
		if x.ID == a.ID {
			d = x
		}
	}
	if len(d.Findings) == 0 || d.HostsAffected != a.HostsAffected {
		t.Fatalf("vulns show %s: %d findings on %d hosts; vulns ls said %d hosts", a.CVEs[0], len(d.Findings), d.HostsAffected, a.HostsAffected)
	}
	fd := d.Findings[0]
	if fd.Package.Version == "" || len(fd.Why) == 0 || !strings.HasPrefix(fd.Matched, "Debian:") {
		t.Fatalf("finding lacks its explanation: %+v", fd)
	}
	out, _, err = runCLI(t, env, "vulns", "show", a.ID)
	if err != nil || !strings.Contains(out, fd.Hostname) || !strings.Contains(out, "introduced") {
		t.Fatalf("vulns show %s (table): %v\n%s", a.ID, err, out)
	}
	// findings ls --host lists that host's findings, this one among them.
	out, _, err = runCLI(t, env, "findings", "ls", "--host", itoa(fd.HostID), "-o", "json")
	var fs []patchbay.Finding
	if err != nil || json.Unmarshal([]byte(out), &fs) != nil {
		t.Fatalf("findings ls: %v %s", err, out)
	}
	found := false
	for _, f := range fs {
		found = found || (f.Advisory == fd.Advisory && f.Package == fd.Package)
		if f.HostID != fd.HostID || f.Status != patchbay.FindingOpen {
			t.Fatalf("findings ls --host %d listed %+v", fd.HostID, f)
		}
	}
	if !found {
		t.Fatalf("findings ls --host %d misses %s on %s", fd.HostID, fd.Advisory, fd.Package.Name)
	}
	// packages where --version-lt the fixed version finds the host.
	if len(fd.Fixed) > 0 {
		src := strings.Fields(fd.Matched)[1]
		out, _, err = runCLI(t, env, "packages", "where", src, "--version-lt", fd.Fixed[0])
		if err != nil || !strings.Contains(out, fd.Hostname) {
			t.Fatalf("packages where %s --version-lt %s: %v\n%s", src, fd.Fixed[0], err, out)
		}
		if _, _, err := runCLI(t, env, "packages", "where", src, "--version-lt", "not a version!"); err == nil || !strings.Contains(err.Error(), "version_lt") {
			t.Fatalf("a bad --version-lt: err %v", err)
		}
	}
	// KEV-only listing holds only KEV advisories.
	if l, err := c.Vulns(context.Background(), client.VulnQuery{KEV: true, All: true, Limit: 1000}); err != nil {
		t.Fatal(err)
	} else {
		for _, x := range l.Items {
			if !x.KEV {
				t.Fatalf("vulns ls --kev listed %s, not KEV", x.ID)
			}
		}
	}

	// Export, then import into a second server: the same advisories.
	bundle := filepath.Join(dir, "feeds.zip")
	if _, errOut, err := runCLI(t, env, "feeds", "export", bundle); err != nil {
		t.Fatalf("feeds export: %v %s\nserver: %s", err, errOut, ts.stderr)
	}
	ts2 := startServer(t, filepath.Join(dir, "data2"), nil)
	env2 := map[string]string{"HOME": dir, "PATCHBAY_SERVER": ts2.url, "PATCHBAY_TOKEN": ts2.token}
	if out, _, err := runCLI(t, env2, "feeds", "import", bundle); err != nil || !strings.Contains(out, "(bundle)") {
		t.Fatalf("import the bundle: %v %s", err, out)
	}
	f1, _ := c.Feeds(context.Background())
	c2, _ := client.New(client.Options{Server: ts2.url, Token: ts2.token})
	f2, _ := c2.Feeds(context.Background())
	if f1.Advisories != f2.Advisories || f1.KEV != f2.KEV || f1.EPSS != f2.EPSS || f2.Advisories < 8000 {
		t.Fatalf("the air-gapped server has %d/%d/%d advisories/KEV/EPSS, the first %d/%d/%d",
			f2.Advisories, f2.KEV, f2.EPSS, f1.Advisories, f1.KEV, f1.EPSS)
	}
	// Garbage is refused and changes nothing.
	junk := filepath.Join(dir, "junk.json")
	os.WriteFile(junk, []byte("{not json"), 0o644)
	_, _, err = runCLI(t, env2, "feeds", "import", junk)
	f3, _ := c2.Feeds(context.Background())
	if err == nil || !strings.Contains(err.Error(), "junk.json") || f3.Advisories != f2.Advisories {
		t.Fatalf("importing garbage: err %v; advisories %d -> %d", err, f2.Advisories, f3.Advisories)
	}
	t.Logf("garbage refused: %v", err)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestFeedsFetchAndLimits drives the server-side fetch (`feeds import URL`)
// against a loopback feed, a feed URL that answers 500, and an upload over
// --max-feed-bytes: each failure is a clear error and imports nothing.
func TestFeedsFetchAndLimits(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, filepath.Join(dir, "data"), nil, "--max-feed-bytes", "1048576")
	env := map[string]string{"HOME": dir, "PATCHBAY_SERVER": ts.url, "PATCHBAY_TOKEN": ts.token}
	list, err := os.ReadFile(trackerDir + "/DTSA/list")
	if err != nil {
		t.Fatal(err)
	}
	feedSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/broken" {
			http.Error(w, "down for maintenance", http.StatusInternalServerError)
			return
		}
		w.Write(list)
	}))
	defer feedSrv.Close()

	out, _, err := runCLI(t, env, "feeds", "import", "-o", "json", feedSrv.URL+"/DTSA/list")
	var res []apiv1.FeedImportResult
	if err != nil || json.Unmarshal([]byte(out), &res) != nil || len(res) != 1 || res[0].Kind != "debian-tracker" || res[0].Added == 0 {
		t.Fatalf("feeds import URL: %v %s", err, out)
	}
	c, _ := client.New(client.Options{Server: ts.url, Token: ts.token})
	before, _ := c.Feeds(context.Background())

	if _, _, err := runCLI(t, env, "feeds", "import", feedSrv.URL+"/broken"); err == nil || !strings.Contains(err.Error(), "500") {
		t.Fatalf("a feed URL answering 500: err %v, want one naming the status", err)
	}
	// KEV's catalog is 1.3 MB, over the 1 MiB limit.
	if _, _, err := runCLI(t, env, "feeds", "import", "../../internal/feed/testdata/kev/known_exploited_vulnerabilities.json"); err == nil ||
		!strings.Contains(err.Error(), "413") || !strings.Contains(err.Error(), "max-feed-bytes") {
		t.Fatalf("a feed over --max-feed-bytes: err %v, want 413 naming the setting", err)
	}
	after, _ := c.Feeds(context.Background())
	if after.Advisories != before.Advisories || after.KEV != 0 {
		t.Fatalf("failed imports changed the store: %d/%d advisories, %d KEV", before.Advisories, after.Advisories, after.KEV)
	}
}
