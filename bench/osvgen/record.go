package main

// The OSV record, as far as the corpus fills it (schema 1.6).
type osvRecord struct {
	SchemaVersion    string     `json:"schema_version"`
	ID               string     `json:"id"`
	Modified         string     `json:"modified"`
	Published        string     `json:"published"`
	Withdrawn        string     `json:"withdrawn,omitempty"`
	Aliases          []string   `json:"aliases,omitempty"`
	Upstream         []string   `json:"upstream,omitempty"`
	Summary          string     `json:"summary"`
	Details          string     `json:"details"`
	Affected         []affected `json:"affected"`
	DatabaseSpecific dbSpecific `json:"database_specific"`
}

type dbSpecific struct {
	Generator string `json:"generator"`
	Seed      uint64 `json:"seed"`
	Case      string `json:"case"`
}

type affected struct {
	Package  pkgRef   `json:"package"`
	Ranges   []rng    `json:"ranges,omitempty"`
	Versions []string `json:"versions,omitempty"`
}

type pkgRef struct {
	Ecosystem string `json:"ecosystem"`
	Name      string `json:"name"`
	PURL      string `json:"purl"`
}

type rng struct {
	Type   string  `json:"type"`
	Repo   string  `json:"repo,omitempty"`
	Events []event `json:"events"`
}

// event has exactly one field set.
type event struct {
	Introduced   string `json:"introduced,omitempty"`
	Fixed        string `json:"fixed,omitempty"`
	LastAffected string `json:"last_affected,omitempty"`
	Limit        string `json:"limit,omitempty"`
}

func intro(v string) event { return event{Introduced: v} }

func fixed(v string) event { return event{Fixed: v} }

func lastAffected(v string) event { return event{LastAffected: v} }

func limit(v string) event { return event{Limit: v} }

func eco(events ...event) rng { return rng{Type: "ECOSYSTEM", Events: events} }

func pkg(ecosystem, name string) pkgRef {
	return pkgRef{Ecosystem: ecosystem, Name: name, PURL: "pkg:deb/debian/" + name + "?arch=source"}
}

func entry(ecosystem, name string, ranges ...rng) affected {
	return affected{Package: pkg(ecosystem, name), Ranges: ranges}
}

func one(ecosystem, name string, ranges ...rng) body {
	return body{affected: []affected{entry(ecosystem, name, ranges...)}}
}

func versionsEntry(ecosystem, name string, versions ...string) affected {
	return affected{Package: pkg(ecosystem, name), Versions: versions}
}
