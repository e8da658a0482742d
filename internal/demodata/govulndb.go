package demodata

import "embed"

// GoVulnDB holds a subset of the Go vulnerability database: OSV records
// (govulndb/GO-YYYY-NNNN.json) unchanged from the module
// golang.org/x/vulndb, data/osv/. govulndb/README.md says which version,
// how the subset was chosen, and the licence (CC-BY-4.0).
//
//go:embed govulndb/*.json
var GoVulnDB embed.FS
