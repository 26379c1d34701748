"""what a "This wasn't me" token undoes: a password change, or two-factor turned on or off

Revision ID: 0006
Revises: 0005
"""

from servicekit.runtime.migrations import execute_statements

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_statements(
        """
        ALTER TABLE undo_tokens ADD COLUMN kind text NOT NULL DEFAULT 'password_changed'
            CHECK (kind IN ('password_changed', 'second_factor_enabled',
                            'second_factor_disabled'));
        """
    )


def downgrade() -> None:
    execute_statements("ALTER TABLE undo_tokens DROP COLUMN kind;")
