"""a reset request in one statement: its limits, takeover, request row and email in one function

Revision ID: 0005
Revises: 0004

``issue_reset_request`` does in one round trip what ``RequestReset`` did in about fourteen: both
rate limits (``rate_limit_take``, which ``PostgresRateLimits.take`` calls too), the takeover of
the account's newest open request (``ResetRequest.issue``), the revocation, the new row, and its
email: into the outbox with a NOTIFY for the relay, or over the account's limit coalesced into
the account's one pending email (``PendingEmail``). The rules are the domain's
(``domain/rate_limits.py``, ``domain/reset_request.py``), written here in SQL; the unit tests
check them on the fakes, ``tests/integration`` on this function.

``p_keep`` false (an unknown email) runs every statement alike and then undoes all of it but
the rate-limit hits: the block's subtransaction is rolled back by the exception it catches,
the savepoint the use case used to take, inside the function (docs/security.md).
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# The lock key the rate limits always used: concurrent requests of one subject queue on it, and
# the deferred-email sender takes the account's the same way.
RATE_LIMIT_LOCK = """
CREATE FUNCTION rate_limit_lock(p_scope text, p_subject bytea) RETURNS void
LANGUAGE sql AS $$
    SELECT pg_advisory_xact_lock(hashtextextended(p_scope || encode(p_subject, 'hex'), 0))
$$
"""

# Limit.decide: room if fewer than max hits in the window ending now; if full, the whole seconds
# until the oldest leaves it (at least 1). A hit is counted only when there was room.
RATE_LIMIT_TAKE = """
CREATE FUNCTION rate_limit_take(
    p_scope text, p_subject bytea, p_max_hits integer, p_window interval, p_now timestamptz,
    OUT allowed boolean, OUT retry_after_seconds integer
) LANGUAGE plpgsql AS $$
DECLARE
    hits bigint;
    oldest timestamptz;
BEGIN
    PERFORM rate_limit_lock(p_scope, p_subject);
    SELECT count(*), min(at) INTO hits, oldest FROM rate_limit_hits
        WHERE scope = p_scope AND subject = p_subject AND at > p_now - p_window;
    IF hits < p_max_hits THEN
        INSERT INTO rate_limit_hits (scope, subject, at) VALUES (p_scope, p_subject, p_now);
        allowed := true;
        retry_after_seconds := 0;
    ELSE
        allowed := false;
        retry_after_seconds := greatest(1, trunc(
            coalesce(extract(epoch FROM oldest + p_window - p_now), 1) + 0.999)::integer);
    END IF;
END
$$
"""

ISSUE_RESET_REQUEST = """
CREATE FUNCTION issue_reset_request(
    p_now timestamptz,
    p_ip_scope text, p_ip_subject bytea, p_ip_max integer, p_ip_window interval,
    p_account_scope text, p_account_subject bytea, p_account_max integer,
    p_account_window interval,
    p_request_id uuid, p_account_id uuid, p_token_hash bytea, p_code_hash bytea,
    p_hash_key_id text, p_requires_totp boolean, p_expires_at timestamptz,
    p_takes_over_after timestamptz, p_max_carried_codes integer,
    p_event_id uuid, p_topic text, p_key bytea, p_value bytea, p_headers jsonb,
    p_notify_channel text,
    p_keep boolean,
    OUT ip_allowed boolean, OUT retry_after_seconds integer
) LANGUAGE plpgsql AS $$
DECLARE
    by_account record;
    replaced record;
    carried bytea[] := '{}';
    failed integer := 0;
BEGIN
    ip_allowed := true;
    retry_after_seconds := 0;
    -- p_ip_subject NULL: an internal caller, in no client's bucket.
    IF p_ip_subject IS NOT NULL THEN
        SELECT * INTO ip_allowed, retry_after_seconds
            FROM rate_limit_take(p_ip_scope, p_ip_subject, p_ip_max, p_ip_window, p_now);
        IF NOT ip_allowed THEN
            RETURN;  -- refused with nothing written
        END IF;
    END IF;
    -- Under the account's lock from here on: one request of it at a time.
    SELECT * INTO by_account FROM rate_limit_take(
        p_account_scope, p_account_subject, p_account_max, p_account_window, p_now);

    BEGIN  -- a subtransaction: undone below for an unknown email, after the same work
        -- ResetRequest.issue: the newest open request within the window is never dropped;
        -- the new one takes over its codes (same hash key only) and its wrong-code count.
        SELECT code_hash, carried_code_hashes, hash_key_id, failed_attempts INTO replaced
            FROM reset_requests
            WHERE account_id = p_account_id AND used_at IS NULL AND revoked_at IS NULL
              AND created_at > p_takes_over_after AND expires_at > p_now
            ORDER BY created_at DESC LIMIT 1;
        IF FOUND THEN
            failed := replaced.failed_attempts;
            IF replaced.hash_key_id = p_hash_key_id THEN
                carried := (array_prepend(replaced.code_hash, replaced.carried_code_hashes))
                    [1:p_max_carried_codes];
            END IF;
        END IF;
        UPDATE reset_requests SET revoked_at = p_now
            WHERE account_id = p_account_id AND used_at IS NULL AND revoked_at IS NULL;
        INSERT INTO reset_requests
            (id, account_id, token_hash, code_hash, hash_key_id, requires_totp, created_at,
             expires_at, carried_code_hashes, failed_attempts)
            VALUES (p_request_id, p_account_id, p_token_hash, p_code_hash, p_hash_key_id,
                    p_requires_totp, p_now, p_expires_at, carried, failed);

        IF by_account.allowed THEN
            INSERT INTO outbox (event_id, topic, key, value, headers)
                VALUES (p_event_id, p_topic, p_key, p_value, p_headers);
            -- Delivered at commit, so the relay never wakes for a row it cannot see yet.
            PERFORM pg_notify(p_notify_channel, '');
            -- The email going out now carries a newer link than any pending one.
            DELETE FROM deferred_emails WHERE account_id = p_account_id;
        ELSE
            -- Over the account's limit: the email waits, coalesced, for room in the window.
            INSERT INTO deferred_emails
                (account_id, request_id, limit_subject, due_at, event_id, topic, key, value,
                 headers)
                VALUES (p_account_id, p_request_id, p_account_subject,
                        p_now + make_interval(secs => by_account.retry_after_seconds),
                        p_event_id, p_topic, p_key, p_value, p_headers)
                ON CONFLICT (account_id) DO UPDATE SET
                    request_id = EXCLUDED.request_id, limit_subject = EXCLUDED.limit_subject,
                    due_at = LEAST(deferred_emails.due_at, EXCLUDED.due_at),
                    event_id = EXCLUDED.event_id, topic = EXCLUDED.topic, key = EXCLUDED.key,
                    value = EXCLUDED.value, headers = EXCLUDED.headers;
        END IF;

        -- The one difference between a known and an unknown email, after the same work.
        IF NOT p_keep THEN
            RAISE EXCEPTION USING ERRCODE = 'PW001';
        END IF;
    EXCEPTION WHEN SQLSTATE 'PW001' THEN
        NULL;  -- rolled back to the block's start: only the rate-limit hits stay
    END;
END
$$
"""


def upgrade() -> None:
    # One statement each: a function body holds semicolons of its own.
    for statement in (RATE_LIMIT_LOCK, RATE_LIMIT_TAKE, ISSUE_RESET_REQUEST):
        op.execute(statement)


def downgrade() -> None:
    op.execute(
        "DROP FUNCTION issue_reset_request(timestamptz, text, bytea, integer, interval, text, "
        "bytea, integer, interval, uuid, uuid, bytea, bytea, text, boolean, timestamptz, "
        "timestamptz, integer, uuid, text, bytea, bytea, jsonb, text, boolean)"
    )
    op.execute("DROP FUNCTION rate_limit_take(text, bytea, integer, interval, timestamptz)")
    op.execute("DROP FUNCTION rate_limit_lock(text, bytea)")
