"""rate-limit hits, shared by every replica

Revision ID: 0002
Revises: 0001
"""

from servicekit.runtime.migrations import execute_statements

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_statements(
        """
        CREATE TABLE rate_limit_hits (
            id bigserial PRIMARY KEY,
            scope text NOT NULL,
            subject bytea NOT NULL,
            at timestamptz NOT NULL
        );
        CREATE INDEX rate_limit_hits_window ON rate_limit_hits (scope, subject, at);
        """
    )


def downgrade() -> None:
    execute_statements("DROP TABLE rate_limit_hits;")
