"""outbox lease: relays claim rows for a bounded time instead of holding a transaction

Revision ID: 0003
Revises: 0002
"""

from servicekit.runtime.migrations import execute_statements

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_statements(
        """
        ALTER TABLE outbox ADD COLUMN lease_owner uuid;
        ALTER TABLE outbox ADD COLUMN lease_until timestamptz;
        ALTER TABLE outbox ADD COLUMN attempts integer NOT NULL DEFAULT 0;
        CREATE INDEX outbox_unpublished_by_key ON outbox (key, id) WHERE published_at IS NULL;
        CREATE INDEX outbox_published ON outbox (published_at) WHERE published_at IS NOT NULL;
        """
    )


def downgrade() -> None:
    execute_statements(
        """
        DROP INDEX outbox_published;
        DROP INDEX outbox_unpublished_by_key;
        ALTER TABLE outbox DROP COLUMN attempts;
        ALTER TABLE outbox DROP COLUMN lease_until;
        ALTER TABLE outbox DROP COLUMN lease_owner;
        """
    )
