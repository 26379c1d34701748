"""reset requests and the transactional outbox

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
        CREATE TABLE reset_requests (
            id uuid PRIMARY KEY,
            account_id uuid NOT NULL,
            token_hash bytea NOT NULL UNIQUE,
            code_hash bytea NOT NULL,
            hash_key_id text NOT NULL,
            requires_totp boolean NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            expires_at timestamptz NOT NULL,
            failed_attempts integer NOT NULL DEFAULT 0,
            used_at timestamptz,
            revoked_at timestamptz
        );
        CREATE INDEX reset_requests_open ON reset_requests (account_id)
            WHERE used_at IS NULL AND revoked_at IS NULL;

        CREATE TABLE outbox (
            id bigserial PRIMARY KEY,
            event_id uuid NOT NULL UNIQUE,
            topic text NOT NULL,
            key bytea NOT NULL,
            value bytea NOT NULL,
            headers jsonb NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            published_at timestamptz
        );
        CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;
        """
    )


def downgrade() -> None:
    execute_statements("DROP TABLE outbox;\nDROP TABLE reset_requests;")
