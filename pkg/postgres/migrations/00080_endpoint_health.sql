-- +goose Up
-- Issue 17: endpoint health. One row per endpoint and hour counts the
-- attempts that reached a verdict (succeeded or failed) and the failed ones
-- among them, kept up to date by the statement that records an attempt
-- (recordAttemptSQL, step attempt_hours), so the health of an endpoint over
-- 24 hours or 30 days reads at most 720 small rows instead of its attempts.
-- The counters are not indexed, so their updates are HOT; the fill factor
-- leaves room on each page for them. Each hour of an endpoint is spread
-- over a few slots (one per connection: see attemptHoursSQL), so that groups
-- of records committed at once rarely wait on one row's lock; readers add them up.
-- The janitor deletes rows older than 31 days.
CREATE TABLE endpoint_attempt_hours (
    endpoint_id text NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
    hour        timestamptz NOT NULL,
    slot        smallint NOT NULL,
    attempts    integer NOT NULL,
    failures    integer NOT NULL,
    PRIMARY KEY (endpoint_id, hour, slot)
) WITH (fillfactor = 50);

-- +goose Down
DROP TABLE endpoint_attempt_hours;
