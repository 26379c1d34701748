"""the language of an account's emails

Revision ID: 0011
Revises: 0010

Set when the person sets a new password (reset passes the language of its Set new password page
along), and read for every email identity announces afterwards (PasswordChanged,
SecondFactorChanged, the fresh reset of "This wasn't me"). Accounts from before are English
until then: that is what their emails were. A BCP 47 tag of at most 35 characters, as the
events' ``locale`` field; the CHECK keeps the column to what the API accepts.
"""

from servicekit.runtime.migrations import execute_statements

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A constant default: PostgreSQL adds the column without rewriting the table.
    execute_statements(
        """
        ALTER TABLE accounts ADD COLUMN locale text NOT NULL DEFAULT 'en'
            CHECK (char_length(locale) <= 35
                   AND locale ~ '^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$');
        """
    )


def downgrade() -> None:
    execute_statements("ALTER TABLE accounts DROP COLUMN locale;")
