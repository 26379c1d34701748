"""The reference server: a hello-world FastAPI JSON endpoint, served exactly as the services are.

`python -m bench.hello_app serve --port N` goes through servicekit's `run`, the same function
every service's `serve` command calls, so uvicorn gets the same settings (one process, uvloop and
httptools when installed, no access log, no proxy headers).
"""

from pathlib import Path

from fastapi import FastAPI
from servicekit.runtime.cli import run


def create_app() -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None)

    @app.get("/hello")
    async def hello() -> dict[str, str]:
        return {"message": "hello world"}

    @app.get("/healthz/ready")
    async def ready() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main() -> None:
    run(
        name="hello",
        app_factory="bench.hello_app:create_app",
        migrations_dir=Path(__file__).parent,  # never used: the bench only calls `serve`
        database_url=lambda: "",
    )


if __name__ == "__main__":
    main()
