"""The unit of work port: one transaction, and the repositories a use case works through in it.

A use case opens one with ``async with uow_factory() as uow:``, changes what it needs and calls
``await uow.commit()``; leaving the block without commit rolls back, so a use case that fails
half-way writes nothing (cosmicpython's ``unit_of_work.py``). A use case opens a new one for each
step that others must see before the next one runs: an attempt is counted (and committed)
before its password or code is checked. It never holds one open while it hashes or checks.
"""

from collections.abc import Callable
from typing import Protocol

from servicekit.runtime.unit_of_work import UnitOfWorkBase

from identity_service.service_layer.repositories import (
    AccountRepository,
    AuditRepository,
    Outbox,
    RecoveryCodeRepository,
    RegistrationRepository,
    SecurityReads,
    SessionRepository,
    UndoTokenRepository,
)


class UnitOfWork(UnitOfWorkBase, Protocol):
    @property
    def accounts(self) -> AccountRepository: ...

    @property
    def recovery_codes(self) -> RecoveryCodeRepository: ...

    @property
    def sessions(self) -> SessionRepository: ...

    @property
    def undo_tokens(self) -> UndoTokenRepository: ...

    @property
    def registrations(self) -> RegistrationRepository: ...

    @property
    def outbox(self) -> Outbox: ...

    @property
    def audit(self) -> AuditRepository: ...

    @property
    def security(self) -> SecurityReads: ...


# A fresh unit of work per use of it: use cases run side by side, each on its own connection.
UnitOfWorkFactory = Callable[[], UnitOfWork]
