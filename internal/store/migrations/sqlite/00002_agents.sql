-- +goose Up
CREATE TABLE enroll_secrets (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL,
    hash        BLOB NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    created_by  TEXT NOT NULL,
    expires_at  INTEGER,
    max_uses    INTEGER,            -- NULL: no limit
    uses        INTEGER NOT NULL DEFAULT 0,
    revoked_at  INTEGER,
    labels      TEXT NOT NULL DEFAULT '[]', -- JSON array, applied to hosts enrolling with it
    groups_     TEXT NOT NULL DEFAULT '[]'
);

-- Packages, interned once fleet-wide: a host's inventory refers to them by id.
CREATE TABLE packages (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    ecosystem      TEXT NOT NULL,
    name           TEXT NOT NULL,
    version        TEXT NOT NULL,
    arch           TEXT NOT NULL,
    source_name    TEXT NOT NULL,
    source_version TEXT NOT NULL,
    UNIQUE (ecosystem, name, version, arch, source_name, source_version)
);
CREATE INDEX packages_name ON packages(name);
CREATE INDEX packages_source ON packages(source_name);

-- Available updates, interned the same way.
CREATE TABLE updates (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    key            BLOB NOT NULL UNIQUE, -- SHA-256 of every field below
    ecosystem      TEXT NOT NULL,
    name           TEXT NOT NULL,
    arch           TEXT NOT NULL,
    from_version   TEXT NOT NULL,
    to_version     TEXT NOT NULL,
    source_name    TEXT NOT NULL,
    source_version TEXT NOT NULL,
    origin         TEXT NOT NULL,
    archive        TEXT NOT NULL,
    security       INTEGER NOT NULL,
    advisory_type  TEXT NOT NULL,
    severity       TEXT NOT NULL,
    advisory_ids   TEXT NOT NULL
);
CREATE INDEX updates_name ON updates(name);

-- Inventories are content-addressed: hosts with the same packages, updates
-- and source errors share one row. package_ids and update_ids are sorted ids,
-- delta- and varint-encoded.
CREATE TABLE inventories (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    hash          TEXT NOT NULL UNIQUE,
    package_ids   BLOB NOT NULL,
    update_ids    BLOB NOT NULL,
    package_count INTEGER NOT NULL,
    update_count  INTEGER NOT NULL,
    errors        TEXT NOT NULL DEFAULT '[]',
    created_at    INTEGER NOT NULL
);

ALTER TABLE hosts ADD COLUMN token_hash BLOB;
ALTER TABLE hosts ADD COLUMN enroll_secret_id INTEGER REFERENCES enroll_secrets(id);
ALTER TABLE hosts ADD COLUMN possible_duplicate_of INTEGER REFERENCES hosts(id);
ALTER TABLE hosts ADD COLUMN merged_into INTEGER REFERENCES hosts(id);
ALTER TABLE hosts ADD COLUMN inventory_id INTEGER REFERENCES inventories(id);
-- reported_hash is the hash the agent last sent; the stored inventory's own
-- hash differs when sources failed and their last good part was kept.
ALTER TABLE hosts ADD COLUMN reported_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE hosts ADD COLUMN inventory_at INTEGER;
ALTER TABLE hosts ADD COLUMN facts TEXT NOT NULL DEFAULT '{}';
ALTER TABLE hosts ADD COLUMN facts_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE hosts ADD COLUMN boot_time INTEGER;
ALTER TABLE hosts ADD COLUMN time_zone TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX hosts_token ON hosts(token_hash);
CREATE INDEX hosts_machine ON hosts(machine_id);
CREATE INDEX hosts_last_seen ON hosts(last_seen_at);
CREATE INDEX hosts_inventory ON hosts(inventory_id);

-- +goose Down
DROP INDEX hosts_inventory;
DROP INDEX hosts_last_seen;
DROP INDEX hosts_machine;
DROP INDEX hosts_token;
ALTER TABLE hosts DROP COLUMN time_zone;
ALTER TABLE hosts DROP COLUMN boot_time;
ALTER TABLE hosts DROP COLUMN facts_hash;
ALTER TABLE hosts DROP COLUMN facts;
ALTER TABLE hosts DROP COLUMN inventory_at;
ALTER TABLE hosts DROP COLUMN reported_hash;
ALTER TABLE hosts DROP COLUMN inventory_id;
ALTER TABLE hosts DROP COLUMN merged_into;
ALTER TABLE hosts DROP COLUMN possible_duplicate_of;
ALTER TABLE hosts DROP COLUMN enroll_secret_id;
ALTER TABLE hosts DROP COLUMN token_hash;
DROP TABLE inventories;
DROP TABLE updates;
DROP TABLE packages;
DROP TABLE enroll_secrets;
