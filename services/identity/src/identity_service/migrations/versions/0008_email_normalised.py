"""accounts keyed by the platform's one email normalisation

Revision ID: 0008
Revises: 0007

Accounts were unique on ``lower(email)``, which depends on the database's locale: under a libc
UTF-8 locale ``lower('admİn@corp.example')`` is ``admin@corp.example``. The new
``email_normalised`` column holds ``pwreset_contracts.emails.normalise_email(email)``, computed in
Python (the same code that keys lookups), with a unique index; the old index goes.

Existing rows are filled here. Two accounts with the same key, or an address the rule refuses
(a non-ASCII local part), stop the migration with a count and no address: an operator decides
(docs/operations.md), the migration does not pick an account to lose.
"""

import sqlalchemy as sa
from alembic import op
from pwreset_contracts.emails import UnsupportedEmail, normalise_email
from servicekit.runtime.migrations import execute_statements

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE accounts ADD COLUMN email_normalised text")
    bind = op.get_bind()
    keys: dict[str, object] = {}
    refused = 0
    clashes = 0
    for account_id, email in bind.execute(sa.text("SELECT id, email FROM accounts")).all():
        try:
            key = normalise_email(email)
        except UnsupportedEmail:
            refused += 1
            continue
        if key in keys:
            clashes += 1
            continue
        keys[key] = account_id
        bind.execute(
            sa.text("UPDATE accounts SET email_normalised = :key WHERE id = :id"),
            {"key": key, "id": account_id},
        )
    if refused or clashes:
        raise RuntimeError(
            f"0008 (email normalised): {refused} account(s) with an address the platform no "
            f"longer accepts and {clashes} account(s) sharing a normalised address with another; "
            "resolve them first (docs/operations.md, 'Email normalisation')"
        )
    execute_statements(
        """
        ALTER TABLE accounts ALTER COLUMN email_normalised SET NOT NULL;
        CREATE UNIQUE INDEX accounts_email_normalised_key ON accounts (email_normalised);
        DROP INDEX accounts_email_key;
        -- Pending registrations keep the address as typed; their key is computed when the
        -- account is created (registrations.complete).
        """
    )


def downgrade() -> None:
    execute_statements(
        """
        CREATE UNIQUE INDEX accounts_email_key ON accounts (lower(email));
        ALTER TABLE accounts DROP COLUMN email_normalised;
        """
    )
