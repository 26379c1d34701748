"""registration requests: an account exists only once its address has proven it receives mail

Revision ID: 0007
Revises: 0006
"""

from servicekit.runtime.migrations import execute_statements

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_statements(
        """
        CREATE TABLE registrations (
            id uuid PRIMARY KEY,
            email text NOT NULL,
            -- Both NULL when the address already had an account: nothing to complete.
            password_hash text,
            token_hash bytea UNIQUE,
            created_at timestamptz NOT NULL DEFAULT now(),
            expires_at timestamptz NOT NULL,
            used_at timestamptz
        );
        CREATE INDEX registrations_expires_at ON registrations (expires_at);
        """
    )


def downgrade() -> None:
    execute_statements("DROP TABLE registrations;")
