"""credentials epoch (sessions only for the credentials a login verified) and the
consecutive second-factor failure count behind the lockout

Revision ID: 0004
Revises: 0003
"""

from servicekit.runtime.migrations import execute_statements

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_statements(
        """
        ALTER TABLE accounts
            ADD COLUMN credentials_epoch bigint NOT NULL DEFAULT 0,
            ADD COLUMN totp_consecutive_failures integer NOT NULL DEFAULT 0;
        """
    )


def downgrade() -> None:
    execute_statements(
        """
        ALTER TABLE accounts
            DROP COLUMN credentials_epoch, DROP COLUMN totp_consecutive_failures;
        """
    )
