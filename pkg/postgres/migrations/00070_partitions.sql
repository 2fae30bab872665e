-- +goose Up
-- Time partitions (docs/scaling.md, "PostgreSQL partitions"). messages,
-- deliveries, attempts, message_channels and message_tags are partitioned
-- by their message's time, one partition per UTC day, so that retention
-- drops whole partitions instead of deleting rows, and every index stays
-- the size of a day. The key is an id that starts with the message's KSUID:
--   messages          RANGE (id)           'msg_' || ksuid
--   deliveries        RANGE (id)           'dlv_' || ksuid of the message || endpoint
--   attempts          RANGE (delivery_id)  the delivery's id
--   message_channels,
--   message_tags      RANGE (msg_id)
-- so a lookup by id (a message, a delivery, a delivery's attempts) reads
-- one partition.
--
-- The tables as they are become the partition <table>_legacy, holding
-- every id below the first partition's day (tomorrow, UTC); an empty one
-- holds nothing (ids below 'msg_0' / 'dlv_0'). Retention deletes its rows
-- as they expire and drops it once its upper bound has expired. Locks: the
-- whole migration holds ACCESS EXCLUSIVE on the five tables; what takes time
-- on a loaded database is building three indexes on the legacy tables
-- (messages (app_id, event_id), deliveries (msg_id, endpoint_id), attempts
-- (id)), copying the eventIds, and checking the new foreign keys of
-- attempts and channels against the legacy rows (docs/scaling.md has the
-- steps and measured times).

-- hookd_time_id is webhook.TimeID: the smallest id with prefix for t (a
-- KSUID of t's seconds and nanoseconds and a zero payload, in base62).
-- +goose StatementBegin
CREATE FUNCTION hookd_time_id(p_prefix text, p_t timestamptz) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    epoch numeric := extract(epoch FROM p_t);
    n numeric := (floor(epoch) - 1400000000) * power(2::numeric, 128)
        + floor((epoch - floor(epoch)) * 1000000000) * power(2::numeric, 96);
    digits constant text := '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
    out text := '';
BEGIN
    FOR i IN 1..27 LOOP
        out := substr(digits, mod(n, 62)::int + 1, 1) || out;
        n := div(n, 62);
    END LOOP;
    RETURN p_prefix || out;
END
$$;
-- +goose StatementEnd

-- hookd_ensure_partitions creates the daily partitions of the five tables
-- for p_days days from p_from (UTC days), those missing and not covered by
-- the legacy partition, and returns how many it created. Each is made as a table of its own and then attached,
-- which locks the parent in SHARE UPDATE EXCLUSIVE mode only (reads and
-- writes go on); callers serialise with an advisory lock.
-- +goose StatementBegin
CREATE FUNCTION hookd_ensure_partitions(p_from date, p_days int) RETURNS int
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    created int := 0;
    day date;
    lo timestamptz;
    hi timestamptz;
    t record;
    name text;
    legacy_end text;
BEGIN
    FOR i IN 0..p_days - 1 LOOP
        day := p_from + i;
        lo := day::timestamp AT TIME ZONE 'UTC';
        hi := (day + 1)::timestamp AT TIME ZONE 'UTC';
        FOR t IN SELECT * FROM (VALUES ('messages', 'msg_'), ('deliveries', 'dlv_'), ('attempts', 'dlv_'),
            ('message_channels', 'msg_'), ('message_tags', 'msg_')) AS v(tbl, prefix)
        LOOP
            name := t.tbl || '_p' || to_char(day, 'YYYYMMDD');
            CONTINUE WHEN to_regclass(name) IS NOT NULL;
            -- Days before the end of the legacy partition are in it.
            SELECT substring(pg_get_expr(c.relpartbound, c.oid) FROM $re$TO \('([^']*)'\)$re$) INTO legacy_end
            FROM pg_class c WHERE c.oid = to_regclass(t.tbl || '_legacy');
            CONTINUE WHEN hookd_time_id(t.prefix, lo) COLLATE "C" < legacy_end COLLATE "C";
            EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', name, t.tbl);
            EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', t.tbl, name,
                hookd_time_id(t.prefix, lo), hookd_time_id(t.prefix, hi));
            created := created + 1;
        END LOOP;
    END LOOP;
    RETURN created;
END
$$;
-- +goose StatementEnd

-- The tables as they are, and their indexes, renamed to <table>_legacy.
ALTER TABLE messages RENAME TO messages_legacy;
ALTER INDEX messages_pkey RENAME TO messages_legacy_pkey;
ALTER INDEX messages_app_event_id RENAME TO messages_legacy_app_event_id;
ALTER INDEX messages_app_event_type RENAME TO messages_legacy_app_event_type;
ALTER INDEX messages_app_id RENAME TO messages_legacy_app_id;
ALTER TABLE deliveries RENAME TO deliveries_legacy;
ALTER INDEX deliveries_pkey RENAME TO deliveries_legacy_pkey;
ALTER INDEX deliveries_msg_id_endpoint_id_key RENAME TO deliveries_legacy_msg_id_endpoint_id_key;
ALTER INDEX deliveries_app_status RENAME TO deliveries_legacy_app_status;
ALTER INDEX deliveries_endpoint RENAME TO deliveries_legacy_endpoint;
ALTER INDEX deliveries_endpoint_failed RENAME TO deliveries_legacy_endpoint_failed;
ALTER INDEX deliveries_held RENAME TO deliveries_legacy_held;
ALTER INDEX deliveries_reconcile RENAME TO deliveries_legacy_reconcile;
ALTER TABLE attempts RENAME TO attempts_legacy;
ALTER INDEX attempts_pkey RENAME TO attempts_legacy_pkey;
ALTER INDEX attempts_delivery_id_task_key_key RENAME TO attempts_legacy_delivery_id_task_key_key;
ALTER INDEX attempts_endpoint RENAME TO attempts_legacy_endpoint;
ALTER INDEX attempts_msg RENAME TO attempts_legacy_msg;
ALTER TABLE message_channels RENAME TO message_channels_legacy;
ALTER INDEX message_channels_pkey RENAME TO message_channels_legacy_pkey;
ALTER INDEX message_channels_msg RENAME TO message_channels_legacy_msg;
ALTER TABLE message_tags RENAME TO message_tags_legacy;
ALTER INDEX message_tags_pkey RENAME TO message_tags_legacy_pkey;
ALTER INDEX message_tags_msg RENAME TO message_tags_legacy_msg;

-- The partitioned tables. A unique index must contain the partition key:
-- an eventId is unique per application through message_event_ids below;
-- (msg_id, endpoint_id) is unique since a delivery's id is made of them.
-- Foreign keys between the five tables are gone (dropping a referenced
-- partition would check every referencing row); what they cascaded goes
-- with the application or endpoint (attempts, channels and tags now
-- reference those) or with the partition.
CREATE TABLE messages (LIKE messages_legacy INCLUDING DEFAULTS INCLUDING CONSTRAINTS) PARTITION BY RANGE (id);
ALTER TABLE messages ADD PRIMARY KEY (id);
CREATE INDEX messages_app_id ON messages (app_id, id);
CREATE INDEX messages_app_event_type ON messages (app_id, event_type, id);
CREATE INDEX messages_app_event_id ON messages (app_id, event_id) WHERE event_id IS NOT NULL;
ALTER TABLE messages ADD FOREIGN KEY (app_id) REFERENCES applications (id) ON DELETE CASCADE;

CREATE TABLE deliveries (LIKE deliveries_legacy INCLUDING DEFAULTS INCLUDING CONSTRAINTS) PARTITION BY RANGE (id);
ALTER TABLE deliveries ADD PRIMARY KEY (id);
CREATE INDEX deliveries_msg_endpoint ON deliveries (msg_id, endpoint_id);
CREATE INDEX deliveries_app_status ON deliveries (app_id, status, msg_id) WHERE status <> 0;
CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id, msg_id);
CREATE INDEX deliveries_endpoint_failed ON deliveries (endpoint_id, created_at) WHERE status = 2;
CREATE INDEX deliveries_held ON deliveries (endpoint_id, ordering_key, ordering_seq) WHERE held;
CREATE INDEX deliveries_reconcile ON deliveries (reconcile_at) WHERE reconcile_at IS NOT NULL;
ALTER TABLE deliveries ADD FOREIGN KEY (endpoint_id) REFERENCES endpoints (id) ON DELETE CASCADE;

CREATE TABLE attempts (LIKE attempts_legacy INCLUDING DEFAULTS INCLUDING CONSTRAINTS) PARTITION BY RANGE (delivery_id);
ALTER TABLE attempts ADD UNIQUE (delivery_id, task_key);
CREATE INDEX attempts_id ON attempts (id);
CREATE INDEX attempts_endpoint ON attempts (endpoint_id, id);
CREATE INDEX attempts_msg ON attempts (msg_id, id);
ALTER TABLE attempts ADD FOREIGN KEY (endpoint_id) REFERENCES endpoints (id) ON DELETE CASCADE;

CREATE TABLE message_channels (LIKE message_channels_legacy INCLUDING DEFAULTS INCLUDING CONSTRAINTS) PARTITION BY RANGE (msg_id);
ALTER TABLE message_channels ADD PRIMARY KEY (app_id, channel, msg_id);
CREATE INDEX message_channels_msg ON message_channels (msg_id);
ALTER TABLE message_channels ADD FOREIGN KEY (app_id) REFERENCES applications (id) ON DELETE CASCADE;

CREATE TABLE message_tags (LIKE message_tags_legacy INCLUDING DEFAULTS INCLUDING CONSTRAINTS) PARTITION BY RANGE (msg_id);
ALTER TABLE message_tags ADD PRIMARY KEY (app_id, tag, msg_id);
CREATE INDEX message_tags_msg ON message_tags (msg_id);
ALTER TABLE message_tags ADD FOREIGN KEY (app_id) REFERENCES applications (id) ON DELETE CASCADE;

-- An eventId is unique per application while its message is kept.
CREATE TABLE message_event_ids (
    app_id   text COLLATE "C" NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    event_id text COLLATE "C" NOT NULL,
    msg_id   text COLLATE "C" NOT NULL,
    PRIMARY KEY (app_id, event_id)
);
CREATE INDEX message_event_ids_msg ON message_event_ids (msg_id);
INSERT INTO message_event_ids (app_id, event_id, msg_id)
SELECT app_id, event_id, id FROM messages_legacy WHERE event_id IS NOT NULL;

-- The legacy tables become the first partition: every id below tomorrow's
-- (UTC) partition, or none when they are empty. Attaching checks each row
-- against the bound and builds the indexes the partitioned tables have and
-- they lack.
-- +goose StatementBegin
DO $$
DECLARE
    cutover timestamptz := date_trunc('day', now(), 'UTC') + interval '1 day';
    legacy boolean := EXISTS (SELECT 1 FROM messages_legacy) OR EXISTS (SELECT 1 FROM deliveries_legacy);
    t record;
BEGIN
    FOR t IN SELECT * FROM (VALUES ('messages', 'msg_'), ('deliveries', 'dlv_'), ('attempts', 'dlv_'),
        ('message_channels', 'msg_'), ('message_tags', 'msg_')) AS v(tbl, prefix)
    LOOP
        EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (MINVALUE) TO (%L)', t.tbl, t.tbl || '_legacy',
            CASE WHEN legacy THEN hookd_time_id(t.prefix, cutover) ELSE t.prefix || '0' END);
        -- Rows outside every partition (a worker that did not create
        -- partitions for days) land here instead of failing.
        EXECUTE format('CREATE TABLE %I PARTITION OF %I DEFAULT', t.tbl || '_default', t.tbl);
    END LOOP;
    IF NOT legacy THEN
        PERFORM hookd_ensure_partitions((now() AT TIME ZONE 'UTC')::date, 8);
    ELSE
        PERFORM hookd_ensure_partitions((cutover AT TIME ZONE 'UTC')::date, 7);
    END IF;
END
$$;
-- +goose StatementEnd
DROP INDEX messages_legacy_app_event_id;

-- +goose Down
SELECT 'irreversible: partitions are kept; see docs/scaling.md' WHERE false;
