package demodata

import "embed"

// DebianTracker holds the Debian security tracker's advisory lists
// debian-tracker/DSA/list and debian-tracker/DLA/list as of 2023-04-02, and
// KEV CISA's Known Exploited Vulnerabilities catalog, version 2025.08.25,
// kev/known_exploited_vulnerabilities.json: see debian-tracker/README.md
// and kev/README.md.
//
//go:embed debian-tracker/DSA/list debian-tracker/DLA/list
var DebianTracker embed.FS

// KEV is CISA's KEV catalog; see DebianTracker.
//
//go:embed kev/known_exploited_vulnerabilities.json
var KEV embed.FS
