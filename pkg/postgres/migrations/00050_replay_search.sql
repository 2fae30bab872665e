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

-- The event type filter of message lists and search.
CREATE INDEX messages_app_event_type ON messages (app_id, event_type, id);

-- The channel and tag filters: each channel and tag of a message, in
-- message order under its application, so that a page of a channel is an
-- index walk however many or few messages carry it (a GIN index on the
-- jsonb column finds them in no order: a channel on 1 % of 10 million
-- messages meant sorting 100,000 rows), with statistics of their own.
-- Written by the statement that stores the message; gone with it.
CREATE TABLE message_channels (
    app_id  text COLLATE "C" NOT NULL,
    channel text NOT NULL,
    msg_id  text COLLATE "C" NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    PRIMARY KEY (app_id, channel, msg_id)
);
CREATE INDEX message_channels_msg ON message_channels (msg_id);
CREATE TABLE message_tags (
    app_id text COLLATE "C" NOT NULL,
    tag    text NOT NULL,
    msg_id text COLLATE "C" NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    PRIMARY KEY (app_id, tag, msg_id)
);
CREATE INDEX message_tags_msg ON message_tags (msg_id);
INSERT INTO message_channels (app_id, channel, msg_id)
SELECT m.app_id, c, m.id FROM messages m, jsonb_array_elements_text(m.channels) AS c
WHERE jsonb_typeof(m.channels) = 'array'
ON CONFLICT DO NOTHING;
INSERT INTO message_tags (app_id, tag, msg_id)
SELECT m.app_id, t, m.id FROM messages m, jsonb_array_elements_text(m.tags) AS t
WHERE jsonb_typeof(m.tags) = 'array'
ON CONFLICT DO NOTHING;

-- +goose Down
DROP TABLE message_tags;
DROP TABLE message_channels;
DROP INDEX messages_app_event_type;
DROP INDEX deliveries_app_status;
ALTER TABLE messages ALTER COLUMN event_id TYPE text COLLATE "default";
ALTER TABLE endpoints DROP COLUMN cancelled_at;
