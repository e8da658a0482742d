package osv

import (
	"testing"

	"github.com/patchbay/patchbay/internal/version"
)

func TestParseEcosystem(t *testing.T) {
	tests := []struct {
		in            string
		name, release string
		cmp           version.Ecosystem // "" for unsupported
	}{
		{"Debian", "Debian", "", version.Deb},
		{"Debian:12", "Debian", "12", version.Deb},
		{"Debian:4.0", "Debian", "4.0", version.Deb},
		{"Ubuntu:22.04:LTS", "Ubuntu", "22.04:LTS", version.Deb},
		{"Ubuntu:Pro:18.04:LTS", "Ubuntu", "Pro:18.04:LTS", version.Deb},
		{"Alpine:v3.16", "Alpine", "v3.16", version.APK2},
		{"Alpine:v3.22", "Alpine", "v3.22", version.APK2},
		{"Alpine:v3.23", "Alpine", "v3.23", version.APK3},
		{"Alpine:v3.24", "Alpine", "v3.24", version.APK3},
		{"Alpine:edge", "Alpine", "edge", version.APK3},
		{"Alpine", "Alpine", "", ""},
		{"Alpine:vX", "Alpine", "vX", ""},
		{"Rocky Linux:9", "Rocky Linux", "9", version.RPM},
		{"AlmaLinux:9", "AlmaLinux", "9", version.RPM},
		{"Red Hat", "Red Hat", "", version.RPM},
		{"Red Hat:rhel_aus:8.4::appstream", "Red Hat", "rhel_aus:8.4::appstream", version.RPM},
		{"SUSE:Linux Enterprise Server 15 SP5", "SUSE", "Linux Enterprise Server 15 SP5", version.RPM},
		{"Go", "Go", "", version.Go},
		{"PyPI", "PyPI", "", version.PyPI},
		{"npm", "npm", "", version.SemVer},
		{"crates.io", "crates.io", "", version.SemVer},
		{"Maven", "Maven", "", ""},
		{"Packagist", "Packagist", "", ""},
		{"Packagist:https://packages.drupal.org/8", "Packagist", "https://packages.drupal.org/8", ""},
		{"RubyGems", "RubyGems", "", ""},
		{"NuGet", "NuGet", "", ""},
		{"OSS-Fuzz", "OSS-Fuzz", "", ""},
		{"debian:12", "debian", "12", ""}, // names are case-sensitive
		{"", "", "", ""},
	}
	for _, tt := range tests {
		got := ParseEcosystem(tt.in)
		want := Ecosystem{Name: tt.name, Release: tt.release, Comparator: tt.cmp, Supported: tt.cmp != ""}
		if got != want {
			t.Errorf("ParseEcosystem(%q) = %+v, want %+v", tt.in, got, want)
		}
		if got.String() != tt.in {
			t.Errorf("ParseEcosystem(%q).String() = %q", tt.in, got.String())
		}
	}
}
