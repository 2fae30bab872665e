-- +goose Up
CREATE TABLE organisations (
    id         text PRIMARY KEY,
    name       text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    id         text PRIMARY KEY,
    org_id     text NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    prefix     text NOT NULL,
    hash       bytea NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE applications (
    id            text PRIMARY KEY,
    org_id        text NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    uid           text,
    name          text NOT NULL,
    metadata      jsonb NOT NULL DEFAULT '{}',
    throttle_rate integer,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);
CREATE UNIQUE INDEX applications_org_uid ON applications (org_id, uid) WHERE uid IS NOT NULL;
CREATE INDEX applications_org_id ON applications (org_id, id);

CREATE TABLE event_types (
    org_id        text NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    name          text NOT NULL,
    description   text NOT NULL,
    archived      boolean NOT NULL DEFAULT false,
    deprecated    boolean NOT NULL DEFAULT false,
    feature_flag  text,
    feature_flags jsonb,
    group_name    text,
    -- the schemas object exactly as given (jsonb would reorder its keys)
    schemas       text,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    PRIMARY KEY (org_id, name)
);

CREATE TABLE endpoints (
    id            text PRIMARY KEY,
    org_id        text NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    app_id        text NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    uid           text,
    url           text NOT NULL,
    description   text NOT NULL DEFAULT '',
    version       integer NOT NULL DEFAULT 1,
    disabled      boolean NOT NULL DEFAULT false,
    filter_types  jsonb,
    channels      jsonb,
    metadata      jsonb NOT NULL DEFAULT '{}',
    throttle_rate integer,
    -- headers, secret and old_secrets are sealed when HOOKD_MAIN_SECRET is set
    headers       text NOT NULL DEFAULT '{}',
    secret        text NOT NULL,
    old_secrets   text NOT NULL DEFAULT '[]',
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);
CREATE UNIQUE INDEX endpoints_app_uid ON endpoints (app_id, uid) WHERE uid IS NOT NULL;
CREATE INDEX endpoints_app_id ON endpoints (app_id, id);

CREATE TABLE idempotency_keys (
    org_id      text NOT NULL,
    key         text NOT NULL,
    request     text NOT NULL,
    status_code integer,
    body        bytea,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, key)
);
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);

-- +goose Down
DROP TABLE idempotency_keys;
DROP TABLE endpoints;
DROP TABLE event_types;
DROP TABLE applications;
DROP TABLE api_keys;
DROP TABLE organisations;
