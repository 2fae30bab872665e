-- +goose Up
-- The first failure of an endpoint's current run of failures; NULL after a success.
ALTER TABLE endpoints ADD COLUMN failing_since timestamptz;
CREATE INDEX endpoints_failing_since ON endpoints (failing_since) WHERE failing_since IS NOT NULL AND NOT disabled;
-- An organisation's operational-webhook endpoints belong to an internal application,
-- hidden from the application API.
ALTER TABLE applications ADD COLUMN internal boolean NOT NULL DEFAULT false;

-- +goose Down
ALTER TABLE applications DROP COLUMN internal;
DROP INDEX endpoints_failing_since;
ALTER TABLE endpoints DROP COLUMN failing_since;
