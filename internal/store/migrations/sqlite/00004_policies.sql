-- +goose Up
-- Policies: the row holds what listings and the scheduler need; every
-- version's full text is kept in policy_versions, so a deployment made
-- under version N can always show what N said.
CREATE TABLE policies (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL UNIQUE,
    version     INTEGER NOT NULL,
    enabled     INTEGER NOT NULL,
    priority    INTEGER NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE policy_versions (
    policy_id   BIGINT NOT NULL REFERENCES policies(id),
    version     INTEGER NOT NULL,
    spec        TEXT NOT NULL,          -- the policy as JSON
    created_by  BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (policy_id, version)
);

-- Exceptions (accepted risk). grp is the host group scope.
CREATE TABLE exceptions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    advisory      TEXT NOT NULL DEFAULT '',
    package       TEXT NOT NULL DEFAULT '',
    grp           TEXT NOT NULL DEFAULT '',
    reason        TEXT NOT NULL,
    state         TEXT NOT NULL,
    expires_at    BIGINT NOT NULL,
    requested_by  BIGINT NOT NULL,
    created_at    BIGINT NOT NULL
);
CREATE INDEX exceptions_state ON exceptions(state, expires_at);

-- Deployments. key makes a scheduler's proposal idempotent: one per
-- policy, version, zone and window. spec holds windows, rings and reboot.
CREATE TABLE deployments (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT NOT NULL,
    key             TEXT UNIQUE,
    state           TEXT NOT NULL,
    reason          TEXT NOT NULL,
    detail          TEXT NOT NULL DEFAULT '',
    policy_id       BIGINT REFERENCES policies(id),
    policy_version  INTEGER,
    requested_by    BIGINT NOT NULL DEFAULT 0,
    emergency       INTEGER NOT NULL DEFAULT 0,
    window_start    BIGINT,
    window_end      BIGINT,
    spec            TEXT NOT NULL,
    host_count      INTEGER NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX deployments_state ON deployments(state, id);

CREATE TABLE deployment_hosts (
    deployment_id  BIGINT NOT NULL REFERENCES deployments(id),
    host_id        BIGINT NOT NULL,
    ring           INTEGER NOT NULL,
    updates        TEXT NOT NULL,       -- the planned updates as JSON
    PRIMARY KEY (deployment_id, host_id)
);
CREATE INDEX deployment_hosts_host ON deployment_hosts(host_id);

-- Approvals and rejections of deployments and exceptions.
CREATE TABLE approvals (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    deployment_id  BIGINT REFERENCES deployments(id),
    exception_id   BIGINT REFERENCES exceptions(id),
    decision       TEXT NOT NULL,
    by_user        BIGINT NOT NULL,
    comment        TEXT NOT NULL,
    at             BIGINT NOT NULL
);
CREATE INDEX approvals_deployment ON approvals(deployment_id);
CREATE INDEX approvals_exception ON approvals(exception_id);

-- The work queue: each host's available updates with their class, the
-- open findings they fix and a risk score, rebuilt by the planner when an
-- input changes and each day; listings sort by its indexes.
CREATE TABLE host_updates (
    host_id       BIGINT NOT NULL,
    update_id     BIGINT NOT NULL,
    class         TEXT NOT NULL,
    class_reason  TEXT NOT NULL,
    risk          INTEGER NOT NULL,
    fixes         TEXT NOT NULL,        -- advisory ids, comma-separated
    excepted      TEXT NOT NULL,        -- those an active exception covers
    kev           INTEGER NOT NULL,
    severity      TEXT NOT NULL,
    first_seen    BIGINT NOT NULL,
    PRIMARY KEY (host_id, update_id)
);
CREATE INDEX host_updates_risk ON host_updates(risk DESC, host_id, update_id);
CREATE INDEX host_updates_class ON host_updates(class, risk DESC, host_id, update_id);

-- Each host's findings against its SLA, as of the planner's last pass.
CREATE TABLE host_sla (
    host_id     BIGINT PRIMARY KEY,
    open        INTEGER NOT NULL,
    overdue     INTEGER NOT NULL,
    due_soon    INTEGER NOT NULL,
    excepted    INTEGER NOT NULL,
    oldest_due  BIGINT
);

-- The scheduler's marks: per policy and host zone, the end of the last
-- window acted on or missed (see internal/window.Due).
CREATE TABLE schedule_marks (
    policy_id  BIGINT NOT NULL,
    zone       TEXT NOT NULL,
    mark       BIGINT NOT NULL,
    PRIMARY KEY (policy_id, zone)
);

-- +goose Down
DROP TABLE schedule_marks;
DROP TABLE host_sla;
DROP TABLE host_updates;
DROP TABLE approvals;
DROP TABLE deployment_hosts;
DROP TABLE deployments;
DROP TABLE exceptions;
DROP TABLE policy_versions;
DROP TABLE policies;
