-- +goose Up
-- Issue 13: payload filters, transformations, retry schedules per event
-- type and schema-checked publishing (docs/delivery.md "Payload filters",
-- "Transformations", "Retry schedules per event type").
ALTER TABLE endpoints
    -- the CEL expression of the payload filter; NULL: none
    ADD COLUMN filter text,
    -- the transformation (Svix's EndpointTransformationOut): its code (NULL:
    -- none), whether it runs, its variables (a JSON object of strings, sealed
    -- like secrets when HOOKD_MAIN_SECRET is set; '' means none) and when it
    -- was last changed
    ADD COLUMN transformation_code text,
    ADD COLUMN transformation_enabled boolean NOT NULL DEFAULT false,
    ADD COLUMN transformation_variables text NOT NULL DEFAULT '',
    ADD COLUMN transformation_updated_at timestamptz;

-- The endpoints a publish evaluates filters for, per application.
CREATE INDEX endpoints_filtered ON endpoints (app_id) WHERE filter IS NOT NULL;

ALTER TABLE event_types
    -- the delays between attempts of its messages, a JSON array of
    -- nanoseconds (Svix's RetrySchedule); NULL: the global HOOKD_RETRY_SCHEDULE
    ADD COLUMN retry_schedule jsonb,
    -- publishing a payload its newest schema refuses is a 422
    ADD COLUMN enforce_schema boolean NOT NULL DEFAULT false;

-- Why a delivery was not made (4, canceled): "filtered out: no such key:
-- amount", "cancelled by transformation". NULL otherwise.
ALTER TABLE deliveries ADD COLUMN reason text;

-- +goose Down
ALTER TABLE deliveries DROP COLUMN reason;
ALTER TABLE event_types
    DROP COLUMN enforce_schema,
    DROP COLUMN retry_schedule;
DROP INDEX endpoints_filtered;
ALTER TABLE endpoints
    DROP COLUMN transformation_updated_at,
    DROP COLUMN transformation_variables,
    DROP COLUMN transformation_enabled,
    DROP COLUMN transformation_code,
    DROP COLUMN filter;
