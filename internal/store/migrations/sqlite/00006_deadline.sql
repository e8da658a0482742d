-- +goose Up
-- A deployment's deadline: jobs of hosts that did not take them by then
-- (offline through their windows) are skipped, and the rollout goes on.
ALTER TABLE deployments ADD COLUMN deadline BIGINT;

-- +goose Down
ALTER TABLE deployments DROP COLUMN deadline;
