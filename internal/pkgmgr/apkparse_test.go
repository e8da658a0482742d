package pkgmgr

import (
	"reflect"
	"strings"
	"testing"

	"github.com/patchbay/patchbay/internal/version"
)

// The apk parsers, on the captures of testdata/apk (see its README).

func TestParseApkInstalled(t *testing.T) {
	pkgs, err := parseApkInstalled(readTestdata(t, "apk/installed-broken-virtual"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range pkgs {
		got = append(got, strings.Join([]string{p.Name, p.Version, p.Arch, p.Flags, p.cacheTag()}, " "))
	}
	want := []string{
		"musl 1.2.5-r0 x86_64  948eb49f",
		"busybox 1.36.1-r29 x86_64  096df5d7",
		"storylib-pb 1.1-r0 x86_64  4861192b",
		"story-pb 1.1-r0 x86_64 s be1b7bef",
		"storyapp-pb 2.0-r0 noarch  83dd2a86",
		".patchbay-deploy 20240611.093015 noarch  b0e7a3a7",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseApkInstalled:\n got %q\nwant %q", got, want)
	}
	for _, p := range pkgs {
		if b := p.broken(); (b != "") != (p.Name == "story-pb") {
			t.Errorf("%s broken() = %q", p.Name, b)
		}
	}
	if b := (apkInstalled{Flags: "S"}).broken(); b != "" {
		t.Errorf("f:S (SHA-256 file checksums) counted as broken: %q", b)
	}
	if b := (apkInstalled{Flags: "fsx"}).broken(); b != "a maintainer script failed, files missing or not written, extended attributes not applied" {
		t.Errorf("f:fsx broken() = %q", b)
	}
}

func TestParseApkInstalledErrors(t *testing.T) {
	for _, tc := range []struct{ name, data, want string }{
		{"truncated", "P:a\nV:1-r0\n", "truncated"},
		{"no version", "P:a\nA:x86_64\n\n", "without P: or V:"},
		{"not K:value", "P:a\nV:1\nbad line\n\n", "line 3"},
		{"twice", "P:a\nV:1\n\nP:a\nV:2\n\n", "listed twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pkgs, err := parseApkInstalled([]byte(tc.data))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("parseApkInstalled(%q) = %v, %v; want error with %q", tc.data, pkgs, err, tc.want)
			}
		})
	}
}

func TestParseApkWorld(t *testing.T) {
	deps, err := parseApkWorld([]byte("busybox\nstory-pb=1.0-r0 !bad-pb\nlib@edge>=2 x~1.2 y=~3 z><Q1abc= .patchbay-deploy\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []apkDep{
		{Name: "busybox"},
		{Name: "story-pb", Op: "=", Version: "1.0-r0"},
		{Conflict: true, Name: "bad-pb"},
		{Name: "lib", Tag: "@edge", Op: ">=", Version: "2"},
		{Name: "x", Op: "~", Version: "1.2"},
		{Name: "y", Op: "~", Version: "3"},
		{Name: "z", Op: "><", Version: "Q1abc="},
		{Name: ".patchbay-deploy"},
	}
	if !reflect.DeepEqual(deps, want) {
		t.Errorf("parseApkWorld:\n got %+v\nwant %+v", deps, want)
	}
	for _, bad := range []string{"=1.0", "a=", "a<>1", "a@=1", "!"} {
		if d, err := parseApkWorld([]byte(bad)); err == nil {
			t.Errorf("parseApkWorld(%q) = %+v, want an error", bad, d)
		}
	}
}

func TestApkDepSatisfiedBy(t *testing.T) {
	for _, tc := range []struct {
		dep, v string
		want   bool
	}{
		{"a", "1.0-r0", true},
		{"a=1.0-r0", "1.0-r0", true},
		{"a=1.0-r0", "1.1-r0", false},
		{"a<1.1", "1.0-r9", true},
		{"a<1.1", "1.1-r0", false},
		{"a>=1.1", "1.1-r0", true},
		{"a>=1.1", "1.0.9", false},
		{"a>1.1", "1.1.1", true},
		{"a<=1.1-r0", "1.1-r0", true},
		{"a~1.2", "1.2.3-r0", true},
		{"a~1.2", "1.2_rc1-r0", true},
		{"a~1.2", "1.20-r0", false},
		{"a~1.2", "1.3-r0", false},
		{"a><Q1abc=", "1.0-r0", false},
		{"a=1.0-r0", "not-a-version", false},
	} {
		d, err := parseApkDep(tc.dep)
		if err != nil {
			t.Fatal(err)
		}
		if got := d.satisfiedBy(tc.v); got != tc.want {
			t.Errorf("%s satisfiedBy(%s) = %v, want %v", tc.dep, tc.v, got, tc.want)
		}
	}
}

func TestParseApkPolicy(t *testing.T) {
	pols, err := parseApkPolicy(readTestdata(t, "apk/policy-moved.stdout"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]apkPolicyVersion{
		"story-pb": {
			{Version: "1.0-r0", Sources: []string{"lib/apk/db/installed"}},
			{Version: "1.2-r0", Sources: []string{"https://dl-cdn.alpinelinux.org/alpine/v3.20/main"}},
			{Version: "1.1-r0", Sources: []string{"@edge https://dl-cdn.alpinelinux.org/alpine/edge/main"}},
		},
		"storylib-pb": {
			{Version: "1.0-r0", Sources: []string{"lib/apk/db/installed"}},
			{Version: "1.2-r0", Sources: []string{"https://dl-cdn.alpinelinux.org/alpine/v3.20/main"}},
		},
	}
	if !reflect.DeepEqual(pols, want) {
		t.Errorf("parseApkPolicy:\n got %+v\nwant %+v", pols, want)
	}
	for i, want := range []bool{false, true, false} {
		if got := pols["story-pb"][i].inRepository(); got != want {
			t.Errorf("story-pb %s inRepository() = %v, want %v (installed and tagged sources do not count)", pols["story-pb"][i].Version, got, want)
		}
	}
	for _, bad := range []string{"story-pb\n", "  1.0:\n", "x policy:\n    /src\n", "x policy:\n   1.0:\n", "x policy:\nx policy:\n"} {
		if p, err := parseApkPolicy([]byte(bad)); err == nil {
			t.Errorf("parseApkPolicy(%q) = %v, want an error", bad, p)
		}
	}
}

func TestParseApkProblems(t *testing.T) {
	for _, tc := range []struct {
		file string
		want []apkProblem
		name string // of the first problem
	}{
		{"apk/add-breaks.stderr", []apkProblem{{Label: "story-pb-1.0-r0", Items: map[string][]string{
			"breaks":    {".patchbay-deploy-20240611.093015[story-pb=1.1-r0]"},
			"satisfies": {"storyapp-pb-2.0-r0[story-pb]"},
		}}, {Label: ".patchbay-deploy-20240611.093015", Items: map[string][]string{"masked in": {"cache"}, "satisfies": {"world[.patchbay-deploy=20240611.093015]"}}}}, "story-pb"},
		{"apk/add-held.stderr", []apkProblem{{Label: "story-pb-1.1-r0", Items: map[string][]string{
			"breaks":    {"world[story-pb=1.0-r0]"},
			"satisfies": {".patchbay-deploy-20240611.093015[story-pb=1.1-r0]"},
		}}, {Label: ".patchbay-deploy-20240611.093015", Items: map[string][]string{"masked in": {"cache"}, "satisfies": {"world[.patchbay-deploy=20240611.093015]"}}}}, "story-pb"},
		{"apk/add-nosuch.stderr", []apkProblem{
			{Label: ".patchbay-deploy-20240611.093015", Items: map[string][]string{"masked in": {"cache"}, "satisfies": {"world[.patchbay-deploy=20240611.093015]"}}},
			{Label: "nosuch-pb (no such package)", Items: map[string][]string{"required by": {".patchbay-deploy-20240611.093015[nosuch-pb=1.0-r0]"}}},
			{Label: "so:libstory.so.2 (no such package)", Items: map[string][]string{"required by": {"story-pb-1.2-r0[so:libstory.so.2]", "storytool-pb-1.2-r0[so:libstory.so.2]"}}},
		}, ".patchbay-deploy"},
	} {
		got := parseApkProblems(string(readTestdata(t, tc.file)))
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseApkProblems(%s):\n got %+v\nwant %+v", tc.file, got, tc.want)
			continue
		}
		if n := got[0].name(); n != tc.name {
			t.Errorf("parseApkProblems(%s)[0].name() = %q, want %q", tc.file, n, tc.name)
		}
	}
	held := parseApkProblems(string(readTestdata(t, "apk/add-held.stderr")))
	if d, ok := worldPin(held, "story-pb"); !ok || d.String() != "story-pb=1.0-r0" {
		t.Errorf("worldPin(add-held, story-pb) = %v, %v; want story-pb=1.0-r0", d, ok)
	}
	breaks := parseApkProblems(string(readTestdata(t, "apk/add-breaks.stderr")))
	if d, ok := worldPin(breaks, "story-pb"); ok {
		t.Errorf("worldPin(add-breaks, story-pb) = %v: an unversioned world entry is no pin", d)
	}
	if got := parseApkProblems(string(readTestdata(t, "apk/add.stdout"))); len(got) != 0 {
		t.Errorf("parseApkProblems(add.stdout) = %+v, want none", got)
	}
}

func TestParseApkScriptErrors(t *testing.T) {
	out := string(readTestdata(t, "apk/add-script-fail.stdout")) + string(readTestdata(t, "apk/add-script-fail.stderr"))
	got := parseApkScriptErrors(out)
	want := []apkScriptError{{Name: "story-pb", Version: "1.1-r0", Script: "post-upgrade", Status: 1}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseApkScriptErrors = %+v, want %+v", got, want)
	}
	if lines := apkErrorLines(out); !reflect.DeepEqual(lines, []string{"story-pb-1.1-r0.post-upgrade: script exited with error 1"}) {
		t.Errorf("apkErrorLines = %q", lines)
	}
}

func TestSplitApkNameVersion(t *testing.T) {
	for _, tc := range []struct{ in, name, ver string }{
		{"story-pb-1.1-r0", "story-pb", "1.1-r0"},
		{"py3-foo-2-1.0_rc1-r3", "py3-foo-2", "1.0_rc1-r3"},
		{"libc6-compat-1.2.5-r0", "libc6-compat", "1.2.5-r0"},
		{".patchbay-deploy-20240611.093015", ".patchbay-deploy", "20240611.093015"},
		{"no-version-here", "", ""},
		{"-1.0", "", ""},
	} {
		name, ver, ok := splitApkNameVersion(tc.in)
		if name != tc.name || ver != tc.ver || ok != (tc.name != "") {
			t.Errorf("splitApkNameVersion(%q) = %q, %q, %v; want %q, %q", tc.in, name, ver, ok, tc.name, tc.ver)
		}
	}
}

func TestApkLocked(t *testing.T) {
	for _, tc := range []struct {
		file string
		want bool
	}{
		{"apk/lock-held.stderr", true},
		{"apk/lock-wait.stderr", true},
		{"apk/add-script-fail.stderr", false},
	} {
		if got := apkLocked(string(readTestdata(t, tc.file))); got != tc.want {
			t.Errorf("apkLocked(%s) = %v, want %v", tc.file, got, tc.want)
		}
	}
	if apkLocked("ERROR: Unable to lock database: Read-only file system\n") {
		t.Error("apkLocked: a read-only root is no lock held by another process")
	}
}

func FuzzParseApkInstalled(f *testing.F) {
	seed(f, "apk/installed-before", "apk/installed-broken-virtual", "apk/installed-restored-virtual")
	f.Fuzz(func(t *testing.T, data []byte) {
		pkgs, err := parseApkInstalled(data)
		if err != nil {
			if pkgs != nil {
				t.Fatalf("%d packages with error %v", len(pkgs), err)
			}
			return
		}
		seen := map[string]bool{}
		for _, p := range pkgs {
			if p.Name == "" || p.Version == "" || seen[p.Name] {
				t.Fatalf("bad package %+v", p)
			}
			seen[p.Name] = true
			if tag := p.cacheTag(); tag != "" && len(tag) != 8 {
				t.Fatalf("package %+v: cache tag %q", p, tag)
			}
		}
	})
}

func FuzzParseApkWorld(f *testing.F) {
	seed(f, "apk/world-before", "apk/world-pinned", "apk/world-virtual")
	f.Fuzz(func(t *testing.T, data []byte) {
		deps, err := parseApkWorld(data)
		if err != nil {
			if deps != nil {
				t.Fatalf("%d deps with error %v", len(deps), err)
			}
			return
		}
		for _, d := range deps {
			if d.Name == "" || (d.Op == "") != (d.Version == "") || strings.ContainsAny(d.Name, "@<>=~ \t\n") {
				t.Fatalf("bad dependency %+v", d)
			}
			if again, err := parseApkDep(d.String()); err != nil || again != d {
				t.Fatalf("dependency %+v prints as %q, which parses to %+v, %v", d, d.String(), again, err)
			}
			if _, err := version.ParseAPK(version.APK2, d.Version); err == nil && d.Op != "" && d.Op != "><" && d.Op != "~" {
				if !d.satisfiedBy(d.Version) == (d.Op == "=" || d.Op == "<=" || d.Op == ">=") {
					t.Fatalf("%+v: satisfiedBy(its own version) wrong", d)
				}
			}
		}
	})
}

func FuzzParseApkPolicy(f *testing.F) {
	seed(f, "apk/policy.stdout", "apk/policy-moved.stdout")
	f.Fuzz(func(t *testing.T, data []byte) {
		pols, err := parseApkPolicy(data)
		if err != nil {
			if pols != nil {
				t.Fatalf("%d packages with error %v", len(pols), err)
			}
			return
		}
		for name, vs := range pols {
			if name == "" || strings.ContainsAny(name, " \t") {
				t.Fatalf("package %q", name)
			}
			for _, v := range vs {
				if v.Version == "" || strings.ContainsAny(v.Version, " \t") {
					t.Fatalf("package %q: version %+v", name, v)
				}
				for _, s := range v.Sources {
					if s == "" || s[0] == ' ' {
						t.Fatalf("package %q %s: source %q", name, v.Version, s)
					}
				}
			}
		}
	})
}

func FuzzParseApkProblems(f *testing.F) {
	seed(f, "apk/add-breaks.stderr", "apk/add-held.stderr", "apk/add-nosuch.stderr", "apk/add-script-fail.stderr", "apk/lock-held.stderr")
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, p := range parseApkProblems(string(data)) {
			if p.Label == "" || p.Items == nil || p.String() == "" {
				t.Fatalf("problem %+v", p)
			}
			for k, items := range p.Items {
				for _, item := range items {
					if item == "" || strings.ContainsAny(item, " \t\n") {
						t.Fatalf("problem %+v: %s item %q", p, k, item)
					}
				}
			}
		}
		for _, e := range parseApkScriptErrors(string(data)) {
			if e.Name == "" || e.Version == "" || e.Script == "" {
				t.Fatalf("script error %+v", e)
			}
		}
	})
}
