"""The pure rules of the domain: when a request can be used, which codes it takes, and how a
rate limit decides."""

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from reset_service.domain.rate_limits import Limit, RequestLimits
from reset_service.domain.reset_request import MAX_CARRIED_CODES, ConfirmFailure, ResetRequest
from reset_service.domain.secrets_issued import keyed_hash

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
KEY = b"k" * 32


def issued(
    code: str = "ABCDEFGH", *, key_id: str = "h1", replacing: ResetRequest | None = None
) -> ResetRequest:
    return ResetRequest.issue(
        id=uuid.uuid4(),
        account_id=uuid.uuid4(),
        token_hash=b"t",
        code_hash=keyed_hash(KEY, code),
        hash_key_id=key_id,
        requires_totp=False,
        created_at=NOW,
        expires_at=NOW + timedelta(minutes=30),
        replacing=replacing,
    )


def test_a_request_is_usable_until_used_revoked_expired_or_burnt() -> None:
    request = issued()
    assert request.refusal(NOW, 5) is None
    assert request.refusal(request.expires_at - timedelta(microseconds=1), 5) is None
    assert request.refusal(request.expires_at, 5) is ConfirmFailure.LINK_INVALID
    assert replace(request, used_at=NOW).refusal(NOW, 5) is ConfirmFailure.LINK_INVALID
    assert replace(request, revoked_at=NOW).refusal(NOW, 5) is ConfirmFailure.LINK_INVALID
    burnt = replace(request, failed_attempts=5)
    assert burnt.refusal(NOW, 5) is ConfirmFailure.TOO_MANY_ATTEMPTS
    # A used or expired link says "invalid", even if it was also burnt.
    assert replace(burnt, used_at=NOW).refusal(NOW, 5) is ConfirmFailure.LINK_INVALID


def test_attempts_left_and_the_last_wrong_code_burns() -> None:
    request = issued()
    answers = []
    for attempts in range(1, 6):
        request.failed_attempts = attempts
        answers.append((request.wrong_proof(5), request.attempts_left(5)))
    assert answers == [(ConfirmFailure.WRONG_CODE, n) for n in (4, 3, 2, 1)] + [
        (ConfirmFailure.TOO_MANY_ATTEMPTS, 0)
    ]
    request.failed_attempts = 9  # counted by concurrent confirmations past the limit
    assert request.attempts_left(5) == 0


def test_codes_are_checked_as_typed_against_the_request_and_the_ones_it_replaced() -> None:
    first = issued("AAAABBBB")
    second = issued("CCCCDDDD", replacing=first)
    assert second.accepts_code("cccc-dddd", KEY)
    assert second.accepts_code(" aaaa bbbb ", KEY)  # carried over
    assert not second.accepts_code("EEEEFFFF", KEY)
    assert not second.accepts_code("CCCCDDDD", b"j" * 32)  # another key
    assert not second.accepts_code(None, KEY)
    assert not second.accepts_code("", KEY)


def test_a_new_request_takes_over_codes_and_wrong_count_within_the_key() -> None:
    first = replace(issued("AAAABBBB"), failed_attempts=3)
    second = issued("CCCCDDDD", replacing=first)
    assert second.carried_code_hashes == [first.code_hash]
    assert second.failed_attempts == 3
    # A code hashed under another key could never match: not carried; the count still is.
    rotated = issued("EEEEFFFF", key_id="h2", replacing=second)
    assert rotated.carried_code_hashes == []
    assert rotated.failed_attempts == 3
    assert issued().carried_code_hashes == [] and issued().failed_attempts == 0


def test_carried_codes_keep_the_newest_up_to_the_cap() -> None:
    request = issued("C0")
    for n in range(1, MAX_CARRIED_CODES + 10):
        request = issued(f"C{n}", replacing=request)
    assert len(request.carried_code_hashes) == MAX_CARRIED_CODES
    assert request.carried_code_hashes[0] == keyed_hash(KEY, f"C{MAX_CARRIED_CODES + 8}")


def test_the_proof_asked_for_depends_on_two_factor() -> None:
    plain, with_totp = issued(), replace(issued(), requires_totp=True)
    assert plain.missing_proof(None, second_factor_given=True) is ConfirmFailure.CODE_REQUIRED
    assert plain.missing_proof("ABCDEFGH", second_factor_given=False) is None
    assert with_totp.missing_proof("ABCDEFGH", False) is ConfirmFailure.TOTP_REQUIRED
    assert with_totp.missing_proof(None, second_factor_given=True) is None


def test_a_full_window_answers_when_its_oldest_hit_leaves() -> None:
    limit = Limit("ip", b"s", max_hits=2, window=timedelta(minutes=15))
    assert limit.decide(1, NOW, NOW).allowed
    full = limit.decide(2, NOW - timedelta(minutes=5), NOW)
    assert not full.allowed and full.retry_after_seconds == 600
    # Rounded up, and never 0: a client told "retry after 0" would come straight back.
    almost = limit.decide(2, NOW - timedelta(minutes=15) + timedelta(milliseconds=1), NOW)
    assert almost.retry_after_seconds == 1
    assert limit.decide(2, NOW - timedelta(seconds=100.5), NOW).retry_after_seconds == 800


def test_every_spelling_of_a_mailbox_shares_one_account_limit() -> None:
    limits = RequestLimits(account_max=3, ip_max=20, window=timedelta(minutes=15))
    spellings = [
        "ada@b\u00fccher.example",
        "ADA@XN--BCHER-KVA.EXAMPLE",
        " Ada@b\u00fccher.example. ",
    ]
    subjects = {limits.for_email(KEY, s).subject for s in spellings}
    assert len(subjects) == 1
    assert limits.for_email(KEY, "eve@example.com").subject not in subjects
    # The same address hashed per scope: an IP bucket is never an email bucket.
    assert limits.for_ip(KEY, "198.51.100.7").scope == "ip"
    assert limits.for_link_misses(KEY, "198.51.100.7").max_hits == 10


def test_an_ip_bucket_is_one_client_not_one_address() -> None:
    limits = RequestLimits(account_max=3, ip_max=20, window=timedelta(minutes=15))

    def same(a: str, b: str) -> bool:
        return limits.for_ip(KEY, a).subject == limits.for_ip(KEY, b).subject

    assert same("2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff")  # one /64
    assert not same("2001:db8:1:2::1", "2001:db8:1:3::1")  # the next /64: another client
    assert same("::ffff:198.51.100.7", "198.51.100.7")  # IPv4-mapped
    # NAT64 carries each IPv4 client in one /96: its /64 would be every IPv4 client at once.
    assert same("64:ff9b::198.51.100.7", "198.51.100.7")
    assert not same("64:ff9b::198.51.100.7", "64:ff9b::198.51.100.8")
    assert not same("198.51.100.7", "198.51.100.8")
    assert limits.for_link_misses(KEY, "2001:db8::1").subject == (
        limits.for_link_misses(KEY, "2001:db8::2").subject
    )
