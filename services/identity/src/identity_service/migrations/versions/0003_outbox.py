"""transactional outbox for PasswordChanged

Revision ID: 0003
Revises: 0002
"""

from servicekit.messaging.outbox.schema import OUTBOX_TABLE_V1
from servicekit.runtime.migrations import execute_statements

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_statements(OUTBOX_TABLE_V1)


def downgrade() -> None:
    execute_statements("DROP TABLE outbox;")
