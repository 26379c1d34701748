"""Fault-injection modes of the SMTP capture server, switched through a small file.

Kept apart from smtp_capture so that importing devinfra never imports the server module
(`python -m devinfra.smtp_capture` would warn about a module imported twice).
"""

from __future__ import annotations

from pathlib import Path

MODES = ("accept", "tempfail", "reject")
REPLIES = {
    "tempfail": "451 4.3.0 Temporarily unavailable (devinfra fault injection)",
    "reject": "550 5.7.1 Rejected (devinfra fault injection)",
}


def default_mode_file(maildir: Path) -> Path:
    return maildir.parent / "smtp-mode"


def read_mode(mode_file: Path) -> str:
    """The mode's first word; "accept" when the file is missing or unreadable."""
    try:
        words = mode_file.read_text().split()
    except OSError:
        return "accept"
    return words[0] if words and words[0] in MODES else "accept"
