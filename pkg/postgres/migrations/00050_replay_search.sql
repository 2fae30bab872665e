-- +goose Up
-- Bulk replay, replay-missing, cancel-msgs and message search
-- (docs/delivery.md "Replay and cancel", docs/scaling.md "Search").

-- When cancel-msgs was last asked for the endpoint: a queued first attempt
-- of a message published before it reads its delivery, to find it
-- cancelled, before sending.
ALTER TABLE endpoints ADD COLUMN cancelled_at timestamptz;

-- The eventId prefix filter: under the C collation, LIKE 'prefix%' uses
-- the unique index on (app_id, event_id). Equality is byte equality either
-- way, so uniqueness does not change.
ALTER TABLE messages ALTER COLUMN event_id TYPE text COLLATE "C";

-- The deliveries that are not (yet) successful, by application, status
-- and message: the status filter of message lists and search, the
-- pending and retrying deliveries cancel-msgs goes through, and the
-- deliveries a replay queued that are not attempted yet. Success is
-- where nearly every delivery ends, and leaves this index.
CREATE INDEX deliveries_app_status ON deliveries (app_id, status, msg_id) WHERE status <> 0;

-- The event type, channel and tag filters of message lists and search. A
-- message without channels or tags costs the GIN indexes nothing (a
-- containment test implies NOT NULL, so the planner uses them).
CREATE INDEX messages_app_event_type ON messages (app_id, event_type, id);
CREATE INDEX messages_channels ON messages USING gin (channels jsonb_path_ops) WHERE channels IS NOT NULL;
CREATE INDEX messages_tags ON messages USING gin (tags jsonb_path_ops) WHERE tags IS NOT NULL;

-- +goose Down
DROP INDEX messages_tags;
DROP INDEX messages_channels;
DROP INDEX messages_app_event_type;
DROP INDEX deliveries_app_status;
ALTER TABLE messages ALTER COLUMN event_id TYPE text COLLATE "default";
ALTER TABLE endpoints DROP COLUMN cancelled_at;
