package fleet

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/patchbay/patchbay/internal/protocol"
	"github.com/patchbay/patchbay/internal/version"
)

// ubuntuExcluded are Debian 12 sources of the sample host that an Ubuntu
// 22.04 server would not have, or would have from another source that
// data/ubuntu-22.04.txt lists.
var ubuntuExcluded = []string{"debian-archive-keyring", "kubectl", "python3.11", "postgresql-15", "procps",
	"gcc-defaults", "linux", "osslsigncode", "llvm-toolchain-15", "libcap2"}

// ubuntuDesktopOrDev matches the binaries of the Debian 12 sample host (a
// developer's machine) that a jammy server would not have: development
// headers, Java libraries, debug symbols, documentation, X11, Mesa and
// Wayland.
var ubuntuDesktopOrDev = regexp.MustCompile(`-(dev|java|dbg|doc)$|^(libgl|libx|libegl|libgles|libdrm|libwayland|libice|libsm|x11|xorg)|mesa`)

// ubuntu2204 builds the synthetic Ubuntu 22.04 image: the sources of
// data/ubuntu-22.04.txt, plus every other binary of the Debian 12 sample
// host whose source that file does not list (nor ubuntuExcluded, nor the
// Google Cloud repository's, nor ubuntuDesktopOrDev), its version reshaped
// by ubuntuVersion.
func ubuntu2204() (*Image, error) {
	spec := syntheticSpec{file: "ubuntu-22.04.txt", eco: "deb", order: version.Deb, defaultArch: "amd64", origin: "Ubuntu"}
	pkgs, updates, names, err := readSynthetic(spec)
	if err != nil {
		return nil, err
	}
	im := &Image{
		Name: "ubuntu-22.04", Short: "ubu22", OSID: "ubuntu", VersionID: "22.04", Codename: "jammy",
		PrettyName: "Ubuntu 22.04.4 LTS", Ecosystem: "deb", VersionOrder: version.Deb, Arch: "x86_64",
		Kernel: "5.15.0-107-generic", Synthetic: true, updateArchive: "jammy-updates",
		Provenance: "synthetic: hand-written key sources shaped like jammy's, the rest Debian 12's sample host reshaped",
		osRelease: map[string]string{
			"PRETTY_NAME": "Ubuntu 22.04.4 LTS", "NAME": "Ubuntu", "VERSION_ID": "22.04",
			"VERSION": "22.04.4 LTS (Jammy Jellyfish)", "VERSION_CODENAME": "jammy", "ID": "ubuntu",
			"ID_LIKE": "debian", "HOME_URL": "https://www.ubuntu.com/", "SUPPORT_URL": "https://help.ubuntu.com/",
			"BUG_REPORT_URL":     "https://bugs.launchpad.net/ubuntu/",
			"PRIVACY_POLICY_URL": "https://www.ubuntu.com/legal/terms-and-policies/privacy-policy",
			"UBUNTU_CODENAME":    "jammy",
		},
		protected: setOf(append(debProtected, "linux-image-5.15.0-107-generic", "snapd")),
	}
	listed := map[string]bool{}
	for _, p := range pkgs {
		src, _ := source(p)
		listed[src] = true
	}
	excluded := setOf(ubuntuExcluded)
	deb12, err := debianPackages()
	if err != nil {
		return nil, err
	}
	for _, p := range deb12 {
		src, srcVer := source(p)
		if listed[src] || excluded[src] || names[p.Name] || strings.HasPrefix(src, "google-cloud-") ||
			ubuntuDesktopOrDev.MatchString(p.Name) {
			continue
		}
		pkgs = append(pkgs, newPackage("deb", p.Name, ubuntuVersion(p.Version, src), p.Arch, src, ubuntuVersion(srcVer, src)))
		im.Derived = append(im.Derived, p.Name)
	}
	im.Packages, im.Updates = pkgs, updates
	sortPackages(im.Packages)
	sortUpdates(im.Updates)
	newest, extra, err := bookwormSources(deb12)
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, p := range im.Packages {
		have[p.Name] = true
	}
	for _, name := range extra {
		if !have[name] {
			v := ubuntuVersion(newest[name], name)
			im.pool = append(im.pool, newPackage("deb", name, v, poolArch(name), name, v))
		}
	}
	return im, nil
}

// rocky9 builds the synthetic Rocky Linux 9 image from data/rocky-9.txt.
func rocky9() (*Image, error) {
	spec := syntheticSpec{file: "rocky-9.txt", eco: "rpm", order: version.RPM, defaultArch: "x86_64"}
	pkgs, updates, _, err := readSynthetic(spec)
	if err != nil {
		return nil, err
	}
	im := &Image{
		Name: "rocky-9", Short: "rocky9", OSID: "rocky", VersionID: "9.4",
		PrettyName: "Rocky Linux 9.4 (Blue Onyx)", Ecosystem: "rpm", VersionOrder: version.RPM, Arch: "x86_64",
		Kernel: "5.14.0-427.13.1.el9_4.x86_64", Packages: pkgs, Updates: updates, Synthetic: true,
		Provenance: "synthetic: hand-written source rpms and binaries shaped like Rocky Linux 9.4's",
		osRelease: map[string]string{
			"NAME": "Rocky Linux", "VERSION": "9.4 (Blue Onyx)", "ID": "rocky", "ID_LIKE": "rhel centos fedora",
			"VERSION_ID": "9.4", "PLATFORM_ID": "platform:el9", "PRETTY_NAME": "Rocky Linux 9.4 (Blue Onyx)",
			"ANSI_COLOR": "0;32", "LOGO": "fedora-logo-icon", "CPE_NAME": "cpe:/o:rocky:rocky:9::baseos",
			"HOME_URL": "https://rockylinux.org/", "BUG_REPORT_URL": "https://bugs.rockylinux.org/",
			"SUPPORT_END": "2032-05-31", "ROCKY_SUPPORT_PRODUCT": "Rocky-Linux-9",
			"ROCKY_SUPPORT_PRODUCT_VERSION": "9.4", "REDHAT_SUPPORT_PRODUCT": "Rocky Linux",
			"REDHAT_SUPPORT_PRODUCT_VERSION": "9.4",
		},
		protected: setOf([]string{"bash", "glibc", "glibc-common", "kernel", "kernel-core", "openssl", "openssl-libs",
			"rpm", "rpm-libs", "dnf", "systemd", "rocky-release", "coreutils", "curl", "libcurl", "less"}),
	}
	sortPackages(im.Packages)
	sortUpdates(im.Updates)
	im.pool, err = shapedPool(im, func(up, name string) string {
		return up + "-" + fmt.Sprint(1+fnv64a(name)%5) + ".el9"
	}, "x86_64", "noarch")
	return im, err
}

// alpine320 builds the synthetic Alpine 3.20 image from
// data/alpine-3.20.txt.
func alpine320() (*Image, error) {
	order, err := version.APKForRelease("3.20")
	if err != nil {
		return nil, fmt.Errorf("alpine image: %w", err)
	}
	spec := syntheticSpec{file: "alpine-3.20.txt", eco: "apk", order: order, defaultArch: "x86_64"}
	pkgs, updates, _, err := readSynthetic(spec)
	if err != nil {
		return nil, err
	}
	im := &Image{
		Name: "alpine-3.20", Short: "alp320", OSID: "alpine", VersionID: "3.20.3",
		PrettyName: "Alpine Linux v3.20", Ecosystem: "apk", VersionOrder: order, Arch: "x86_64",
		Kernel: "6.6.49-0-lts", Packages: pkgs, Updates: updates, Synthetic: true,
		Provenance: "synthetic: hand-written origins and subpackages shaped like Alpine 3.20.3's",
		osRelease: map[string]string{
			"NAME": "Alpine Linux", "ID": "alpine", "VERSION_ID": "3.20.3", "PRETTY_NAME": "Alpine Linux v3.20",
			"HOME_URL":       "https://alpinelinux.org/",
			"BUG_REPORT_URL": "https://gitlab.alpinelinux.org/alpine/aports/-/issues",
		},
		protected: setOf([]string{"musl", "busybox", "apk-tools", "alpine-baselayout", "alpine-release", "libcrypto3",
			"libssl3", "openssl", "curl", "libcurl"}),
	}
	sortPackages(im.Packages)
	sortUpdates(im.Updates)
	im.pool, err = shapedPool(im, func(up, name string) string {
		return up + "-r" + fmt.Sprint(fnv64a(name)%4)
	}, "x86_64", "x86_64")
	return im, err
}

// shapedPool makes a synthetic image's pool from the names of Debian 12's
// extra sources, with their upstream versions given the image's release
// suffix by shape; names or versions the image's ecosystem would not
// accept are skipped. Packages Debian installs for all architectures get
// archAll, the others arch.
func shapedPool(im *Image, shape func(upstream, name string) string, arch, archAll string) ([]protocol.Package, error) {
	deb12, err := debianPackages()
	if err != nil {
		return nil, err
	}
	newest, extra, err := bookwormSources(deb12)
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, p := range im.Packages {
		have[p.Name] = true
	}
	var pool []protocol.Package
	for _, name := range extra {
		up := upstreamOf(newest[name])
		if have[name] || up == "" {
			continue
		}
		a := arch
		if poolArch(name) == "all" {
			a = archAll
		}
		v := shape(up, name)
		p := newPackage(im.Ecosystem, name, v, a, name, v)
		if validatePackage(p, im.VersionOrder) == nil {
			pool = append(pool, p)
		}
	}
	return slices.Clip(pool), nil
}
