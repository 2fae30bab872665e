-- +goose Up
-- A throttle rate of 0 used to be accepted on endpoints and meant "no limit"
-- to the worker; it is now refused (at least 1), so stored zeros become the
-- explicit "no limit", NULL. Without this, any later PUT or PATCH of such an
-- endpoint would fail validation on a field it did not touch.
UPDATE endpoints SET throttle_rate = NULL WHERE throttle_rate < 1;

-- +goose Down
SELECT 1;
