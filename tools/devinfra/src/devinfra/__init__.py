"""Real PostgreSQL, Kafka and SMTP capture for tests and `make run`.

Entry points: `start_infrastructure` (context manager), the pytest fixture `infra`
(devinfra.pytest_plugin) and `python -m devinfra up`.
"""

from devinfra.errors import InfraError
from devinfra.mailbox import Mailbox, MaildirMailbox, MailpitMailbox
from devinfra.providers import Infrastructure, detect_docker, plan_providers, start_infrastructure

__all__ = [
    "InfraError",
    "Infrastructure",
    "Mailbox",
    "MaildirMailbox",
    "MailpitMailbox",
    "detect_docker",
    "plan_providers",
    "start_infrastructure",
]
