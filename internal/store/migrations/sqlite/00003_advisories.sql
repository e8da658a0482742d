-- +goose Up
-- Advisories, one row per OSV record id. record is the canonical OSV JSON;
-- the other columns are derived from it (and from KEV and EPSS) so listings
-- sort and filter by an index. seq orders changes: the matcher re-evaluates
-- what changed after the seq it last finished.
CREATE TABLE advisories (
    id            TEXT PRIMARY KEY,
    modified      INTEGER NOT NULL,
    published     INTEGER,
    withdrawn     INTEGER,
    summary       TEXT NOT NULL DEFAULT '',
    severity      TEXT NOT NULL,          -- critical … none, or unknown
    severity_step TEXT NOT NULL,          -- cvss, ecosystem, linked, none
    severity_why  TEXT NOT NULL,
    cvss_score    REAL,
    kev           INTEGER NOT NULL DEFAULT 0,  -- a linked CVE is known exploited
    kev_due       INTEGER,                     -- its earliest CISA due date
    epss          REAL,                        -- the highest EPSS probability of a linked CVE
    source        TEXT NOT NULL,
    record        BLOB NOT NULL,
    imported_at   INTEGER NOT NULL,
    seq           INTEGER NOT NULL
);
CREATE INDEX advisories_seq ON advisories(seq);

-- The (ecosystem name, package name) pairs an advisory names; ecosystem
-- without its release ("Debian", not "Debian:12").
CREATE TABLE advisory_names (
    ecosystem   TEXT NOT NULL,
    name        TEXT NOT NULL,
    advisory_id TEXT NOT NULL REFERENCES advisories(id) ON DELETE CASCADE,
    PRIMARY KEY (ecosystem, name, advisory_id)
);
CREATE INDEX advisory_names_advisory ON advisory_names(advisory_id);

-- CVE ids linked to an advisory through its id, aliases, upstream or related.
CREATE TABLE advisory_cves (
    cve         TEXT NOT NULL,
    advisory_id TEXT NOT NULL REFERENCES advisories(id) ON DELETE CASCADE,
    PRIMARY KEY (cve, advisory_id)
);
CREATE INDEX advisory_cves_advisory ON advisory_cves(advisory_id);

-- One counter row; taking the next seq locks it, so seqs commit in order.
CREATE TABLE advisory_seq (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL
);
INSERT INTO advisory_seq (id, seq) VALUES (1, 0);

CREATE TABLE kev (
    cve        TEXT PRIMARY KEY,
    vendor     TEXT NOT NULL,
    product    TEXT NOT NULL,
    name       TEXT NOT NULL,
    date_added INTEGER NOT NULL,
    due_date   INTEGER,
    ransomware TEXT NOT NULL,
    catalog    TEXT NOT NULL              -- the catalog version it came from
);

CREATE TABLE epss (
    cve        TEXT PRIMARY KEY,
    score      REAL NOT NULL,
    percentile REAL NOT NULL,
    score_date INTEGER NOT NULL,
    model      TEXT NOT NULL DEFAULT ''
);

-- What each import did, for the history and for `feeds ls`.
CREATE TABLE feed_imports (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    source      TEXT NOT NULL,
    kind        TEXT NOT NULL,
    actor       TEXT NOT NULL,
    at          INTEGER NOT NULL,
    added       INTEGER NOT NULL,
    replaced    INTEGER NOT NULL,
    unchanged   INTEGER NOT NULL,
    older       INTEGER NOT NULL,
    problems    INTEGER NOT NULL,
    kev         INTEGER NOT NULL,
    epss        INTEGER NOT NULL
);

-- Feed URLs the server syncs, with the validators of the last answer.
CREATE TABLE feed_sources (
    url            TEXT PRIMARY KEY,
    etag           TEXT NOT NULL DEFAULT '',
    last_modified  TEXT NOT NULL DEFAULT '',
    last_attempt   INTEGER,
    last_success   INTEGER,
    last_error     TEXT NOT NULL DEFAULT '',
    last_summary   TEXT NOT NULL DEFAULT ''
);

-- Findings are host × package × advisory, kept per advisory: pairs holds
-- the sorted (host id, package id) pairs it affects, delta- and
-- varint-encoded, so an advisory's hosts are one row and a full evaluation
-- writes one row per advisory, not one per finding. A host's findings are
-- its evaluated inventory's packages joined with key_hits. since is when
-- the matcher first evaluated the advisory: the first-seen time of its
-- findings that have no event of their own.
CREATE TABLE advisory_hosts (
    advisory_id TEXT PRIMARY KEY,
    pairs       BLOB NOT NULL,
    hosts       INTEGER NOT NULL,      -- distinct hosts in pairs
    fixable     INTEGER NOT NULL,      -- 1 when a fixed version is known for one of them
    since       INTEGER NOT NULL
);
CREATE INDEX advisory_hosts_hosts ON advisory_hosts(hosts);

-- The matcher's evaluations: which advisories affect a key (the ecosystem
-- release, the name advisories use, the version compared), with the fix
-- and the explanation.
CREATE TABLE key_hits (
    ecosystem   TEXT NOT NULL,
    name        TEXT NOT NULL,
    version     TEXT NOT NULL,
    advisory_id TEXT NOT NULL,
    fixed       TEXT NOT NULL,      -- versions that fix it, space-separated; '' when none is known
    why         TEXT NOT NULL,      -- one line per range that holds the version
    PRIMARY KEY (ecosystem, name, version, advisory_id)
);
CREATE INDEX key_hits_advisory ON key_hits(advisory_id);

-- Every change of a finding after its host's and its advisory's first
-- evaluation: opened, fixed, withdrawn.
CREATE TABLE finding_events (
    host_id     INTEGER NOT NULL,
    advisory_id TEXT NOT NULL,
    package_id  INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    status      TEXT NOT NULL,
    installed   TEXT NOT NULL
);
CREATE INDEX finding_events_host ON finding_events(host_id, advisory_id, package_id, at);
CREATE INDEX finding_events_advisory ON finding_events(advisory_id, at);

-- What the matcher last evaluated for each host: the inventory and the
-- platform and kernel its findings reflect, and since when (the first-seen
-- time of the findings it had then).
ALTER TABLE hosts ADD COLUMN findings_inventory_id INTEGER;
ALTER TABLE hosts ADD COLUMN findings_key TEXT NOT NULL DEFAULT '';
CREATE INDEX hosts_findings_inventory ON hosts(findings_inventory_id);
ALTER TABLE hosts ADD COLUMN findings_since INTEGER;

-- The matcher's progress through advisory changes, and the lease that lets
-- one server at a time run it.
CREATE TABLE matcher_state (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    advisory_seq  INTEGER NOT NULL
);
INSERT INTO matcher_state (id, advisory_seq) VALUES (1, 0);

CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);

-- +goose Down
DROP TABLE leases;
DROP TABLE matcher_state;
DROP INDEX hosts_findings_inventory;
ALTER TABLE hosts DROP COLUMN findings_since;
ALTER TABLE hosts DROP COLUMN findings_key;
ALTER TABLE hosts DROP COLUMN findings_inventory_id;
DROP TABLE finding_events;
DROP TABLE key_hits;
DROP TABLE advisory_hosts;
DROP TABLE feed_sources;
DROP TABLE feed_imports;
DROP TABLE epss;
DROP TABLE kev;
DROP TABLE advisory_seq;
DROP TABLE advisory_cves;
DROP TABLE advisory_names;
DROP TABLE advisories;
