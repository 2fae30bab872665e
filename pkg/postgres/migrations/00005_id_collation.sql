-- +goose Up
-- IDs sort by creation time byte by byte only: under a linguistic collation
-- (en_US, the default of many images) 'msg_2a' < 'msg_2B', which would break
-- list order, before/after filters and id-range scans. Every id column, and
-- every column holding one, gets the C collation whatever the database's.
ALTER TABLE applications ALTER COLUMN id TYPE text COLLATE "C";
ALTER TABLE endpoints ALTER COLUMN id TYPE text COLLATE "C", ALTER COLUMN app_id TYPE text COLLATE "C";
ALTER TABLE messages ALTER COLUMN id TYPE text COLLATE "C", ALTER COLUMN app_id TYPE text COLLATE "C";
ALTER TABLE deliveries ALTER COLUMN id TYPE text COLLATE "C", ALTER COLUMN app_id TYPE text COLLATE "C",
    ALTER COLUMN msg_id TYPE text COLLATE "C", ALTER COLUMN endpoint_id TYPE text COLLATE "C";
ALTER TABLE attempts ALTER COLUMN id TYPE text COLLATE "C", ALTER COLUMN app_id TYPE text COLLATE "C",
    ALTER COLUMN delivery_id TYPE text COLLATE "C", ALTER COLUMN msg_id TYPE text COLLATE "C",
    ALTER COLUMN endpoint_id TYPE text COLLATE "C";
ALTER TABLE portal_tokens ALTER COLUMN app_id TYPE text COLLATE "C";

-- +goose Down
SELECT 1;
