-- +goose Up
-- When a host's facts the planner reads last changed (OS family, name,
-- release, time zone): check-ins write facts without an audit entry, and
-- the planner's stamp must see them.
ALTER TABLE hosts ADD COLUMN plan_facts_at BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE hosts DROP COLUMN plan_facts_at;
