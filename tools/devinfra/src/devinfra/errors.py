"""Errors raised by devinfra; one type so callers can catch infrastructure failures."""

from __future__ import annotations


class InfraError(RuntimeError):
    """A piece of test infrastructure could not be set up, started or stopped."""
