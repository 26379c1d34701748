"""accounts and sessions

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
        CREATE TABLE accounts (
            id uuid PRIMARY KEY,
            email text NOT NULL,
            password_hash text NOT NULL,
            totp_secret_enc bytea,
            totp_enabled boolean NOT NULL DEFAULT false,
            totp_last_step bigint,
            created_at timestamptz NOT NULL DEFAULT now(),
            password_changed_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE UNIQUE INDEX accounts_email_key ON accounts (lower(email));

        CREATE TABLE sessions (
            id uuid PRIMARY KEY,
            account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
            token_hash bytea NOT NULL UNIQUE,
            created_at timestamptz NOT NULL DEFAULT now(),
            expires_at timestamptz NOT NULL,
            revoked_at timestamptz
        );
        CREATE INDEX sessions_account_active ON sessions (account_id) WHERE revoked_at IS NULL;
        """
    )


def downgrade() -> None:
    execute_statements("DROP TABLE sessions;\nDROP TABLE accounts;")
