"""How a service process runs: its command line, logs, metrics, traces, database and migrations.

Public API:
- process: ``run`` (``cli``: serve, migrate, extra commands), ``ProductionChecks`` (``production``)
- background work: ``Worker``, ``run_workers``, ``every`` (``workers``), ``Backoff`` (``backoff``)
- observability: ``configure_logging``, ``mask_email`` (``logging``), ``install_telemetry``,
  ``MetricsPortGate`` (``metrics``), ``tracing`` (W3C traceparent in and out), ``otel``
- PostgreSQL: ``create_pool`` (``database``), ``PostgresUnitOfWork`` (``unit_of_work``), and
  ``servicekit.runtime.migrations`` (Alembic helpers; imported only where migrations run, since
  Alembic and SQLAlchemy cost a second and megabytes a serving process does not need)
"""

from servicekit.runtime import otel, tracing
from servicekit.runtime.backoff import Backoff
from servicekit.runtime.database import create_pool
from servicekit.runtime.logging import configure_logging, mask_email
from servicekit.runtime.metrics import MetricsPortGate, install_telemetry
from servicekit.runtime.production import ProductionChecks
from servicekit.runtime.unit_of_work import PostgresUnitOfWork, UnitOfWorkBase
from servicekit.runtime.workers import Worker, every, run_workers

__all__ = [
    "Backoff",
    "MetricsPortGate",
    "PostgresUnitOfWork",
    "ProductionChecks",
    "UnitOfWorkBase",
    "Worker",
    "configure_logging",
    "create_pool",
    "every",
    "install_telemetry",
    "mask_email",
    "otel",
    "run_workers",
    "tracing",
]
