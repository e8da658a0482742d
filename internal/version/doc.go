// Package version orders package versions the way each ecosystem's own tool
// does, so that "is the installed version older than the fixed one?" gets the
// answer the package manager on the host would give.
//
// Compare(eco, a, b) parses and compares two version strings; ParseDeb,
// ParseRPM, ParseAPK, ParseSemVer, ParseGo and ParsePyPI parse one version
// for repeated comparison, and Parse does the same for any Ecosystem.
// Comparing does not allocate.
//
// The orderings and what each is checked against (see the tests):
//
//   - Deb: dpkg's, epoch:upstream-revision, '~' before everything, letters
//     before other characters, digits as numbers. ParseDeb accepts exactly
//     what dpkg --compare-versions accepts (it only warns about an upstream
//     version that does not start with a digit); ParseDebStrict also holds
//     Debian Policy. Tested against dpkg --compare-versions on thousands of
//     generated pairs, versions dpkg refuses included.
//   - RPM: rpm's rpmverCmp on [epoch:]version[-release] (a missing epoch is
//     0, a missing release sorts first), each field by rpmvercmp with '~'
//     (pre-release) and '^' (snapshot). Tested against rpm's Lua (rpm.vercmp
//     and rpm.ver) on tens of thousands of generated pairs.
//   - APK2 and APK3: apk-tools 2.x and 3.x, which disagree on some versions
//     (leading zeros after a dot, ~commit-hash suffixes, versions with long
//     digit runs, what is valid). Alpine 3.23 is the first release with
//     apk-tools 3 (its release notes, 2025-12-03); APKForRelease maps a
//     release to its ordering. Tested against 20,000 pairs that each
//     apk-tools labelled, validity included, and apk-tools' own test vectors.
//   - SemVer: SemVer 2.0.0 precedence, build metadata ignored, no "v".
//   - Go: Go module versions, "v" optional (OSV leaves it out), pseudo-
//     versions ordered as the SemVer pre-releases they are, "+incompatible".
//   - PyPI: PEP 440, with its normalisation of other spellings (1.0RC1,
//     1.0-post1, v1.0). Tested against the packaging library where python3
//     has it.
package version
