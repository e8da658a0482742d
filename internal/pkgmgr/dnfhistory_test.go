package pkgmgr

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/patchbay/patchbay/internal/protocol"
	"github.com/patchbay/patchbay/internal/version"
)

func TestParseHistoryInfo(t *testing.T) {
	for _, tc := range []struct {
		file     string
		id       int
		code     string
		comment  string
		packages []dnfHistoryPackage
		scripts  map[string][]string
	}{
		{"dnf/history-info-scriptlet.txt", 3, "Success", "", []dnfHistoryPackage{
			{"Upgrade", "story-pb-1.2-1.noarch", true}, {"Upgraded", "story-pb-1.1-1.noarch", true},
		}, map[string][]string{"story-pb-1.2-1.noarch": {"%post"}}},
		{"dnf/history-info-killed.txt", 2, "Failure: 1", "", []dnfHistoryPackage{
			{"Upgrade", "slow-pb-3.0-1.noarch", false}, {"Upgraded", "slow-pb-2.0-1.noarch", false},
		}, map[string][]string{}},
		{"dnf/rocky-history-info.txt", 42, "Success", "patchbay 0123456789abcdef", []dnfHistoryPackage{
			{"Install", "kernel-5.14.0-427.20.1.el9_4.x86_64", true},
			{"Install", "kernel-core-5.14.0-427.20.1.el9_4.x86_64", true},
			{"Install", "kernel-modules-5.14.0-427.20.1.el9_4.x86_64", true},
			{"Upgrade", "openssl-1:3.0.7-27.el9.x86_64", true},
			{"Upgraded", "openssl-1:3.0.7-25.el9_3.x86_64", true},
			{"Upgrade", "openssl-libs-1:3.0.7-27.el9.x86_64", true},
			{"Upgraded", "openssl-libs-1:3.0.7-25.el9_3.x86_64", true},
			{"Reason Change", "kernel-core-5.14.0-362.8.1.el9_3.x86_64", true},
		}, map[string][]string{
			"kernel-core-5.14.0-427.20.1.el9_4.x86_64": {"%posttrans"},
			"openssl-1:3.0.7-25.el9_3.x86_64":          {"%postun"},
		}},
	} {
		tx, err := parseHistoryInfo(readTestdata(t, tc.file))
		if err != nil {
			t.Errorf("%s: %v", tc.file, err)
			continue
		}
		if tx.id != tc.id || tx.returnCode != tc.code || (tc.comment != "" && tx.comment != tc.comment) {
			t.Errorf("%s: id %d, Return-Code %q, comment %q; want %d, %q, %q", tc.file, tx.id, tx.returnCode, tx.comment, tc.id, tc.code, tc.comment)
		}
		if !reflect.DeepEqual(tx.packages, tc.packages) {
			t.Errorf("%s: packages\n got %+v\nwant %+v", tc.file, tx.packages, tc.packages)
		}
		if got := scriptletFailures(tx.output); !reflect.DeepEqual(got, tc.scripts) {
			t.Errorf("%s: scriptlet failures %v, want %v", tc.file, got, tc.scripts)
		}
	}
}

func TestParseHistoryInfoErrors(t *testing.T) {
	for _, in := range []string{
		"",
		"Return-Code    : Success\n",
		"Transaction ID : 3..5\nReturn-Code    : Success\n",
		"Transaction ID : 3\n",
		"Transaction ID : 3\nReturn-Code    : Success\nTransaction ID : 4\n",
		"Transaction ID : 3\nReturn-Code    : Success\nPackages Altered:\n    Upgrade\n",
		"Transaction ID : 3\nReturn-Code    : Success\nPackages Altered:\n    Upgrade  story-pb @t\n",
		"Transaction ID : 3\nReturn-Code    : Success\nPackages Altered:\n  Upgrade  story-pb-1-1.noarch @t\n",
		"Transaction ID : 3\nReturn-Code    : Success\nScriptlet output:\n   x no number\n",
		"Transaction ID : 3\nReturn-Code    : Success\n    indented\n",
		"Transaction ID : 3\nReturn-Code    : Success\nno colon\n",
		"Transaction ID : 3\x01\nReturn-Code    : Success\n",
	} {
		if tx, err := parseHistoryInfo([]byte(in)); err == nil {
			t.Errorf("parseHistoryInfo(%q) = %+v; want an error", in, tx)
		}
	}
}

// transactionProblems reports only what is still installed: a failed
// scriptlet of a package replaced since, or of the version taken out, is
// history.
func TestTransactionProblems(t *testing.T) {
	tx, err := parseHistoryInfo(readTestdata(t, "dnf/rocky-history-info.txt"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := parseRPMQuery(readTestdata(t, "dnf/rocky-rpm-query.txt"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"kernel-core-5.14.0-427.20.1.el9_4.x86_64: its %posttrans scriptlet failed in dnf transaction 42"}
	if got := transactionProblems(tx, db); !reflect.DeepEqual(got, want) {
		t.Errorf("transactionProblems = %q, want %q", got, want)
	}
	killed, err := parseHistoryInfo(readTestdata(t, "dnf/history-info-killed.txt"))
	if err != nil {
		t.Fatal(err)
	}
	both := rpmDB{{name: "slow-pb", version: "2.0", release: "1", arch: "noarch"}, {name: "slow-pb", version: "3.0", release: "1", arch: "noarch"}}
	want = []string{"slow-pb-3.0-1.noarch: dnf transaction 2 did not finish installing it (Return-Code: Failure: 1)"}
	if got := transactionProblems(killed, both); !reflect.DeepEqual(got, want) {
		t.Errorf("transactionProblems after a kill = %q, want %q", got, want)
	}
	if got := transactionProblems(killed, both[:1]); len(got) != 0 {
		t.Errorf("transactionProblems once the new version is gone = %q, want none", got)
	}
}

func TestParseRPMQuery(t *testing.T) {
	hs, err := parseRPMQuery(readTestdata(t, "dnf/rocky-rpm-query.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, h := range hs {
		got = append(got, h.nevra())
	}
	want := []string{"bash-5.1.8-9.el9.x86_64", "kernel-core-5.14.0-362.8.1.el9_3.x86_64", "kernel-core-5.14.0-427.20.1.el9_4.x86_64",
		"glibc-2.34-100.el9_4.2.i686", "glibc-2.34-100.el9_4.2.x86_64", "openssl-1:3.0.7-27.el9.x86_64", "openssl-libs-1:3.0.7-27.el9.x86_64", "tzdata-2024a-1.el9.noarch"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseRPMQuery:\n got %q\nwant %q", got, want)
	}
	db := rpmDB(hs)
	for _, tc := range []struct {
		action   protocol.Action
		evr, arc string
	}{
		{protocol.Action{Name: "kernel-core", Arch: "x86_64"}, "5.14.0-427.20.1.el9_4", "x86_64"}, // the newest of two
		{protocol.Action{Name: "glibc", Arch: "i686"}, "2.34-100.el9_4.2", "i686"},
		{protocol.Action{Name: "openssl"}, "1:3.0.7-27.el9", "x86_64"},
		{protocol.Action{Name: "tzdata", Arch: "x86_64"}, "2024a-1.el9", "noarch"}, // the architecture changed
		{protocol.Action{Name: "vim"}, "", ""},
	} {
		if evr, arch := db.version(tc.action); evr != tc.evr || arch != tc.arc {
			t.Errorf("version(%+v) = %q %q; want %q %q", tc.action, evr, arch, tc.evr, tc.arc)
		}
	}
	if !db.at(protocol.Action{Name: "openssl", Arch: "x86_64", Version: "1:3.0.7-27.el9"}) || db.at(protocol.Action{Name: "openssl", Version: "3.0.7-27.el9"}) {
		t.Error("at: the epoch is part of the version")
	}
	if !db.at(protocol.Action{Name: "bash", Version: "0:5.1.8-9.el9"}) {
		t.Error("at: a zero epoch is no epoch")
	}
	captured, err := parseRPMQuery(readTestdata(t, "dnf/rpm-query.txt"))
	if err != nil || len(captured) != 2 || captured[1].nevra() != "story-pb-1.2-1.noarch" || captured[1].sha1 == "" {
		t.Errorf("parseRPMQuery(captured) = %+v, %v", captured, err)
	}
	for _, in := range []string{"a\t\t1\t1\n", "a\t\t1\t1\tx86_64\t\textra\n", "a\tE\t1\t1\tx86_64\t\n", "a\t\t1-2\t1\tx86_64\t\n", "a\t\t1\t1\tx86_64\ta b\n", "\t\t1\t1\tx86_64\t\n"} {
		if hs, err := parseRPMQuery([]byte(in)); err == nil {
			t.Errorf("parseRPMQuery(%q) = %+v; want an error", in, hs)
		}
	}
}

func TestParseDnfCheck(t *testing.T) {
	got, err := parseDnfCheck(readTestdata(t, "dnf/check-duplicate.txt"))
	want := []string{"slow-pb-2.0-1.noarch is a duplicate with slow-pb-3.0-1.noarch"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("parseDnfCheck = %q, %v; want %q", got, err, want)
	}
	if got, err := parseDnfCheck(nil); err != nil || len(got) != 0 {
		t.Errorf("parseDnfCheck(nothing) = %q, %v", got, err)
	}
}

func TestValidRPMAction(t *testing.T) {
	for _, tc := range []struct {
		a  protocol.Action
		ok bool
	}{
		{protocol.Action{Name: "openssl", Arch: "x86_64", Version: "1:3.0.7-27.el9"}, true},
		{protocol.Action{Name: "libstdc++", Arch: "i686", Version: "11.4.1-3.el9"}, true},
		{protocol.Action{Name: "python3.11-pip", Version: "22.3.1-4.el9_3.1"}, true},
		{protocol.Action{Name: "kernel", Arch: "x86_64", Version: "5.14.0-427.20.1.el9_4"}, true},
		{protocol.Action{Name: "vim", Version: "9.0^20230101-1"}, true},
		{protocol.Action{Name: "vim", Version: "9.0"}, false}, // no release: not exact
		{protocol.Action{Name: "-vim", Version: "9.0-1"}, false},
		{protocol.Action{Name: "vim", Arch: "-x86_64", Version: "9.0-1"}, false},
		{protocol.Action{Name: "vim", Version: "-9.0-1"}, false},
		{protocol.Action{Name: "vim", Version: "9.0-1-1"}, false},
		{protocol.Action{Name: "vim", Version: "x:9.0-1"}, false},
		{protocol.Action{Name: "vim x", Version: "9.0-1"}, false},
		{protocol.Action{Name: "vim", Version: "9.0-1 --nogpgcheck"}, false},
		{protocol.Action{Name: "", Version: "9.0-1"}, false},
		{protocol.Action{Name: "vim", Arch: "x86.64", Version: "9.0-1"}, false},
	} {
		if err := validRPMAction(tc.a); (err == nil) != tc.ok {
			t.Errorf("validRPMAction(%+v) = %v; want ok %v", tc.a, err, tc.ok)
		}
	}
	if err := validateRPMActions([]protocol.Action{{Name: "a", Version: "1-1"}, {Name: "a", Version: "2-1"}}); err == nil {
		t.Error("validateRPMActions accepted a package named twice")
	}
}

// FuzzParseHistoryInfo: no panic, and a transaction with an id, a return
// code and packages of the form name-version-release.arch.
func FuzzParseHistoryInfo(f *testing.F) {
	seed(f, "dnf/history-info-scriptlet.txt", "dnf/history-info-killed.txt", "dnf/rocky-history-info.txt")
	f.Fuzz(func(t *testing.T, data []byte) {
		tx, err := parseHistoryInfo(data)
		if err != nil {
			return
		}
		if tx.id <= 0 || tx.returnCode == "" {
			t.Fatalf("transaction %+v", tx)
		}
		for _, p := range tx.packages {
			if _, _, _, err := splitNEVRA(p.nevra); err != nil || p.action == "" || strings.ContainsAny(p.nevra, " \t") {
				t.Fatalf("package %+v: %v", p, err)
			}
		}
		for nevra, s := range scriptletFailures(tx.output) {
			if nevra == "" || len(s) == 0 || strings.ContainsAny(nevra, " ()\"") {
				t.Fatalf("scriptlet failure %q %q", nevra, s)
			}
		}
	})
}

// FuzzParseRPMQuery: no panic, and packages whose EVR rpm would accept.
func FuzzParseRPMQuery(f *testing.F) {
	seed(f, "dnf/rpm-query.txt", "dnf/rocky-rpm-query.txt")
	f.Fuzz(func(t *testing.T, data []byte) {
		hs, err := parseRPMQuery(data)
		if err != nil {
			if hs != nil {
				t.Fatalf("%d packages with error %v", len(hs), err)
			}
			return
		}
		for _, h := range hs {
			if h.name == "" || h.arch == "" || strings.ContainsAny(h.nevra(), " \t\n") {
				t.Fatalf("bad package %+v", h)
			}
			if _, err := version.ParseRPM(h.evr()); err != nil {
				t.Fatalf("package %s: %v", fmt.Sprint(h), err)
			}
		}
	})
}
