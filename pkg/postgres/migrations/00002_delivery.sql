-- +goose Up
CREATE TABLE messages (
    id             text PRIMARY KEY,
    org_id         text NOT NULL,
    app_id         text NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    event_type     text NOT NULL,
    event_id       text,
    channels       jsonb,
    tags           jsonb,
    -- the payload's bytes as published (jsonb would reorder keys); NULL once
    -- expunged or past retention
    payload        text,
    retention_days integer NOT NULL,
    created_at     timestamptz NOT NULL
);
CREATE UNIQUE INDEX messages_app_event_id ON messages (app_id, event_id) WHERE event_id IS NOT NULL;
CREATE INDEX messages_app_id ON messages (app_id, id);

CREATE TABLE deliveries (
    id              text PRIMARY KEY,
    org_id          text NOT NULL,
    app_id          text NOT NULL,
    msg_id          text NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    endpoint_id     text NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
    -- 0 success, 1 pending, 2 fail, 3 sending (the contract's MessageStatus)
    status          smallint NOT NULL,
    -- round counts recoveries; round_attempts the scheduled attempts in it
    round           integer NOT NULL DEFAULT 0,
    round_attempts  integer NOT NULL DEFAULT 0,
    -- due time of the next scheduled attempt; NULL once finished
    next_attempt_at timestamptz,
    -- when the reconciler looks at it next if it is still due (lost task)
    reconcile_at    timestamptz,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    UNIQUE (msg_id, endpoint_id)
);
CREATE INDEX deliveries_reconcile ON deliveries (reconcile_at) WHERE reconcile_at IS NOT NULL;
CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id, msg_id);
CREATE INDEX deliveries_endpoint_failed ON deliveries (endpoint_id, created_at) WHERE status = 2;

CREATE TABLE attempts (
    id                   text PRIMARY KEY,
    delivery_id          text NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    org_id               text NOT NULL,
    app_id               text NOT NULL,
    msg_id               text NOT NULL,
    endpoint_id          text NOT NULL,
    -- identifies the task that made the attempt, so each is recorded once
    task_key             text NOT NULL,
    url                  text NOT NULL,
    status               smallint NOT NULL,
    response_status_code integer NOT NULL,
    response             text,
    response_duration_ms bigint NOT NULL,
    trigger_type         smallint NOT NULL,
    created_at           timestamptz NOT NULL,
    UNIQUE (delivery_id, task_key)
);
CREATE INDEX attempts_endpoint ON attempts (endpoint_id, id);
CREATE INDEX attempts_msg ON attempts (msg_id, id);

-- +goose Down
DROP TABLE attempts;
DROP TABLE deliveries;
DROP TABLE messages;
