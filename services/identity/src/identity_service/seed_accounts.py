"""`identity-service seed-accounts`: accounts for development and benchmarks, without the email
round trip that registration takes.

Reads one JSON object per line on stdin, {"email": ..., "password": ...}, and writes one per
line on stdout, {"email": ..., "id": ..., "created": true|false} (false: the address had an
account already). Refused with ENVIRONMENT=production: there, an address becomes an account only
by following the link mailed to it.
"""

import asyncio
import json
import sys
from typing import TextIO

from identity_service import bootstrap
from identity_service.core.config import Settings, get_settings


async def seed(settings: Settings, lines: TextIO, out: TextIO) -> int:
    async with bootstrap.account_seeding(settings) as seeding:

        async def one(line: str) -> dict[str, object]:
            wanted = json.loads(line)
            email = str(wanted["email"]).strip()
            seeded = await seeding.seed(email, str(wanted["password"]))
            return {"email": email, "id": str(seeded.id), "created": seeded.created}

        results = await asyncio.gather(*(one(line) for line in lines if line.strip()))
    for result in results:
        out.write(json.dumps(result) + "\n")
    return len(results)


def main(argv: list[str]) -> None:
    if argv:
        sys.exit("seed-accounts takes no arguments: JSON lines on stdin")
    settings = get_settings()
    if settings.environment == "production":
        sys.exit("seed-accounts is for development and benchmarks; refused in production")
    asyncio.run(seed(settings, sys.stdin, sys.stdout))
