-- +goose Up
-- Jobs: one host's work in a deployment. A host has a fetch job (download
-- the targets, keep the installed versions' files) and an install job; a
-- rollback adds a rollback job. attempt grows when a job is retried; a
-- result names its attempt, so a late or repeated result counts once.
CREATE TABLE jobs (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    deployment_id  BIGINT NOT NULL REFERENCES deployments(id),
    host_id        BIGINT NOT NULL,
    ring           INTEGER NOT NULL,
    kind           TEXT NOT NULL,            -- fetch, install, rollback
    attempt        INTEGER NOT NULL DEFAULT 1,
    state          TEXT NOT NULL,            -- pending, running, succeeded, healthy, failed, refused, skipped
    actions        TEXT NOT NULL,            -- JSON: the exact versions to install
    before         TEXT NOT NULL DEFAULT '', -- JSON: versions before, from the host's package database
    after          TEXT NOT NULL DEFAULT '',
    reason         TEXT NOT NULL DEFAULT '',
    output         TEXT NOT NULL DEFAULT '',
    recovered      INTEGER NOT NULL DEFAULT 0,
    handed_at      BIGINT,
    finished_at    BIGINT,
    updated_at     BIGINT NOT NULL,
    UNIQUE (deployment_id, host_id, kind)
);
CREATE INDEX jobs_host ON jobs(host_id, state);
CREATE INDEX jobs_deployment ON jobs(deployment_id, kind, ring, state);

-- What the rollout controller keeps of a running deployment.
ALTER TABLE deployments ADD COLUMN current_ring INTEGER NOT NULL DEFAULT 0;
ALTER TABLE deployments ADD COLUMN last_progress BIGINT;
ALTER TABLE deployments ADD COLUMN wake_at BIGINT;
ALTER TABLE deployments ADD COLUMN auto_rollback INTEGER NOT NULL DEFAULT 1;
ALTER TABLE deployments ADD COLUMN progress_deadline BIGINT NOT NULL DEFAULT 0; -- seconds, 0: none
ALTER TABLE deployments ADD COLUMN keep_until BIGINT;
ALTER TABLE deployments ADD COLUMN forgiven TEXT NOT NULL DEFAULT '{}';        -- JSON: ring -> failures accepted
CREATE INDEX deployments_wake ON deployments(wake_at);

-- +goose Down
DROP INDEX deployments_wake;
ALTER TABLE deployments DROP COLUMN forgiven;
ALTER TABLE deployments DROP COLUMN keep_until;
ALTER TABLE deployments DROP COLUMN progress_deadline;
ALTER TABLE deployments DROP COLUMN auto_rollback;
ALTER TABLE deployments DROP COLUMN wake_at;
ALTER TABLE deployments DROP COLUMN last_progress;
ALTER TABLE deployments DROP COLUMN current_ring;
DROP TABLE jobs;
