package pkgmgr

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/patchbay/patchbay/internal/protocol"
)

// rpmPkg is a tiny noarch package the dnf test builds with rpmbuild; libs
// adds a subpackage NAME-libs, whose source rpm is NAME's.
type rpmPkg struct {
	name, epoch, version, release string
	libs                          bool
}

func (p rpmPkg) spec() string {
	s := fmt.Sprintf("Name: %s\nVersion: %s\nRelease: %s\n", p.name, p.version, p.release)
	if p.epoch != "" {
		s += "Epoch: " + p.epoch + "\n"
	}
	s += "Summary: patchbay test package\nLicense: MIT\nBuildArch: noarch\n%description\npatchbay test package\n%files\n"
	if p.libs {
		s += "%package libs\nSummary: libs\n%description libs\nlibs\n%files libs\n"
	}
	return s
}

// updateinfoXML is the repository's updateinfo (as modifyrepo_c adds it):
// a security advisory and a later bugfix for sec-pb (the candidate,
// 2.0-3.el9, carries both), a bugfix with a severity, an enhancement
// without one, and an advisory for a version newer than any in the
// repository, which applies to nothing.
const updateinfoXML = `<?xml version="1.0" encoding="UTF-8"?>
<updates>
  <update from="security@patchbay.invalid" status="final" type="security" version="2">
    <id>RLSA-2024:0001</id>
    <title>Important: sec-pb security update</title>
    <severity>Important</severity>
    <issued date="2024-01-02 00:00:00"/>
    <references>
      <reference href="https://www.cve.org/CVERecord?id=CVE-2024-0001" id="CVE-2024-0001" type="cve" title="CVE-2024-0001"/>
    </references>
    <description>A flaw was found in sec-pb.
Severity: this line is part of the description.</description>
    <pkglist><collection short="pb"><name>patchbay</name>
      <package name="sec-pb" version="2.0" release="2.el9" epoch="0" arch="noarch" src="sec-pb-2.0-2.el9.src.rpm"><filename>sec-pb-2.0-2.el9.noarch.rpm</filename></package>
    </collection></pkglist>
  </update>
  <update from="pb@patchbay.invalid" status="final" type="bugfix" version="2">
    <id>RLBA-2024:0004</id>
    <title>sec-pb bug fix update</title>
    <severity>Low</severity>
    <issued date="2024-02-01 00:00:00"/>
    <description>fix</description>
    <pkglist><collection short="pb"><name>patchbay</name>
      <package name="sec-pb" version="2.0" release="3.el9" epoch="0" arch="noarch" src="sec-pb-2.0-3.el9.src.rpm"><filename>sec-pb-2.0-3.el9.noarch.rpm</filename></package>
    </collection></pkglist>
  </update>
  <update from="pb@patchbay.invalid" status="final" type="bugfix" version="2">
    <id>RLBA-2024:0002</id>
    <title>hello-pb bug fix update</title>
    <severity>Moderate</severity>
    <issued date="2024-01-02 00:00:00"/>
    <description>fix</description>
    <pkglist><collection short="pb"><name>patchbay</name>
      <package name="hello-pb" version="1.1" release="1" epoch="0" arch="noarch" src="hello-pb-1.1-1.src.rpm"><filename>hello-pb-1.1-1.noarch.rpm</filename></package>
    </collection></pkglist>
  </update>
  <update from="pb@patchbay.invalid" status="final" type="enhancement" version="2">
    <id>RLEA-2024:0003</id>
    <title>epoch-pb enhancement update</title>
    <issued date="2024-01-02 00:00:00"/>
    <description>new</description>
    <pkglist><collection short="pb"><name>patchbay</name>
      <package name="epoch-pb" version="1.1" release="1" epoch="2" arch="noarch" src="epoch-pb-1.1-1.src.rpm"><filename>epoch-pb-1.1-1.noarch.rpm</filename></package>
      <package name="epoch-pb-libs" version="1.1" release="1" epoch="2" arch="noarch" src="epoch-pb-1.1-1.src.rpm"><filename>epoch-pb-libs-1.1-1.noarch.rpm</filename></package>
    </collection></pkglist>
  </update>
  <update from="pb@patchbay.invalid" status="final" type="security" version="2">
    <id>RLSA-2099:9999</id>
    <title>Critical: hello-pb update from the future</title>
    <severity>Critical</severity>
    <issued date="2099-01-01 00:00:00"/>
    <description>not in the repository</description>
    <pkglist><collection short="pb"><name>patchbay</name>
      <package name="hello-pb" version="9.9" release="1" epoch="0" arch="noarch" src="hello-pb-9.9-1.src.rpm"><filename>hello-pb-9.9-1.noarch.rpm</filename></package>
    </collection></pkglist>
  </update>
</updates>
`

// TestDnfUpdates builds a real repository (rpmbuild, createrepo_c, and
// modifyrepo_c for the updateinfo), records the old versions in the rpm
// database of a throwaway installroot (rpm --justdb), and asks Dnf for the
// updates.
func TestDnfUpdates(t *testing.T) {
	dnf := lookTool(t, "dnf")
	rpm := lookTool(t, "rpm")
	rpmbuild := lookTool(t, "rpmbuild")
	createrepo := lookTool(t, "createrepo_c")
	modifyrepo := lookTool(t, "modifyrepo_c")
	ctx := context.Background()

	tmp := t.TempDir()
	top := filepath.Join(tmp, "rpmbuild")
	for i, p := range []rpmPkg{
		{name: "hello-pb", version: "1.0", release: "1"},
		{name: "hello-pb", version: "1.1", release: "1"},
		{name: "sec-pb", version: "2.0", release: "1.el9"},
		{name: "sec-pb", version: "2.0", release: "2.el9"},
		{name: "sec-pb", version: "2.0", release: "3.el9"},
		{name: "epoch-pb", epoch: "2", version: "1.0", release: "1", libs: true},
		{name: "epoch-pb", epoch: "2", version: "1.1", release: "1", libs: true},
		{name: "plain-pb", version: "1", release: "1"},
		{name: "plain-pb", version: "2", release: "1"},
		{name: "current-pb", version: "5", release: "1"},
	} {
		spec := filepath.Join(tmp, fmt.Sprintf("%d.spec", i))
		writeFile(t, spec, p.spec())
		run(t, "", nil, rpmbuild, "--define", "_topdir "+top, "--quiet", "-bb", spec)
	}
	repo := filepath.Join(tmp, "repo")
	rpms, err := filepath.Glob(filepath.Join(top, "RPMS/noarch/*.rpm"))
	if err != nil || len(rpms) != 12 {
		t.Fatalf("rpmbuild made %d rpms (%v), want 12", len(rpms), err)
	}
	if err := os.MkdirAll(repo, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, r := range rpms {
		data, err := os.ReadFile(r)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(repo, filepath.Base(r)), string(data))
	}
	run(t, "", nil, createrepo, "--quiet", repo)
	writeFile(t, filepath.Join(tmp, "updateinfo.xml"), updateinfoXML)
	run(t, "", nil, modifyrepo, "--mdtype=updateinfo", filepath.Join(tmp, "updateinfo.xml"), filepath.Join(repo, "repodata"))

	root := filepath.Join(tmp, "root")
	writeFile(t, filepath.Join(root, "etc/yum.repos.d/patchbay.repo"),
		"[patchbay-test]\nname=patchbay test\nbaseurl=file://"+repo+"\ngpgcheck=0\nenabled=1\n")
	// The database goes where this machine's rpm, and dnf through librpm,
	// look under a root: %_dbpath, which Debian sets to ~/.rpmdb (Red Hat
	// systems: /var/lib/rpm).
	run(t, "", nil, rpm, "--root", root, "--initdb")
	var old []string
	for _, n := range []string{"hello-pb-1.0-1", "sec-pb-2.0-1.el9", "epoch-pb-1.0-1", "epoch-pb-libs-1.0-1", "plain-pb-1-1", "current-pb-5-1"} {
		old = append(old, filepath.Join(repo, n+".noarch.rpm"))
	}
	run(t, "", nil, rpm, append([]string{"--root", root, "--install", "--justdb", "--nodeps", "--noscripts"}, old...)...)
	rpmQA := func() string {
		return run(t, "", nil, rpm, "--root", root, "-qa", "--queryformat", "%{NEVRA}\n")
	}
	before := rpmQA()

	d := &Dnf{Root: root, Command: dnf, Releasever: "9"}
	if _, err := d.Updates(ctx); err == nil || !strings.Contains(err.Error(), "dnf updates: dnf repoquery") {
		t.Errorf("Updates before any Refresh: %v; want dnf's error (cache only, no cache)", err)
	}
	start := time.Now()
	if err := d.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("Refresh: %v", time.Since(start))
	start = time.Now()
	ups, err := d.Updates(ctx)
	t.Logf("Updates: %v", time.Since(start))
	if err != nil {
		t.Fatal(err)
	}
	if after := rpmQA(); after != before {
		t.Errorf("the installed packages changed while listing updates:\n%s\nthen\n%s", before, after)
	}
	u := func(name, from, to, srcName, srcVer, typ, sev string, ids ...string) protocol.Update {
		return protocol.Update{Ecosystem: "rpm", Name: name, Arch: "noarch", FromVersion: from, ToVersion: to,
			SourceName: srcName, SourceVersion: srcVer, Archive: "patchbay-test",
			Security: typ == "security", AdvisoryType: typ, Severity: sev, AdvisoryIDs: ids}
	}
	want := []protocol.Update{
		u("epoch-pb", "2:1.0-1", "2:1.1-1", "epoch-pb", "1.1-1", "enhancement", "", "RLEA-2024:0003"),
		u("epoch-pb-libs", "2:1.0-1", "2:1.1-1", "epoch-pb", "1.1-1", "enhancement", "", "RLEA-2024:0003"),
		u("hello-pb", "1.0-1", "1.1-1", "hello-pb", "1.1-1", "bugfix", "Moderate", "RLBA-2024:0002"),
		u("plain-pb", "1-1", "2-1", "plain-pb", "2-1", "", ""),
		u("sec-pb", "2.0-1.el9", "2.0-3.el9", "sec-pb", "2.0-3.el9", "security", "Important", "RLBA-2024:0004", "RLSA-2024:0001"),
	}
	if fmt.Sprintf("%+v", ups) != fmt.Sprintf("%+v", want) {
		t.Errorf("Updates:\n got %+v\nwant %+v", ups, want)
	}

	if *update {
		argv, err := d.base()
		if err != nil {
			t.Fatal(err)
		}
		argv = append(argv, "-C")
		for file, args := range map[string][]string{
			"repoquery-upgrades.txt":  {"repoquery", "--upgrades", "--latest-limit=1", "--qf", dnfQueryFormat},
			"repoquery-installed.txt": {"repoquery", "--installed", "--qf", dnfQueryFormat},
			"updateinfo-list.txt":     {"updateinfo", "list", "--updates"},
			"updateinfo-info.txt":     {"updateinfo", "info", "--updates"},
		} {
			out := run(t, "", dnfEnv(), argv[0], append(argv[1:], args...)...)
			capture(t, "dnf/"+file, []byte(out), tmp, "/tmp/pbtest")
		}
	}
}

// A root whose repository lists no newer versions: no updates, and only
// the first query runs.
func TestDnfNoUpdates(t *testing.T) {
	dnf := lookTool(t, "dnf")
	rpm := lookTool(t, "rpm")
	createrepo := lookTool(t, "createrepo_c")
	tmp := t.TempDir()
	repo, root := filepath.Join(tmp, "repo"), filepath.Join(tmp, "root")
	if err := os.MkdirAll(repo, 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, "", nil, createrepo, "--quiet", repo)
	writeFile(t, filepath.Join(root, "etc/yum.repos.d/empty.repo"), "[empty]\nname=empty\nbaseurl=file://"+repo+"\ngpgcheck=0\n")
	run(t, "", nil, rpm, "--root", root, "--initdb")
	d := &Dnf{Root: root, Command: dnf, Releasever: "9"}
	if err := d.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	ups, err := d.Updates(context.Background())
	if err != nil || ups == nil || len(ups) != 0 {
		t.Errorf("Updates = %v, %v; want an empty list", ups, err)
	}
}

func TestDnfMissing(t *testing.T) {
	root := t.TempDir()
	err := (&Dnf{Root: root, Command: filepath.Join(root, "dnf")}).Refresh(context.Background())
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Refresh with a missing dnf: %v; want fs.ErrNotExist", err)
	}
	t.Setenv("PATH", t.TempDir())
	_, err = (&Dnf{Root: root}).Updates(context.Background())
	if !errors.Is(err, exec.ErrNotFound) {
		t.Errorf("Updates without dnf on PATH: %v; want exec.ErrNotFound", err)
	}
}

// A failing dnf's error carries its stderr: a repository that does not
// exist.
func TestDnfRefreshError(t *testing.T) {
	dnf := lookTool(t, "dnf")
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "etc/yum.repos.d/gone.repo"), "[gone]\nname=gone\nbaseurl=file://"+filepath.Join(root, "no-such-repo")+"\ngpgcheck=0\n")
	err := (&Dnf{Root: root, Command: dnf, Releasever: "9"}).Refresh(context.Background())
	if err == nil || !strings.Contains(err.Error(), "dnf refresh: dnf makecache: exit status 1: ") || !bytes.Contains([]byte(err.Error()), []byte("gone")) {
		t.Fatalf("Refresh with a missing repository: %v; want dnf's exit status and message", err)
	}
	t.Logf("missing repository: %v", err)
}
