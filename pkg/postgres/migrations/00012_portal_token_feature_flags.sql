-- +goose Up
-- The feature flags an app-portal token carries (AppPortalAccessIn.featureFlags):
-- event types gated by other flags are invisible to it.
ALTER TABLE portal_tokens ADD COLUMN feature_flags jsonb NOT NULL DEFAULT '[]';

-- +goose Down
ALTER TABLE portal_tokens DROP COLUMN feature_flags;
