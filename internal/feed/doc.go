// Package feed parses the advisory sources patchbay reads besides OSV JSON:
// the Debian security tracker's DSA, DLA and DTSA lists (turned into OSV
// records the way osv.dev's Debian converter does), CISA's Known Exploited
// Vulnerabilities catalog and FIRST's EPSS scores.
//
// A CVE id links them: CVEsOf collects the CVE ids of an OSV record from its
// id, aliases, upstream and related fields alike (the Debian records keep
// their CVEs in upstream), and KEV entries and EPSS scores are keyed by CVE.
//
// A tracker entry or line that cannot be used is returned as a Problem with
// its file, line and reason, never dropped silently; input that is not the
// expected format at all is refused with an error naming the line or entry.
//
// Decisions, where the sources leave room:
//
//   - A release line "[buster] - pkg <not-affected>" produces no affected
//     entry, as in osv.dev's converter; "<unfixed>" and "<end-of-life>"
//     produce a range with only introduced "0" (affected, no fix known).
//   - An entry with no usable release line (an announcement such as
//     "DSA-4205-1 jessie end-of-life", or only <not-affected> lines) produces
//     no record and a Problem, since a record that affects nothing is noise.
//   - Release codenames map to Debian version numbers through DebianReleases
//     (the security tracker's config.json lists codenames, not versions);
//     a codename not in it (sid, which has no version) is a Problem.
//   - A fixed version that dpkg would refuse is a Problem for its line.
//   - The tracker has no modification time; Modified is set to the
//     publication date, as osv.dev's converter does before it consults the
//     web site's history.
package feed
