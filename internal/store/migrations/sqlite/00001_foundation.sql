-- +goose Up
-- Times are Unix microseconds (UTC) in both engines, so one SQL text serves
-- both and comparisons are exact.
CREATE TABLE users (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL UNIQUE,
    role        TEXT NOT NULL,
    disabled    INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL
);

CREATE TABLE tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      INTEGER NOT NULL REFERENCES users(id),
    name         TEXT NOT NULL,
    hash         BLOB NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    revoked_at   INTEGER,
    last_used_at INTEGER
);
CREATE INDEX tokens_user ON tokens(user_id);

CREATE TABLE audit_events (
    seq         INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id   TEXT NOT NULL,
    before      TEXT,
    after       TEXT,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
);
CREATE INDEX audit_actor ON audit_events(actor, seq);
CREATE INDEX audit_object ON audit_events(object_type, object_id, seq);
CREATE INDEX audit_at ON audit_events(at);

-- The head of the chain: one row, updated with every append. It serialises
-- appends and lets verify notice entries cut off the end.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '');

-- +goose StatementBegin
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
-- +goose StatementEnd

CREATE TABLE hosts (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    hostname        TEXT NOT NULL,
    machine_id      TEXT NOT NULL DEFAULT '',
    os_family       TEXT NOT NULL DEFAULT '',
    os_name         TEXT NOT NULL DEFAULT '',
    os_release      TEXT NOT NULL DEFAULT '',
    os_codename     TEXT NOT NULL DEFAULT '',
    kernel          TEXT NOT NULL DEFAULT '',
    arch            TEXT NOT NULL DEFAULT '',
    criticality     TEXT NOT NULL DEFAULT 'medium',
    owner           TEXT NOT NULL DEFAULT '',
    agent_version   TEXT NOT NULL DEFAULT '',
    reboot_required INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    last_seen_at    INTEGER,
    retired_at      INTEGER
);
CREATE INDEX hosts_owner ON hosts(owner, id);

-- Labels and groups of hosts: kind is 'label' or 'group'.
CREATE TABLE host_tags (
    host_id INTEGER NOT NULL REFERENCES hosts(id),
    kind    TEXT NOT NULL,
    value   TEXT NOT NULL,
    PRIMARY KEY (host_id, kind, value)
);
CREATE INDEX host_tags_value ON host_tags(kind, value, host_id);

-- +goose Down
DROP TABLE host_tags;
DROP TABLE hosts;
DROP TABLE audit_head;
DROP TABLE audit_events;
DROP TABLE tokens;
DROP TABLE users;
