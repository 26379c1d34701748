"""Fixtures of the unit tests: every use case on in-memory fakes (``fakes.py``), no I/O."""

import pytest
from reset_service.service_layer.password_resets import PasswordResets

from .fakes import Clock, FakeDatabase, FakeIdentity, password_resets, policy


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def db(clock: Clock) -> FakeDatabase:
    return FakeDatabase(clock)


@pytest.fixture
def identity() -> FakeIdentity:
    return FakeIdentity()


@pytest.fixture
def resets(db: FakeDatabase, identity: FakeIdentity, clock: Clock) -> PasswordResets:
    return password_resets(db, identity, clock, policy())
