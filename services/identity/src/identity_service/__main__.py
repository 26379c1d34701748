from pathlib import Path

from servicekit.runtime.cli import run

from identity_service import admin_cli, seed_accounts
from identity_service.core.config import get_settings


def main() -> None:
    run(
        name="identity-service",
        app_factory="identity_service.api.main:create_app",
        migrations_dir=Path(__file__).parent / "migrations",
        database_url=lambda: get_settings().database_url,
        commands={
            "seed-accounts": (
                "create accounts from JSON lines on stdin (development and benchmarks only)",
                seed_accounts.main,
            ),
            "admin": (
                "support actions over the admin API (IDENTITY_ADMIN_URL, IDENTITY_ADMIN_TOKEN)",
                admin_cli.run,
            ),
        },
    )


if __name__ == "__main__":
    main()
