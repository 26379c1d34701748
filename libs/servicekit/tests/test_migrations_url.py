"""DATABASE_URL -> the URL alembic's engine gets: one host as it is, several hosts (the
failover DSN of docs/delivery.md) in SQLAlchemy's own spelling, with nothing dropped."""

import pytest
from servicekit.runtime.migrations import sqlalchemy_url
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.engine import make_url


def connect_args(database_url: str) -> dict[str, object]:
    _, kwargs = PGDialect_asyncpg().create_connect_args(make_url(sqlalchemy_url(database_url)))
    return dict(kwargs)


def test_one_host_is_kept_as_it_is() -> None:
    url = "postgresql://app:s%40cret@db:5432/reset?ssl=require"
    assert sqlalchemy_url(url) == "postgresql+asyncpg://app:s%40cret@db:5432/reset?ssl=require"


def test_two_hosts_reach_asyncpg_as_two_hosts_with_the_session_attribute() -> None:
    url = "postgresql://app:s%40cret@db-1:5432,db-2:5433/reset?target_session_attrs=read-write"
    assert connect_args(url) == {
        "host": ["db-1", "db-2"],
        "port": [5432, 5433],
        "user": "app",
        "password": "s@cret",
        "database": "reset",
        "target_session_attrs": "read-write",
    }


def test_two_hosts_without_a_query_or_credentials() -> None:
    args = connect_args("postgres://10.0.0.1:5432,10.0.0.2:5432/identity")
    assert args["host"] == ["10.0.0.1", "10.0.0.2"] and args["database"] == "identity"


def test_other_schemes_are_refused() -> None:
    with pytest.raises(ValueError):
        sqlalchemy_url("mysql://db-1,db-2/x")
