-- +goose Up
-- When the ring in progress opened (the deployment started running, moved
-- to its next ring, or was resumed): a deployment's offline grace counts
-- from it, so hosts of a later ring get their own.
ALTER TABLE deployments ADD COLUMN ring_opened_at BIGINT;

-- +goose Down
ALTER TABLE deployments DROP COLUMN ring_opened_at;
