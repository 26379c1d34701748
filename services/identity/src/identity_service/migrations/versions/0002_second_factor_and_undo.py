"""TOTP failure throttle, recovery codes, "This wasn't me" tokens

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
        ALTER TABLE accounts
            ADD COLUMN totp_failures integer NOT NULL DEFAULT 0,
            ADD COLUMN totp_failures_since timestamptz;

        CREATE TABLE recovery_codes (
            account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
            code_hash bytea NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            used_at timestamptz,
            PRIMARY KEY (account_id, code_hash)
        );

        CREATE TABLE undo_tokens (
            token_hash bytea PRIMARY KEY,
            account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
            created_at timestamptz NOT NULL DEFAULT now(),
            expires_at timestamptz NOT NULL,
            used_at timestamptz
        );
        """
    )


def downgrade() -> None:
    execute_statements(
        """
        DROP TABLE undo_tokens;
        DROP TABLE recovery_codes;
        ALTER TABLE accounts DROP COLUMN totp_failures, DROP COLUMN totp_failures_since;
        """
    )
