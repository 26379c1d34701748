"""failed-login counters per scope key (account, account + client IP, client IP)

Revision ID: 0005
Revises: 0004
"""

from servicekit.runtime.migrations import execute_statements

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_statements(
        """
        CREATE TABLE login_throttle (
            key bytea PRIMARY KEY,
            failures integer NOT NULL DEFAULT 0,
            last_failure_at timestamptz,
            blocked_until timestamptz
        );
        """
    )


def downgrade() -> None:
    execute_statements("DROP TABLE login_throttle;")
