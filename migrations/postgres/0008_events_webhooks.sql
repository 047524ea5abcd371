-- Domain events (the outbox) and outbound webhooks.
-- Times are epoch milliseconds; ids are UUIDv7 text.

-- Every domain event, written in the same transaction as the change it reports.
-- `pos` orders them; `dispatched_at` marks those already fanned out to their
-- consumers (webhook deliveries), so a restart neither loses nor repeats one.
CREATE TABLE IF NOT EXISTS domain_events (
    pos           BIGSERIAL PRIMARY KEY,
    id            TEXT UNIQUE NOT NULL,
    business_id   TEXT,                   -- NULL for platform events
    type          TEXT NOT NULL,          -- e.g. doc.created
    subject       TEXT NOT NULL,          -- what it is about (a document name, ...)
    actor         TEXT,                   -- user id, when a user caused it
    data          TEXT NOT NULL,          -- JSON
    at            BIGINT NOT NULL,
    dispatched_at BIGINT
);
CREATE INDEX IF NOT EXISTS domain_events_pending ON domain_events (pos) WHERE dispatched_at IS NULL;

-- Outbound webhook endpoints of a business. `events` is a JSON array of event
-- types and patterns (`doc.*`, `*`). `secret` signs every delivery (HMAC needs
-- it in clear); `previous_secret` also signs until `previous_secret_until`
-- after a rotation, so receivers can switch without missing a delivery.
CREATE TABLE IF NOT EXISTS webhook_endpoints (
    id                    TEXT PRIMARY KEY,
    business_id           TEXT NOT NULL,
    url                   TEXT NOT NULL,
    events                TEXT NOT NULL,
    description           TEXT,
    active                INTEGER NOT NULL DEFAULT 1,
    secret                TEXT NOT NULL,
    previous_secret       TEXT,
    previous_secret_until BIGINT,
    created_by            TEXT NOT NULL,
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS webhook_endpoints_business ON webhook_endpoints (business_id, created_at);

-- One event to one endpoint. UNIQUE (endpoint_id, event_id): the fan-out of an
-- event can never make two. `status` is pending | succeeded | failed; while
-- pending, `next_attempt_at` is when the next attempt is due, or, while an
-- attempt is in flight (`claim` = that attempt's id), when its lease ends.
-- `retrying`: the automatic retries still run; `redeliver`: a manual
-- redelivery was asked for and has not started yet.
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id              TEXT PRIMARY KEY,
    endpoint_id     TEXT NOT NULL,
    business_id     TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT,
    claim           TEXT,
    retrying        INTEGER NOT NULL DEFAULT 1,
    redeliver       INTEGER NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS webhook_deliveries_log ON webhook_deliveries (endpoint_id, id);
CREATE INDEX IF NOT EXISTS webhook_deliveries_finished ON webhook_deliveries (updated_at) WHERE status <> 'pending';

-- Every attempt of a delivery, written when it starts (so one cut short by a
-- stop still shows) and completed with its outcome. `response_excerpt` keeps
-- at most the first 256 characters of the answer.
CREATE TABLE IF NOT EXISTS webhook_attempts (
    id               TEXT PRIMARY KEY,
    delivery_id      TEXT NOT NULL,
    n                BIGINT NOT NULL,
    manual           INTEGER NOT NULL DEFAULT 0,
    at               BIGINT NOT NULL,
    finished         INTEGER NOT NULL DEFAULT 0,
    status_code      BIGINT,
    error            TEXT,
    duration_ms      BIGINT,
    response_excerpt TEXT
);
CREATE INDEX IF NOT EXISTS webhook_attempts_delivery ON webhook_attempts (delivery_id, n);
