package pkgmgr

import (
	"fmt"
	"strings"
	"testing"
)

// joinDnfTestdata parses one set of dnf outputs (PREFIX-repoquery-upgrades.txt,
// ...) and joins them as Updates does.
func joinDnfTestdata(t *testing.T, prefix string) string {
	t.Helper()
	cands, err := parseDnfQuery(readTestdata(t, "dnf/"+prefix+"repoquery-upgrades.txt"))
	if err != nil {
		t.Fatalf("parseDnfQuery(upgrades): %v", err)
	}
	inst, err := parseDnfQuery(readTestdata(t, "dnf/"+prefix+"repoquery-installed.txt"))
	if err != nil {
		t.Fatalf("parseDnfQuery(installed): %v", err)
	}
	refs, err := parseUpdateinfoList(readTestdata(t, "dnf/"+prefix+"updateinfo-list.txt"))
	if err != nil {
		t.Fatalf("parseUpdateinfoList: %v", err)
	}
	advs, err := parseUpdateinfoInfo(readTestdata(t, "dnf/"+prefix+"updateinfo-info.txt"))
	if err != nil {
		t.Fatalf("parseUpdateinfoInfo: %v", err)
	}
	ups, err := joinDnf(cands, inst, refs, advs)
	if err != nil {
		t.Fatalf("joinDnf: %v", err)
	}
	var b strings.Builder
	for _, u := range ups {
		fmt.Fprintf(&b, "%s.%s %s -> %s src %s %s repo %s type %q severity %q security %v ids %v\n", u.Name, u.Arch, u.FromVersion, u.ToVersion,
			u.SourceName, u.SourceVersion, u.Archive, u.AdvisoryType, u.Severity, u.Security, u.AdvisoryIDs)
	}
	return b.String()
}

// The real output of Debian 12's dnf 4.14 for TestDnfUpdates' repository
// (testdata/README.md).
func TestParseDnfCaptured(t *testing.T) {
	got := joinDnfTestdata(t, "")
	want := `epoch-pb.noarch 2:1.0-1 -> 2:1.1-1 src epoch-pb 1.1-1 repo patchbay-test type "enhancement" severity "" security false ids [RLEA-2024:0003]
epoch-pb-libs.noarch 2:1.0-1 -> 2:1.1-1 src epoch-pb 1.1-1 repo patchbay-test type "enhancement" severity "" security false ids [RLEA-2024:0003]
hello-pb.noarch 1.0-1 -> 1.1-1 src hello-pb 1.1-1 repo patchbay-test type "bugfix" severity "Moderate" security false ids [RLBA-2024:0002]
plain-pb.noarch 1-1 -> 2-1 src plain-pb 2-1 repo patchbay-test type "" severity "" security false ids []
sec-pb.noarch 2.0-1.el9 -> 2.0-3.el9 src sec-pb 2.0-3.el9 repo patchbay-test type "security" severity "Important" security true ids [RLBA-2024:0004 RLSA-2024:0001]
`
	if got != want {
		t.Errorf("captured dnf output joins to\n%s\nwant\n%s", got, want)
	}
}

// Hand-written output shaped like a Rocky Linux 9 host (testdata/README.md):
// two kernels installed, epochs, a source rpm of another name, a security
// and a bugfix advisory for one update, an EPEL package without any.
func TestParseDnfRocky(t *testing.T) {
	got := joinDnfTestdata(t, "rocky-")
	want := `bash.x86_64 5.1.8-6.el9_1 -> 5.1.8-9.el9 src bash 5.1.8-9.el9 repo baseos type "bugfix" severity "Moderate" security false ids [RLBA-2024:2456]
htop.x86_64 3.2.2-1.el9 -> 3.3.0-1.el9 src htop 3.3.0-1.el9 repo epel type "" severity "" security false ids []
kernel.x86_64 5.14.0-427.13.1.el9_4 -> 5.14.0-427.20.1.el9_4 src kernel 5.14.0-427.20.1.el9_4 repo baseos type "security" severity "Important" security true ids [RLSA-2024:2570]
kernel-core.x86_64 5.14.0-427.13.1.el9_4 -> 5.14.0-427.20.1.el9_4 src kernel 5.14.0-427.20.1.el9_4 repo baseos type "security" severity "Important" security true ids [RLSA-2024:2570]
openssl.x86_64 1:3.0.7-25.el9_3 -> 1:3.0.7-27.el9 src openssl 3.0.7-27.el9 repo baseos type "security" severity "Moderate" security true ids [RLSA-2024:2447]
openssl-libs.x86_64 1:3.0.7-25.el9_3 -> 1:3.0.7-27.el9 src openssl 3.0.7-27.el9 repo baseos type "security" severity "Moderate" security true ids [RLSA-2024:2447]
python3-libs.x86_64 3.9.18-1.el9_3 -> 3.9.18-3.el9_4.1 src python3.9 3.9.18-3.el9_4.1 repo baseos type "security" severity "Low" security true ids [RLBA-2024:2801 RLSA-2024:3102]
tzdata.noarch 2023c-1.el9 -> 2024a-1.el9 src tzdata 2024a-1.el9 repo baseos type "enhancement" severity "" security false ids [RLEA-2024:2581]
`
	if got != want {
		t.Errorf("rocky dnf output joins to\n%s\nwant\n%s", got, want)
	}
}

func TestParseUpdateinfoList(t *testing.T) {
	refs, err := parseUpdateinfoList([]byte("A-1 Critical/Sec. a-1:2.0-3.el9.x86_64\nA-2 Unknown/Sec. b-c-1-2.noarch\nA-3 newpackage d-1-1.noarch\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []dnfAdvisoryRef{
		{id: "A-1", typ: "security", severity: "Critical", name: "a", evr: "1:2.0-3.el9", arch: "x86_64"},
		{id: "A-2", typ: "security", name: "b-c", evr: "1-2", arch: "noarch"},
		{id: "A-3", typ: "newpackage", name: "d", evr: "1-1", arch: "noarch"},
	}
	if fmt.Sprint(refs) != fmt.Sprint(want) {
		t.Errorf("parseUpdateinfoList = %+v; want %+v", refs, want)
	}
	for _, in := range []string{
		"A-1 bugfix\n",                           // two fields
		"A-1 bugfix a-1-1.x86_64 2024-01-01\n",   // verbose, four fields
		"A-1 bugfix a-1.x86_64\n",                // no release
		"A-1 bugfix a-1-1\n",                     // no arch
		"A-1 bugfix -1-1.x86_64\n",               // no name
		"A-1 bugfix a-1-1.x86_64\x00\n",          // control character
		"Last metadata expiration check: 0:01\n", // no -q
	} {
		if _, err := parseUpdateinfoList([]byte(in)); err == nil {
			t.Errorf("parseUpdateinfoList(%q): no error", in)
		}
	}
}

func TestParseDnfErrors(t *testing.T) {
	for _, in := range []string{
		"a\t0\t1\t1\tx86_64\tbaseos\n",                                // six fields
		"a\t0\t1-2\t1\tx86_64\tbaseos\ta-1-1.src.rpm\n",               // hyphen in version
		"a\tx\t1\t1\tx86_64\tbaseos\ta-1-1.src.rpm\n",                 // bad epoch
		"a\t0\t1\t1\t\tbaseos\ta-1-1.src.rpm\n",                       // no arch
		"a\t0\t1\t1\tx86_64\tbaseos\ta.rpm\n",                         // bad source rpm
		"a b\t0\t1\t1\tx86_64\tbaseos\ta-1-1.src.rpm\n",               // space in the name
		"a\t0\t1\t1\tx86_64\tbaseos\ta-1-1.src.rpm\tmore\n",           // eight fields
		"Last metadata expiration check: 0:00:10 ago on Fri Dec  4\n", // no -q
	} {
		if _, err := parseDnfQuery([]byte(in)); err == nil {
			t.Errorf("parseDnfQuery(%q): no error", in)
		}
	}
	bar := strings.Repeat("=", 79) + "\n"
	for _, in := range []string{
		"text first\n",
		bar + "  title\n" + bar + "       Type: bugfix\n", // no Update ID
		bar + "  title\n", // ends in the title
		bar + "  t\n" + bar + "  Update ID: A\n" + bar + "  t\n" + bar + "  Update ID: A\n", // twice
		bar + "  t\n" + bar + "  Update ID: A\nno label here\n",
	} {
		if _, err := parseUpdateinfoInfo([]byte(in)); err == nil {
			t.Errorf("parseUpdateinfoInfo(%q): no error", in)
		}
	}
	if advs, err := parseUpdateinfoInfo(nil); err != nil || len(advs) != 0 {
		t.Errorf("parseUpdateinfoInfo(nothing) = %v, %v", advs, err)
	}
	if _, err := joinDnf([]dnfPackage{{name: "a", version: "1", release: "1", arch: "x86_64"}}, nil, nil, nil); err == nil {
		t.Error("joinDnf(an upgrade of nothing installed): no error")
	}
}
