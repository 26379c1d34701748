"""the admin API's audit log: append-only

Revision ID: 0010
Revises: 0009
"""

from alembic import op
from servicekit.runtime.migrations import execute_statements

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_statements(
        """
        CREATE TABLE admin_audit (
            seq bigserial PRIMARY KEY,
            id uuid NOT NULL UNIQUE,
            occurred_at timestamptz NOT NULL,
            actor text NOT NULL CHECK (length(actor) BETWEEN 1 AND 255),
            role text NOT NULL CHECK (role IN ('support', 'admin')),
            action text NOT NULL,
            -- No foreign key: the record outlives the account it names.
            account_id uuid,
            reason text CHECK (length(reason) <= 500)
        );
        CREATE INDEX admin_audit_account ON admin_audit (account_id, seq);
        """
    )
    # Append-only, whatever the code does: a record once written is never changed or removed
    # through the service's own queries. (One statement: its body has semicolons.)
    op.execute(
        """CREATE FUNCTION admin_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'admin_audit is append-only'; END $$"""
    )
    execute_statements(
        """
        CREATE TRIGGER admin_audit_append_only BEFORE UPDATE OR DELETE ON admin_audit
            FOR EACH ROW EXECUTE FUNCTION admin_audit_append_only();
        CREATE TRIGGER admin_audit_no_truncate BEFORE TRUNCATE ON admin_audit
            FOR EACH STATEMENT EXECUTE FUNCTION admin_audit_append_only();
        """
    )


def downgrade() -> None:
    execute_statements("DROP TABLE admin_audit;\nDROP FUNCTION admin_audit_append_only();")
