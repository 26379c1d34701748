"""no denial of reset: codes carried to newer requests, one coalesced email per account pending

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
        ALTER TABLE reset_requests
            ADD COLUMN carried_code_hashes bytea[] NOT NULL DEFAULT '{}';
        CREATE INDEX reset_requests_newest ON reset_requests (account_id, created_at DESC);
        CREATE TABLE deferred_emails (
            account_id uuid PRIMARY KEY,
            request_id uuid NOT NULL,
            limit_subject bytea NOT NULL,
            due_at timestamptz NOT NULL,
            event_id uuid NOT NULL,
            topic text NOT NULL,
            key bytea NOT NULL,
            value bytea NOT NULL,
            headers jsonb NOT NULL
        );
        CREATE INDEX deferred_emails_due ON deferred_emails (due_at);
        """
    )


def downgrade() -> None:
    execute_statements(
        """
        DROP TABLE deferred_emails;
        DROP INDEX reset_requests_newest;
        ALTER TABLE reset_requests DROP COLUMN carried_code_hashes;
        """
    )
