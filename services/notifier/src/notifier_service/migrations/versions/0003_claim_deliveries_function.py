"""claim_deliveries(): a batch's ledger claim in one round trip

Revision ID: 0003
Revises: 0002

Tries the advisory lock of every event, then (holding them) reads and marks 'sending' each one
not settled yet. The two steps must be two statements, so that the rows are read after the locks
are held (a statement reads the rows as they were when it started): inside a VOLATILE function
each statement takes a fresh snapshot, which keeps that order while the notifier waits for one
round trip instead of two (docs/delivery.md, docs/benchmarks.md).
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION claim_deliveries(ids text[], types text[])
        RETURNS TABLE (event_id text, locked boolean, previous_status text, attempts integer)
        LANGUAGE plpgsql VOLATILE AS $claim$
        #variable_conflict use_column
        DECLARE
            held text[];
        BEGIN
            -- Each lock tried once, in its own output row.
            SELECT coalesce(array_agg(tried.id) FILTER (WHERE tried.got), '{}') INTO held
            FROM (
                SELECT w.id, pg_try_advisory_lock(hashtextextended(w.id, 0)) AS got
                FROM unnest(ids) AS w (id)
            ) AS tried;
            -- A new statement, so a new snapshot: what the last holder of each lock left.
            RETURN QUERY
            WITH wanted AS (
                SELECT w.event_id, w.event_type
                FROM unnest(ids, types) AS w (event_id, event_type)
                WHERE w.event_id = ANY (held)
            ), previous AS (
                SELECT d.event_id, d.status, d.attempts
                FROM deliveries d JOIN wanted USING (event_id)
            ), claimed AS (
                INSERT INTO deliveries (event_id, event_type, status, attempts)
                SELECT w.event_id, w.event_type, 'sending', 1
                FROM wanted w LEFT JOIN previous p USING (event_id)
                WHERE p.status IS NULL OR p.status NOT IN ('sent', 'dead_lettered')
                ON CONFLICT (event_id) DO UPDATE
                SET status = 'sending', attempts = deliveries.attempts + 1, updated_at = now()
                RETURNING deliveries.event_id, deliveries.attempts
            )
            SELECT w.event_id, true, p.status, coalesce(c.attempts, p.attempts, 0)
            FROM wanted w LEFT JOIN previous p USING (event_id) LEFT JOIN claimed c USING (event_id)
            UNION ALL
            SELECT w.id, false, NULL::text, 0
            FROM unnest(ids) AS w (id)
            WHERE NOT (w.id = ANY (held));
        END
        $claim$
        """
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION claim_deliveries(text[], text[])")
