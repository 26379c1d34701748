"""argon2id on identity's own working memory (adapters.argon2id): the hashes are argon2-cffi's
to the byte, the PHC string is read strictly enough, and the memory goes back to the kernel."""

import gc
import threading
from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher
from argon2.low_level import Type, hash_secret_raw
from identity_service.adapters.argon2id import Argon2Hasher, _unb64

PASSWORD = "correct horse battery staple"


def _rss_kib() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def test_hash_verifies_and_flags_old_parameters() -> None:
    old = Argon2Hasher(memory_kib=19 * 1024, time_cost=2, parallelism=1)
    stored = old.hash(PASSWORD)
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert old.verify(stored, PASSWORD) == (True, False)
    assert old.verify(stored, "wrong horse battery staple") == (False, False)
    stronger = Argon2Hasher(memory_kib=19 * 1024, time_cost=3, parallelism=1)
    assert stronger.verify(stored, PASSWORD) == (True, True)


def test_the_hash_is_argon2_cffis_to_the_byte() -> None:
    hasher = Argon2Hasher(memory_kib=8 * 1024, time_cost=2, parallelism=2)
    stored = hasher.hash(PASSWORD)
    *_, salt, digest = stored.split("$")
    expected = hash_secret_raw(PASSWORD.encode(), _unb64(salt), 2, 8 * 1024, 2, 32, Type.ID)
    assert _unb64(digest) == expected
    # ...and each verifies the other's strings.
    reference = PasswordHasher(memory_cost=8 * 1024, time_cost=2, parallelism=2)
    assert reference.verify(stored, PASSWORD)
    assert hasher.verify(reference.hash(PASSWORD), PASSWORD) == (True, False)
    assert hasher.verify(reference.hash("another password"), PASSWORD) == (False, False)


def test_hash_of_nfd_input_verifies_with_nfc_input() -> None:
    hasher = Argon2Hasher(memory_kib=19 * 1024, time_cost=2, parallelism=1)
    stored = hasher.hash("caf\u0065\u0301 au lait, s'il vous plait")
    assert hasher.verify(stored, "caf\u00e9 au lait, s'il vous plait")[0]


def _tampered(stored: str) -> list[str]:
    head, salt, digest = stored.rsplit("$", 2)
    flipped = "A" if digest[0] != "A" else "B"
    return [
        f"{head}${salt}${flipped}{digest[1:]}",  # another hash
        f"{head}${salt}${digest[:-4]}",  # a shorter hash
        f"{head}${salt[:-2]}${digest}",  # another salt
        stored.replace("t=2", "t=1"),  # other parameters
        stored.replace("$argon2id$", "$argon2i$"),  # another type
        f"{head}${salt}${digest[:-1]}*",  # not base64
    ]


def test_a_changed_hash_string_never_verifies() -> None:
    hasher = Argon2Hasher(memory_kib=8 * 1024, time_cost=2, parallelism=1)
    stored = hasher.hash(PASSWORD)
    for bad in _tampered(stored):
        assert hasher.verify(bad, PASSWORD) == (False, False), bad


@pytest.mark.parametrize(
    "bad", ["", "not-a-hash", "$argon2id$v=19$m=8,t=1,p=1$$", "$argon2id$v=19$m=8,t=1,p=1$c2FsdA$"]
)
def test_verify_of_garbage_hash_is_false_not_an_error(bad: str) -> None:
    hasher = Argon2Hasher(memory_kib=19 * 1024, time_cost=2, parallelism=1)
    assert hasher.verify(bad, "whatever") == (False, False)


@pytest.fixture
def no_collection_midway() -> Iterator[None]:
    """The earlier tests' hashers keep their buffers until the cycle collector frees them (the
    callbacks refer back to their memory): collected in the middle of this test, they unmapped
    19 MiB each and hid the mappings it counts (it failed so, run after 8 others). Collect them
    first, and none during the test."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@pytest.mark.usefixtures("no_collection_midway")
def test_threads_hash_side_by_side_and_the_memory_goes_back_when_they_stop() -> None:
    hasher = Argon2Hasher(memory_kib=19 * 1024, time_cost=1, parallelism=1)
    hasher.hash(PASSWORD)
    hasher.release_memory()
    before = _rss_kib()
    results: list[bool] = []

    def work() -> None:
        for _ in range(3):
            results.append(hasher.verify(hasher.hash(PASSWORD), PASSWORD)[0])

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [True] * 12
    # One buffer per hash running at once, reused after that: at most four mapped...
    mapped = hasher.memory.mapped
    assert 1 <= mapped <= 4
    assert _rss_kib() - before >= mapped * 19 * 1024  # ...and resident while kept...
    assert hasher.release_memory() == mapped
    assert hasher.memory.mapped == 0
    assert _rss_kib() - before < 4 * 1024  # ...until released.
