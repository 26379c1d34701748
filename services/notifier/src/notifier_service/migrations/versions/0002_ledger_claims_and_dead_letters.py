"""ledger claims (a row per attempt in progress) and dead letters

Revision ID: 0002
Revises: 0001

A delivery is claimed ('sending') before the SMTP call and settled ('sent') after it, so a crash
in between is visible on redelivery; 'failed' means the server refused (nothing was accepted).
Rows of 0001 were all sent.
"""

from servicekit.runtime.migrations import execute_statements

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_statements(
        """
        ALTER TABLE deliveries ADD COLUMN status text NOT NULL DEFAULT 'sent'
            CHECK (status IN ('sending', 'failed', 'sent', 'dead_lettered'));
        ALTER TABLE deliveries ADD COLUMN attempts integer NOT NULL DEFAULT 1;
        ALTER TABLE deliveries ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
        ALTER TABLE deliveries ALTER COLUMN sent_at DROP NOT NULL;
        ALTER TABLE deliveries ALTER COLUMN sent_at DROP DEFAULT;
        CREATE INDEX deliveries_updated_at ON deliveries (updated_at);

        CREATE TABLE dead_letters (
            id bigserial PRIMARY KEY,
            event_id text,
            event_type text,
            origin_topic text NOT NULL,
            origin_partition integer NOT NULL,
            origin_offset bigint NOT NULL,
            reason text NOT NULL,
            dead_lettered_at timestamptz NOT NULL DEFAULT now(),
            UNIQUE (origin_topic, origin_partition, origin_offset)
        );
        """
    )


def downgrade() -> None:
    execute_statements(
        """
        DROP TABLE dead_letters;
        DROP INDEX deliveries_updated_at;
        DELETE FROM deliveries WHERE status <> 'sent';
        ALTER TABLE deliveries ALTER COLUMN sent_at SET DEFAULT now();
        ALTER TABLE deliveries ALTER COLUMN sent_at SET NOT NULL;
        ALTER TABLE deliveries DROP COLUMN updated_at;
        ALTER TABLE deliveries DROP COLUMN attempts;
        ALTER TABLE deliveries DROP COLUMN status;
        """
    )
