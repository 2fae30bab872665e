-- +goose Up
-- Issue 16: the W3C trace context (traceparent, tracestate) of the span that
-- published a message, when tracing is on, so that every attempt of it, in
-- any process and however late, joins the publisher's trace. NULL: the
-- message was published without tracing. Nullable columns without a default
-- change the catalog only: no table rewrite, the lock is held for an instant.
ALTER TABLE messages
    ADD COLUMN traceparent text,
    ADD COLUMN tracestate text;

-- +goose Down
ALTER TABLE messages
    DROP COLUMN traceparent,
    DROP COLUMN tracestate;
