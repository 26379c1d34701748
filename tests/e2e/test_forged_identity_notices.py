"""A writer on identity's topics (identity's credentials) makes identity's notices say what did
not happen: a copy of a genuine "two-factor was turned on" record changed to "removed by
support", and "You already have an account" sent to an address of its choosing (a copy of a
genuine notice, or one with no seal at all). The seals bind what the emails say and where they
go, so the notifier mails none of them and dead-letters each (test_forged_records.py shows the
same for a redirected reset link or "This wasn't me" link)."""

import asyncio

import httpx
import pytest
from devinfra.platform import Platform
from pwreset_contracts import RegistrationRequestedV1, SecondFactorChangedV1
from pwreset_contracts.dead_letters import read_dead_letter

from .conftest import Register
from .test_forged_records import (
    assert_forgery_refused,
    counted,
    dead_letter_of,
    records_of,
    write_forged_copy,
)
from .test_reset_flow import new_email
from .test_security import enable_totp, wait_mail

pytestmark = pytest.mark.e2e

REMOVED_BY_SUPPORT = "Two-factor authentication was removed by support"


async def test_a_turned_on_notice_changed_to_removed_by_support_is_not_mailed(
    infra, platform: Platform, identity: httpx.AsyncClient, register: Register
) -> None:
    victim = new_email()
    await register(victim)
    await enable_totp(identity, victim)
    await wait_mail(infra, victim, "Two-factor authentication was turned on")
    (original,) = await records_of(
        infra.kafka_options("notifier"),
        SecondFactorChangedV1.topic,
        lambda d: d.get("email") == victim,
    )
    before = await counted(platform, "notifier_unbound_seals_total")
    forged_id = await write_forged_copy(
        infra.kafka_options("identity"),
        SecondFactorChangedV1.topic,
        original,
        victim,
        {"change": "disabled", "actor": "support"},
    )
    (letter,) = await dead_letter_of(infra.kafka_options(), forged_id)
    await asyncio.sleep(1)
    told = [m for m in infra.mailbox.messages() if m["Subject"] == REMOVED_BY_SUPPORT]
    assert not [m for m in told if m["To"] == victim], "the victim was told a lie, from us"
    reason = read_dead_letter(letter[2]).reason
    assert "does not open under the record's own fields" in reason, reason
    assert await counted(platform, "notifier_unbound_seals_total") == before + 1


async def test_already_registered_goes_only_where_identity_sealed_it(
    infra, platform: Platform, identity: httpx.AsyncClient, register: Register
) -> None:
    owner, target, other_target = new_email(), new_email(), new_email()
    await register(owner)
    asked = await identity.post(
        "/v1/accounts", json={"email": owner, "password": "somebody's long password"}
    )
    assert asked.status_code == 202
    await wait_mail(infra, owner, "You already have an account")
    (original,) = await records_of(
        infra.kafka_options("notifier"),
        RegistrationRequestedV1.topic,
        lambda d: d.get("email") == owner and d.get("kind") == "already_registered",
    )
    # A copy of the genuine notice, to another address: its seal does not open there.
    await assert_forgery_refused(
        infra, platform, RegistrationRequestedV1.topic, original, target, writer="identity"
    )
    # A notice with no seal at all (what identity used to write): refused as well.
    unsealed_id = await write_forged_copy(
        infra.kafka_options("identity"),
        RegistrationRequestedV1.topic,
        original,
        other_target,
        {"sealed_link": None},
    )
    (letter,) = await dead_letter_of(infra.kafka_options(), unsealed_id)
    await asyncio.sleep(1)
    assert not [m for m in infra.mailbox.messages() if m["To"] == other_target]
    reason = read_dead_letter(letter[2]).reason
    assert reason == "UndeliverableEvent: already_registered without a sealed link", reason
