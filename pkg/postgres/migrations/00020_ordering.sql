-- +goose Up
-- Ordered delivery per key (docs/delivery.md, "Ordering"). A message may
-- carry an ordering key; an endpoint with ordering 'strict' orders all its
-- messages under the key ''.
ALTER TABLE messages ADD COLUMN ordering_key text;
ALTER TABLE endpoints ADD COLUMN ordering text NOT NULL DEFAULT 'none';

-- A delivery in an ordering key: held while an earlier one of its key is
-- not done (status pending, nothing scheduled), in the key's order seq.
ALTER TABLE deliveries ADD COLUMN ordering_key text;
ALTER TABLE deliveries ADD COLUMN ordering_seq bigint;
ALTER TABLE deliveries ADD COLUMN held boolean NOT NULL DEFAULT false;
CREATE INDEX deliveries_held ON deliveries (endpoint_id, ordering_key, ordering_seq) WHERE held;

-- One row per (endpoint, key) in use: it serialises the key's publishes and
-- releases (its row lock), numbers its deliveries, and names the head, the
-- one delivery of the key that may be attempted (NULL: the key is idle,
-- nothing is held). head_since is when the head became head.
CREATE TABLE ordering_keys (
    endpoint_id      text NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
    key              text NOT NULL,
    last_seq         bigint NOT NULL,
    head_delivery_id text,
    head_since       timestamptz NOT NULL,
    -- message.ordering.blocked was sent for the current head
    alerted          boolean NOT NULL DEFAULT false,
    PRIMARY KEY (endpoint_id, key)
);
CREATE INDEX ordering_keys_head_since ON ordering_keys (head_since);

-- hookd_release_ordering_key hands the key (endpoint_id, key) from its head
-- p_done, which is done, to its next held delivery in the key's order,
-- which becomes due at p_now; with none held the key goes idle. It returns
-- the released delivery's id, or NULL (nothing held, or p_done was not the
-- head).
--
-- It runs its statements one by one, each with a fresh snapshot: it first
-- waits for the key's row lock, so a publish of the key that held it has
-- committed, and only then looks for the next held delivery, which may be
-- that publish's. A delivery that stops being held while it waits for it (a
-- resend that succeeded) is passed over for the next one.
-- +goose StatementBegin
CREATE FUNCTION hookd_release_ordering_key(p_endpoint_id text, p_key text, p_done text,
    p_now timestamptz, p_reconcile_at timestamptz) RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    next_id text;
BEGIN
    PERFORM 1 FROM ordering_keys
    WHERE endpoint_id = p_endpoint_id AND key = p_key AND head_delivery_id = p_done
    FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    LOOP
        SELECT id INTO next_id FROM deliveries
        WHERE endpoint_id = p_endpoint_id AND ordering_key = p_key AND held AND id <> p_done
        ORDER BY ordering_seq LIMIT 1
        FOR UPDATE;
        EXIT WHEN next_id IS NOT NULL OR NOT EXISTS (
            SELECT 1 FROM deliveries
            WHERE endpoint_id = p_endpoint_id AND ordering_key = p_key AND held AND id <> p_done);
    END LOOP;
    UPDATE ordering_keys SET head_delivery_id = next_id, head_since = p_now, alerted = false
    WHERE endpoint_id = p_endpoint_id AND key = p_key;
    IF next_id IS NOT NULL THEN
        UPDATE deliveries SET held = false, next_attempt_at = p_now, reconcile_at = p_reconcile_at, updated_at = p_now
        WHERE id = next_id;
    END IF;
    RETURN next_id;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION hookd_release_ordering_key;
DROP TABLE ordering_keys;
DROP INDEX deliveries_held;
ALTER TABLE deliveries DROP COLUMN held, DROP COLUMN ordering_seq, DROP COLUMN ordering_key;
ALTER TABLE endpoints DROP COLUMN ordering;
ALTER TABLE messages DROP COLUMN ordering_key;
