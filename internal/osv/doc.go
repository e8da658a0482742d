// Package osv reads advisories in the OSV format (https://ossf.github.io/osv-schema/,
// version 1.7) and answers whether an installed package version is affected.
//
// Parse decodes one record strictly: unknown fields are tolerated, because the
// schema grows by adding fields, but a record that cannot be used is refused
// with an *InvalidError naming the record, the field and the reason, so the
// importer can report it with its file instead of dropping it silently.
//
// Decisions, where the schema leaves room or is stricter than real data:
//
//   - A missing "modified" is accepted: Modified stays the zero time and
//     Record.Warnings says so. The schema requires it, but Debian's older DSA
//     records as published by osv.dev lack it, and refusing them would hide
//     real advisories. A "modified" that is present but not an RFC 3339 time
//     is refused.
//   - An empty or missing "affected" is accepted with a warning: such a record
//     (a Debian DLA listing only upstream CVEs, for one) affects nothing.
//   - Each event must carry exactly one of introduced, fixed, last_affected
//     and limit with a non-empty string value; unknown keys beside it are
//     tolerated. Each range needs at least one event and at least one
//     introduced event (schema: "There must be at least one introduced").
//   - A range that has both fixed and last_affected events is refused: the
//     schema's validation rejects it ("either last_affected or fixed events,
//     but not both").
//   - limit is accepted in every range type, as the schema allows, though it
//     recommends it only for GIT; a limit containing "*" is infinity.
//   - A GIT range needs "repo". Range types other than ECOSYSTEM, SEMVER and
//     GIT are refused: their events cannot be interpreted.
//   - "package" may be absent (GIT-only records); then ECOSYSTEM and SEMVER
//     ranges are refused, since they need an ecosystem. A present package needs
//     ecosystem and name. An affected entry with neither ranges nor versions is
//     refused.
//   - Severity entries need type and score; the score (a CVSS vector) is kept,
//     not scored. Severity both at the top level and in an affected entry is
//     refused, as the schema says it must not happen.
//   - Event versions are not checked against the ecosystem's syntax when
//     parsing (Parse knows no comparator); evaluation reports them.
//
// Evaluation (Affected.Evaluate) follows the schema's IsVulnerable pseudocode:
// exact string membership in "versions", then each ECOSYSTEM or SEMVER range
// whose limits are above the version, walking its events sorted by version
// ("0" lowest; on equal versions introduced first). GIT ranges are ignored:
// they need the repository's commit graph, and a package version is not a
// commit. ECOSYSTEM ranges use the ordering ParseEcosystem maps the ecosystem
// to; SEMVER ranges use SemVer 2.0.0 (Go's ordering for the Go ecosystem)
// whatever the ecosystem, since the schema defines them independently of it.
package osv
