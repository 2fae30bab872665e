-- +goose Up
-- An idempotency key belongs to the principal that sent it (an API key or an
-- app-portal token), not to the whole organisation: a response is only ever
-- replayed to whoever it was made for. Records written before have no
-- principal and are never replayed again; they expire within 24 hours.
ALTER TABLE idempotency_keys ADD COLUMN principal text NOT NULL DEFAULT '';
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey;
ALTER TABLE idempotency_keys ADD PRIMARY KEY (org_id, principal, key);

-- +goose Down
DELETE FROM idempotency_keys;
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey;
ALTER TABLE idempotency_keys ADD PRIMARY KEY (org_id, key);
ALTER TABLE idempotency_keys DROP COLUMN principal;
