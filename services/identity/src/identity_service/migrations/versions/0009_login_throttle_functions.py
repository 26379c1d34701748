"""failed-login counters reserved and given back in one call each

Revision ID: 0009
Revises: 0008

A login used to reserve its attempt in a transaction of its own (insert the missing counters,
lock them, read them, write them, commit: six round trips with the pool's reset) and give it back
on success in another. These two functions do each step in one call, under the same row locks
taken in key order. They are the rules of ``identity_service.domain.login_throttle`` (``reserve``
and ``give_back``) written in SQL; tests/integration/test_login_throttle_sql.py runs both on the
same attempts and compares every counter.

Rules arrive as arrays, one element per scope: free failures, the first delay, the cap.
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

RESERVE = """
CREATE FUNCTION login_throttle_reserve(
    p_keys bytea[], p_free integer[], p_base interval[], p_max interval[],
    p_now timestamptz, p_forget interval
) RETURNS interval
LANGUAGE plpgsql AS $$
-- NULL: the attempt is counted as a failure on every scope. Otherwise how long the most
-- blocked scope still waits, and nothing is counted.
DECLARE
    wait interval;
BEGIN
    INSERT INTO login_throttle (key) SELECT unnest(p_keys) ON CONFLICT (key) DO NOTHING;
    -- In key order, so two attempts never deadlock; held until the caller's statement ends.
    PERFORM 1 FROM login_throttle WHERE key = ANY(p_keys) ORDER BY key FOR UPDATE;
    -- A counter whose last failure is older than p_forget counts as zero (delay included).
    SELECT max(blocked_until - p_now) INTO wait
      FROM login_throttle
     WHERE key = ANY(p_keys)
       AND last_failure_at IS NOT NULL AND p_now - last_failure_at < p_forget
       AND blocked_until > p_now;
    IF wait IS NOT NULL THEN
        RETURN wait;
    END IF;
    UPDATE login_throttle t
       SET failures = c.failures,
           last_failure_at = p_now,
           -- A free failure blocks nothing; then the delay doubles up to the scope's cap.
           blocked_until = CASE WHEN c.failures > c.free THEN p_now + nullif(
               least(c.base * power(2, least(c.failures - c.free - 1, 30)), c.max), '0'
           ) END
      FROM (SELECT r.key, r.free, r.base, r.max,
                   CASE WHEN s.last_failure_at IS NULL OR p_now - s.last_failure_at >= p_forget
                        THEN 0 ELSE s.failures END + 1 AS failures
              FROM unnest(p_keys, p_free, p_base, p_max) AS r(key, free, base, max)
              JOIN login_throttle s ON s.key = r.key) c
     WHERE t.key = c.key;
    RETURN NULL;
END
$$
"""

GIVE_BACK = """
CREATE FUNCTION login_throttle_give_back(
    p_keys bytea[], p_free integer[], p_base interval[], p_max interval[], p_clear boolean[]
) RETURNS void
LANGUAGE plpgsql AS $$
-- The attempt succeeded: a scope with p_clear (the account's own) starts again from zero; the
-- others lose just this attempt and the delay it caused.
BEGIN
    PERFORM 1 FROM login_throttle WHERE key = ANY(p_keys) ORDER BY key FOR UPDATE;
    UPDATE login_throttle t
       SET failures = CASE WHEN r.clear OR t.failures <= 1 THEN 0 ELSE t.failures - 1 END,
           last_failure_at = CASE WHEN r.clear OR t.failures <= 1 THEN NULL
                                  ELSE t.last_failure_at END,
           blocked_until = CASE
               WHEN r.clear OR t.failures - 1 <= r.free OR t.last_failure_at IS NULL THEN NULL
               ELSE t.last_failure_at + nullif(
                   least(r.base * power(2, least(t.failures - 1 - r.free - 1, 30)), r.max), '0'
               )
           END
      FROM unnest(p_keys, p_free, p_base, p_max, p_clear) AS r(key, free, base, max, clear)
     WHERE t.key = r.key;
END
$$
"""


def upgrade() -> None:
    op.execute(RESERVE)
    op.execute(GIVE_BACK)


def downgrade() -> None:
    op.execute(
        "DROP FUNCTION login_throttle_give_back(bytea[], integer[], interval[], interval[],"
        " boolean[])"
    )
    op.execute(
        "DROP FUNCTION login_throttle_reserve(bytea[], integer[], interval[], interval[],"
        " timestamptz, interval)"
    )
