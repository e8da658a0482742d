// Package risk decides what an available update is worth to a host: which
// of the host's findings it fixes (Fixes), which of the four classes every
// patch falls into and why (Classify), and one explainable number per
// finding and per update to sort them by (FindingValue, ScoreFinding,
// UpdateValue, ScoreUpdate). Everything here is a pure function of its
// arguments: no clock, no store, no configuration. docs/risk.md gives the
// formula with every weight, the reasoning and worked examples; a test
// holds its examples to this code.
//
// Decisions:
//
//   - An update fixes a finding when the version it compares (the source
//     version for deb and apk, the binary's own for rpm and Go, as the
//     matcher compares them) is at or past every version in the finding's
//     Fixed list: that list holds one fixed version per affected range that
//     contains the installed version, and the host stays affected while any
//     one of those ranges still contains it.
//   - Classes, in precedence order: critical (fixes an advisory that is
//     known exploited, has CVSS 9.0 or more, or is rated critical; or an
//     updateinfo security advisory of severity Critical), security (fixes
//     any advisory; comes from a security pocket or origin; updateinfo type
//     security), bugfix (updateinfo bugfix; a point release: the same
//     upstream version with a new Debian revision or rpm release, a stable
//     distribution's -updates pocket, or a Debian stable-update version such
//     as +deb12u8) and feature (updateinfo enhancement or newpackage, a new
//     upstream version, or no signal at all). updateinfo's type, when there
//     is one, is the vendor's word and decides between bugfix and feature
//     before any version heuristics.
//   - Scores are integers from 0 to 1000, computed in integer arithmetic
//     (no transcendental functions, no fused multiply-add to differ between
//     architectures), so two servers agree to the point and a store can keep
//     them in an index. The fast paths (FindingValue, UpdateValue) do not
//     allocate; ScoreFinding and ScoreUpdate add the parts, which sum to the
//     value.
package risk
