package fleet

import (
	"fmt"
	"strings"

	"github.com/patchbay/patchbay/internal/protocol"
	"github.com/patchbay/patchbay/internal/version"
)

// The synthetic images are read from hand-written files in one format
// (data/ubuntu-22.04.txt, data/rocky-9.txt, data/alpine-3.20.txt), one
// source package a line:
//
//	source<TAB>version<TAB>binary binary:arch binary=version ...
//
// A binary inherits the source's version and the ecosystem's default
// architecture unless it names its own (deb binaries with an epoch of their
// own: bsdutils=1:2.37.2-4ubuntu3). rpm versions are EVRs; a binary's
// source version is its EVR without the epoch, as in a source rpm's file
// name. An update line offers a new version of every binary of a source:
//
//	!update<TAB>source<TAB>to-version[<TAB>archive-or-type[<TAB>severity[<TAB>id,id...]]]
//
// The fourth field is the apt archive for deb (jammy-security), the
// updateinfo type for rpm (security, bugfix, enhancement); severity and ids
// are updateinfo's.

// syntheticSpec says how to read one synthetic file.
type syntheticSpec struct {
	file        string
	eco         string
	order       version.Ecosystem
	defaultArch string
	origin      string // apt Origin of updates, deb only
}

// syntheticSource is one source line and the binaries it installs.
type syntheticSource struct {
	name, version string
	binaries      []protocol.Package
}

// readSynthetic parses a synthetic image file into its packages and
// updates.
func readSynthetic(spec syntheticSpec) ([]protocol.Package, []protocol.Update, map[string]bool, error) {
	recs, err := readTSV(spec.file, 3, true)
	if err != nil {
		return nil, nil, nil, err
	}
	sources := map[string]*syntheticSource{}
	var pkgs []protocol.Package
	var updates []protocol.Update
	for _, r := range recs {
		f := r.fields
		if f[0] == "!update" {
			s := sources[f[1]]
			if s == nil {
				return nil, nil, nil, fmt.Errorf("data/%s:%d: update of unknown source %s", spec.file, r.line, f[1])
			}
			for _, b := range s.binaries {
				u, ok := syntheticUpdate(spec, s, b, f[2:])
				if !ok {
					return nil, nil, nil, fmt.Errorf("data/%s:%d: cannot derive %s's version", spec.file, r.line, b.Name)
				}
				updates = append(updates, u)
			}
			continue
		}
		if len(f) != 3 {
			return nil, nil, nil, fmt.Errorf("data/%s:%d: %d fields, want 3", spec.file, r.line, len(f))
		}
		if sources[f[0]] != nil {
			return nil, nil, nil, fmt.Errorf("data/%s:%d: source %s listed twice", spec.file, r.line, f[0])
		}
		s := &syntheticSource{name: f[0], version: f[1]}
		srcVer := f[1]
		if spec.eco == "rpm" {
			_, srcVer = splitEpoch(f[1])
		}
		for _, tok := range strings.Fields(f[2]) {
			nameArch, ver, hasVer := strings.Cut(tok, "=")
			if !hasVer {
				ver = f[1]
			}
			name, arch, hasArch := strings.Cut(nameArch, ":")
			if !hasArch {
				arch = spec.defaultArch
			}
			b := newPackage(spec.eco, name, ver, arch, s.name, srcVer)
			s.binaries = append(s.binaries, b)
			pkgs = append(pkgs, b)
		}
		sources[s.name] = s
	}
	names := map[string]bool{}
	for _, p := range pkgs {
		names[p.Name] = true
	}
	return pkgs, updates, names, nil
}

// syntheticUpdate makes the update of binary b of source s to the version
// and metadata of an update line's fields (to-version, then the optional
// ones).
func syntheticUpdate(spec syntheticSpec, s *syntheticSource, b protocol.Package, f []string) (protocol.Update, bool) {
	opt := func(i int) string {
		if i < len(f) {
			return f[i]
		}
		return ""
	}
	srcTo := f[0]
	to := srcTo
	switch spec.eco {
	case "deb":
		var ok bool
		if to, ok = binaryVersion(b.Version, s.version, srcTo, 0); !ok {
			return protocol.Update{}, false
		}
	case "rpm", "apk":
		// A binary with a version of its own gets no derived update, except
		// an rpm with its own epoch on its source's version-release
		// (mod_ssl 1:2.4.57-8.el9 from httpd 2.4.57-8.el9).
		binEpoch, binVR := splitEpoch(b.Version)
		srcEpoch, srcVR := splitEpoch(s.version)
		toEpoch, toVR := splitEpoch(srcTo)
		if binVR != srcVR || binEpoch != srcEpoch && spec.eco == "apk" {
			return protocol.Update{}, false
		}
		if spec.eco == "rpm" {
			to = joinEpoch(binEpoch, toVR)
			if binEpoch == srcEpoch {
				to = joinEpoch(toEpoch, toVR)
			}
			srcTo = toVR
		}
	}
	u := protocol.Update{Ecosystem: spec.eco, Name: b.Name, Arch: b.Arch, FromVersion: b.Version, ToVersion: to}
	if s.name != b.Name {
		u.SourceName = s.name
	}
	if srcTo != to {
		u.SourceVersion = srcTo
	}
	switch spec.eco {
	case "deb":
		u.Origin, u.Archive = spec.origin, opt(1)
		u.Security = strings.HasSuffix(u.Archive, "-security")
	case "rpm":
		u.AdvisoryType, u.Severity = opt(1), opt(2)
		if ids := opt(3); ids != "" {
			u.AdvisoryIDs = strings.Split(ids, ",")
		}
		u.Security = u.AdvisoryType == "security"
	}
	return u, true
}

// ubuntuSuffixes shape a Debian revision like an Ubuntu one: kept as
// Debian's, rebuilt (build1), patched (ubuntu1) or updated in a stable
// release (ubuntu0.22.04.1).
var ubuntuSuffixes = []string{"", "", "build1", "build2", "ubuntu1", "ubuntu1", "ubuntu2", "ubuntu3", "ubuntu0.22.04.1", "ubuntu1.1"}

// ubuntuVersion reshapes a Debian 12 version as an Ubuntu one: without
// Debian's stable marker and binNMU suffix, with a suffix chosen by the
// source's name (so every binary of a source agrees). Synthetic: jammy had
// other upstream versions.
func ubuntuVersion(v, source string) string {
	epoch, rest := splitEpoch(v)
	base, _ := cutMarker(stripBinNMU(rest), 12)
	base = strings.ReplaceAll(base, "~bpo12+", "~bpo22+")
	return joinEpoch(epoch, base+ubuntuSuffixes[fnv64a(source)%uint64(len(ubuntuSuffixes))])
}

// upstreamOf returns the upstream part of a Debian version, without epoch,
// revision and Debian's repacking suffixes (+dfsg, +ds, ~...), for shaping
// rpm and apk versions from it; "" when nothing usable is left.
func upstreamOf(v string) string {
	_, rest := splitEpoch(v)
	if i := strings.LastIndexByte(rest, '-'); i >= 0 {
		rest = rest[:i]
	}
	if i := strings.IndexAny(rest, "+~"); i >= 0 {
		rest = rest[:i]
	}
	return strings.TrimRight(rest, ".")
}
