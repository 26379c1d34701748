"""delivery ledger

Revision ID: 0001
Revises:
"""

from servicekit.runtime.migrations import execute_statements

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_statements(
        """
        CREATE TABLE deliveries (
            event_id text PRIMARY KEY,
            event_type text NOT NULL,
            sent_at timestamptz NOT NULL DEFAULT now()
        );
        """
    )


def downgrade() -> None:
    execute_statements("DROP TABLE deliveries;")
