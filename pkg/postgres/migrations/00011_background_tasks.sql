-- +goose Up
-- Background tasks (recover, and later bulk replay, broadcast ...): what the
-- API answers about them, and the lease by which one worker at a time runs
-- each, in batches, resuming from cursor after a crash.
CREATE TABLE background_tasks (
    id          text PRIMARY KEY,
    org_id      text NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    -- the application it acts on; NULL for a task of the whole organisation
    app_id      text REFERENCES applications (id) ON DELETE CASCADE,
    kind        text NOT NULL,
    status      text NOT NULL CHECK (status IN ('running', 'finished', 'failed')),
    params      jsonb NOT NULL DEFAULT '{}',
    data        jsonb NOT NULL DEFAULT '{}',
    cursor      text NOT NULL DEFAULT '',
    -- failed batches in a row (infrastructure errors); the task gives up after a few
    errors      integer NOT NULL DEFAULT 0,
    -- the worker running it and until when; a running task whose lease has
    -- passed is claimed by any worker
    lease_owner text,
    lease_until timestamptz NOT NULL DEFAULT now(),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX background_tasks_runnable ON background_tasks (lease_until) WHERE status = 'running';
CREATE INDEX background_tasks_org ON background_tasks (org_id, id);

-- +goose Down
DROP TABLE background_tasks;
