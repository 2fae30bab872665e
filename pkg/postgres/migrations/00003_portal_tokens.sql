-- +goose Up
CREATE TABLE portal_tokens (
    id         text PRIMARY KEY,
    org_id     text NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    -- deleting the application revokes its portal tokens
    app_id     text NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    hash       bytea NOT NULL UNIQUE,
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX portal_tokens_expires_at ON portal_tokens (expires_at);

-- +goose Down
DROP TABLE portal_tokens;
