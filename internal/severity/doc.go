// Package severity scores CVSS vectors and decides the severity of an OSV
// advisory, saying where the answer came from.
//
// Score parses a CVSS v2.0, v3.0, v3.1 or v4.0 vector with
// github.com/pandatix/go-cvss and returns its base score and the qualitative
// rating of that version's specification. Of applies a fixed fallback order
// to a record, because most Debian and Go records carry no CVSS at all:
//
//  1. the record's own CVSS, from the top-level "severity" or from
//     "affected[].severity";
//  2. the record's ecosystem rating: Debian urgency
//     ("affected[].ecosystem_specific.urgency", as in osv.dev's DEBIAN-CVE
//     records), the "Ubuntu" severity type, GitHub's
//     "database_specific.severity" and OSS-Fuzz's
//     "affected[].ecosystem_specific.severity";
//  3. the CVSS of a linked CVE record (an alias or upstream id starting
//     "CVE-"), looked up through a callback;
//  4. Unknown.
//
// Unknown is a level of its own, never Low: an advisory nobody has rated is
// not thereby a minor one, and policy gives it its own SLA.
//
// Decisions:
//
//   - Several CVSS vectors in one record: the newest CVSS version wins (4.0,
//     then 3.1, 3.0, 2.0), and among vectors of that version the highest base
//     score. Versions are not comparable score for score (a v4 8.7 and a v3
//     9.8 for the same flaw are both right), and a record that carries a
//     newer vector gives its newer assessment. Within a version the highest
//     score is the conservative choice when, say, affected entries differ.
//   - The score is the base score in every version. For v4.0 a vector's
//     threat and environmental metrics are set to Not Defined before scoring
//     (CVSS-B); OSV vectors describe the vulnerability, not a deployment.
//   - The vector's own prefix says its version; a CVSS_V3 entry holding a
//     v4.0 vector is scored as v4.0 and the mismatch is noted.
//   - A vector that does not parse is skipped with a note; if none parses the
//     next step is tried.
//   - v2.0 has no Critical: per NVD, 0–3.9 Low, 4.0–6.9 Medium, 7.0–10 High.
//     v3.x and v4.0: 0 None, 0.1–3.9 Low, 4.0–6.9 Medium, 7.0–8.9 High,
//     9.0–10 Critical.
//   - Ecosystem ratings map as follows (case-insensitive). Debian urgency:
//     unimportant and low → Low, medium → Medium, high → High; "not yet
//     assigned" and "end-of-life" are not ratings, so the next step is
//     tried. Ubuntu: negligible and low → Low, medium → Medium, high → High,
//     critical → Critical; untriaged is not a rating. GitHub and OSS-Fuzz:
//     LOW → Low, MODERATE or MEDIUM → Medium, HIGH → High, CRITICAL →
//     Critical. Debian's "unimportant" and Ubuntu's "negligible" map to Low,
//     not None: the record still lists the package as affected, and None
//     would read as "no risk".
//   - Several ecosystem ratings (one urgency per Debian release, say): the
//     highest. Of rates the record, not one affected entry.
//   - Linked records: only aliases and upstream ids are followed, not
//     "related" ones, which the schema defines as different
//     vulnerabilities. Of several linked CVEs (a DSA fixing eight) the
//     highest level wins, then the higher score: the advisory's update fixes
//     them all. Only a linked record's own CVSS is used (step 1), not its
//     ecosystem rating, and links are not followed further.
package severity
