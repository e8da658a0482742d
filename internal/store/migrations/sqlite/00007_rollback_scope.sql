-- +goose Up
-- What a rollback in progress covers: 'failed' (the ring's failed hosts,
-- ordered by the threshold) or 'all' (every host the deployment changed,
-- ordered by a person). A host still installing when it was ordered, and
-- finishing after, goes back when the scope covers it.
ALTER TABLE deployments ADD COLUMN rollback_scope TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE deployments DROP COLUMN rollback_scope;
