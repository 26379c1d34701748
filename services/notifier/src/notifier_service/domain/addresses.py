"""Masking email addresses inside free text (SMTP replies, validation errors)."""

import re

from servicekit.runtime.logging import mask_email

_EMAIL = re.compile(r"[^\s<>@,;:\"']+@[^\s<>@,;:\"']+")


def scrub(text: str) -> str:
    """SMTP replies often quote the recipient: mask addresses before logging or dead-lettering."""
    return _EMAIL.sub(lambda m: mask_email(m.group()), text)
