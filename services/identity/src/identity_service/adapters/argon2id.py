"""argon2id through libargon2's ``argon2_ctx``, on working memory this module maps itself.

argon2-cffi's ``hash``/``verify`` let libargon2 ``malloc`` its 19 MiB per hash. glibc serves
that from the hashing thread's arena and keeps it there once freed (the top of a thread's arena
is never trimmed, ``malloc_trim`` included), so every thread that ever hashed holds 19 MiB for
as long as the process lives: that was most of identity's idle memory. Here libargon2 asks this
module for its memory (the context's allocate/free callbacks): a hash takes a free buffer or
maps a new one, and puts it back when done, so hashing back to back maps nothing;
``release_memory`` unmaps the free buffers, which ``PasswordHashing`` calls once hashing has
stopped for a moment.

libargon2's encoder and decoder of the PHC string (``$argon2id$v=19$m=…,t=…,p=…$salt$hash``)
are not among the functions argon2-cffi's bindings export, so the string is written and read
here; the hash is compared in constant time. The context's layout is that of the argon2-cffi
release in uv.lock (``argon2.low_level.core`` is its documented, unchecked way in); its
``PasswordHasher`` verifies what this writes and the reverse, and every hash is its to the byte
(tests/unit/test_argon2id.py).
"""

import base64
import hmac
import mmap
import os
import threading
from typing import Any

from argon2 import PasswordHasher, Type, extract_parameters
from argon2.exceptions import HashingError, InvalidHashError
from argon2.low_level import ARGON2_VERSION, core, error_to_str, ffi

from identity_service.domain.passwords import normalise

SALT_BYTES = 16
HASH_BYTES = 32


class Argon2Memory:
    """Buffers for libargon2's working memory: anonymous mappings, reused while hashing goes
    on, unmapped by ``release`` when no hash needs them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._free: list[tuple[mmap.mmap, Any]] = []
        self._in_use: dict[int, tuple[mmap.mmap, Any]] = {}
        # Called by libargon2 on the hashing thread (cffi takes the GIL for the call).
        self.allocate = ffi.callback("int(uint8_t **, size_t)", self._allocate, error=-22)
        self.free = ffi.callback("void(uint8_t *, size_t)", self._free_buffer)

    def _allocate(self, memory: Any, size: int) -> int:
        with self._lock:
            found = next((i for i, (m, _) in enumerate(self._free) if len(m) == size), None)
            buffer = self._free.pop(found) if found is not None else None
        if buffer is None:
            mapped = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
            buffer = (mapped, ffi.from_buffer("uint8_t[]", mapped))
        address = int(ffi.cast("uintptr_t", buffer[1]))
        with self._lock:
            self._in_use[address] = buffer
        memory[0] = buffer[1]
        return 0

    def _free_buffer(self, pointer: Any, size: int) -> None:
        with self._lock:
            self._free.append(self._in_use.pop(int(ffi.cast("uintptr_t", pointer))))

    def release(self) -> int:
        """Unmap the buffers no hash is using: their pages go back to the kernel. How many."""
        with self._lock:
            free, self._free = self._free, []
        for mapped, view in free:
            ffi.release(view)
            mapped.close()
        return len(free)

    @property
    def mapped(self) -> int:
        with self._lock:
            return len(self._free) + len(self._in_use)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


class Argon2Hasher:
    """argon2id; ``verify`` also says whether a stored hash needs upgrading to current settings."""

    def __init__(self, memory_kib: int, time_cost: int, parallelism: int) -> None:
        self._memory_kib = memory_kib
        self._time_cost = time_cost
        self._parallelism = parallelism
        # Only to tell whether a stored hash was made with other parameters.
        self._parameters = PasswordHasher(
            memory_cost=memory_kib,
            time_cost=time_cost,
            parallelism=parallelism,
            hash_len=HASH_BYTES,
            salt_len=SALT_BYTES,
        )
        self.memory = Argon2Memory()

    def _raw(
        self,
        secret: bytes,
        salt: bytes,
        *,
        kind: Type,
        version: int,
        memory_kib: int,
        time_cost: int,
        parallelism: int,
        length: int,
    ) -> bytes:
        out = ffi.new("uint8_t[]", length)
        pwd = ffi.new("uint8_t[]", secret)
        csalt = ffi.new("uint8_t[]", salt)
        context = ffi.new(
            "argon2_context *",
            {
                "out": out,
                "outlen": length,
                "pwd": pwd,
                "pwdlen": len(secret),
                "salt": csalt,
                "saltlen": len(salt),
                "secret": ffi.NULL,
                "secretlen": 0,
                "ad": ffi.NULL,
                "adlen": 0,
                "t_cost": time_cost,
                "m_cost": memory_kib,
                "lanes": parallelism,
                "threads": parallelism,
                "version": version,
                "allocate_cbk": self.memory.allocate,
                "free_cbk": self.memory.free,
                # ARGON2_DEFAULT_FLAGS, as argon2-cffi's own hash: libargon2 still wipes its
                # working memory before handing it back.
                "flags": 0,
            },
        )
        result = core(context, kind.value)
        if result != 0:  # ARGON2_OK
            raise HashingError(error_to_str(result))
        return bytes(ffi.buffer(out, length))

    def hash(self, password: str) -> str:
        salt = os.urandom(SALT_BYTES)
        raw = self._raw(
            normalise(password).encode(),
            salt,
            kind=Type.ID,
            version=ARGON2_VERSION,
            memory_kib=self._memory_kib,
            time_cost=self._time_cost,
            parallelism=self._parallelism,
            length=HASH_BYTES,
        )
        return (
            f"$argon2id$v={ARGON2_VERSION}$m={self._memory_kib},t={self._time_cost},"
            f"p={self._parallelism}${_b64(salt)}${_b64(raw)}"
        )

    def verify(self, stored_hash: str, password: str) -> tuple[bool, bool]:
        try:
            parameters = extract_parameters(stored_hash)
            *_, salt, expected = stored_hash.split("$")
            raw = self._raw(
                normalise(password).encode(),
                _unb64(salt),
                kind=parameters.type,
                version=parameters.version,
                memory_kib=parameters.memory_cost,
                time_cost=parameters.time_cost,
                parallelism=parameters.parallelism,
                length=parameters.hash_len,
            )
            matches = hmac.compare_digest(raw, _unb64(expected))
        except (InvalidHashError, HashingError, ValueError):
            return False, False
        if not matches:
            return False, False
        return True, self._parameters.check_needs_rehash(stored_hash)

    def release_memory(self) -> int:
        """Unmap the working memory no hash is using (see Argon2Memory)."""
        return self.memory.release()
