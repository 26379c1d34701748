"""The outbox table the relay works on, for a service's first migration that creates one.

Frozen once a service has run it: a later change needs a new constant and a migration of its own
in every service (reset reached this shape through its migrations 0001 and 0003).
"""

OUTBOX_TABLE_V1 = """
CREATE TABLE outbox (
    id bigserial PRIMARY KEY,
    event_id uuid NOT NULL UNIQUE,
    topic text NOT NULL,
    key bytea NOT NULL,
    value bytea NOT NULL,
    headers jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz,
    lease_owner uuid,
    lease_until timestamptz,
    attempts integer NOT NULL DEFAULT 0
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;
CREATE INDEX outbox_unpublished_by_key ON outbox (key, id) WHERE published_at IS NULL;
CREATE INDEX outbox_published ON outbox (published_at) WHERE published_at IS NOT NULL;
"""
