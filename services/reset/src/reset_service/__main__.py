from pathlib import Path

from servicekit.runtime.cli import run

from reset_service.core.config import get_settings


def main() -> None:
    run(
        name="reset-service",
        app_factory="reset_service.api.main:create_app",
        migrations_dir=Path(__file__).parent / "migrations",
        database_url=lambda: get_settings().database_url,
    )


if __name__ == "__main__":
    main()
