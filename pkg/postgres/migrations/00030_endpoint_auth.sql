-- +goose Up
-- Issue 14: endpoint authentication and proof of control over the URL.
-- url_userinfo, mtls and oauth are sealed like secrets when HOOKD_MAIN_SECRET
-- is set; '' means none.
ALTER TABLE endpoints
    -- the credentials of the URL ("user:password"), kept out of the url column
    ADD COLUMN url_userinfo text NOT NULL DEFAULT '',
    -- JSON of webhook.EndpointMTLS
    ADD COLUMN mtls text NOT NULL DEFAULT '',
    -- JSON of webhook.EndpointOAuth
    ADD COLUMN oauth text NOT NULL DEFAULT '',
    -- '' (not verified, need not be), 'pendingVerification' or 'verified'
    ADD COLUMN verification text NOT NULL DEFAULT '',
    ADD COLUMN verification_challenge text NOT NULL DEFAULT '',
    ADD COLUMN verified_at timestamptz;

-- +goose Down
-- The credentials of URLs are lost.
ALTER TABLE endpoints
    DROP COLUMN verified_at,
    DROP COLUMN verification_challenge,
    DROP COLUMN verification,
    DROP COLUMN oauth,
    DROP COLUMN mtls,
    DROP COLUMN url_userinfo;
