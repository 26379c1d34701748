from pathlib import Path

from servicekit.runtime.cli import run

from notifier_service import dead_letters_cli
from notifier_service.core.config import get_settings


def main() -> None:
    run(
        name="notifier-service",
        app_factory="notifier_service.api.main:create_app",
        migrations_dir=Path(__file__).parent / "migrations",
        database_url=lambda: get_settings().database_url,
        commands={
            "dead-letters": (
                "list, show or replay dead letters (see docs/operations.md)",
                dead_letters_cli.main,
            )
        },
    )


if __name__ == "__main__":
    main()
