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
import uuid
from typing import TextIO

from pwreset_contracts.emails import normalise_email
from servicekit.runtime.database import create_pool

from identity_service.adapters.accounts_repository import AccountsRepository, EmailTaken
from identity_service.core.config import Settings, get_settings
from identity_service.domain.passwords import Argon2Hasher, PasswordPolicy, check_password


async def seed(settings: Settings, lines: TextIO, out: TextIO) -> int:
    pool = await create_pool(settings.database_url, max_size=4)
    repo = AccountsRepository(pool)
    hasher = Argon2Hasher(
        settings.argon2_memory_kib, settings.argon2_time_cost, settings.argon2_parallelism
    )
    policy = PasswordPolicy(
        min_length=settings.password_min_length,
        min_length_with_totp=settings.password_min_length_with_totp,
        max_length=settings.password_max_length,
    )
    hashing = asyncio.Semaphore(2)  # argon2id: more at once than cores only queues

    async def one(line: str) -> dict[str, object]:
        wanted = json.loads(line)
        email, password = str(wanted["email"]).strip(), str(wanted["password"])
        password = check_password(password, email=email, totp_enabled=False, policy=policy)
        async with hashing:
            password_hash = await asyncio.to_thread(hasher.hash, password)
        account_id = uuid.uuid4()
        try:
            await repo.add(account_id, email, normalise_email(email), password_hash)
        except EmailTaken:
            existing = await repo.by_email_key(normalise_email(email))
            assert existing is not None
            return {"email": email, "id": str(existing.id), "created": False}
        return {"email": email, "id": str(account_id), "created": True}

    try:
        results = await asyncio.gather(*(one(line) for line in lines if line.strip()))
    finally:
        await pool.close()
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
