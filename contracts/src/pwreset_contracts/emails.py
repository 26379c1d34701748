"""The one email normalisation of the platform: what makes two typed addresses "the same".

identity keys accounts by it (a unique index on the normalised form), looks accounts up by it,
and reset keys its per-account limit by it. It is a *matching key*, never an address to send to:
mail goes to the address identity stored when the account was made (``email`` in the events).

Rules, chosen so that the key is the same on every machine, in every database locale:

- surrounding whitespace is dropped; the address splits at its last ``@``;
- the **local part must be ASCII** (printable, no space). Non-ASCII local parts (RFC 6531,
  SMTPUTF8) are refused, not folded: case-folding them is locale- and version-dependent (the
  dotted capital ``İ`` lower-cases to ``i`` in some libc locales, which let ``admİn@`` match
  ``admin@``), and look-alike letters from other scripts would make a second account that reads
  the same. ASCII letters are lower-cased: mailbox providers treat them so, people type them so;
- the **domain is converted to its ASCII form** (IDNA 2008 with UTS #46 mapping, as browsers
  do), then lower-cased: ``Bücher.example`` and ``xn--bcher-kva.example`` are the same domain,
  and so are full-width letters and their ASCII twins. A domain that is not valid IDNA is
  refused. A look-alike domain in another script has another A-label, so it is another key.

Nothing else is folded (no removal of dots or ``+tags``): that is a provider's private rule.
"""

import functools

import idna

MAX_LENGTH = 320


class UnsupportedEmail(ValueError):
    """An address the platform does not accept (see the module's rules); a ValueError, so a
    pydantic validator that raises it answers 422."""


def normalise_email(address: str) -> str:
    """The matching key of ``address``; raises ``UnsupportedEmail``."""
    text = address.strip()
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain:
        raise UnsupportedEmail("an email address has a local part, an @ and a domain")
    if not (local.isascii() and local.isprintable()) or " " in local:
        raise UnsupportedEmail("the part before the @ must be ASCII (letters, digits, symbols)")
    key = f"{local.lower()}@{_ascii_domain(domain.rstrip('.'))}"
    if len(key) > MAX_LENGTH:
        raise UnsupportedEmail(f"an email address has at most {MAX_LENGTH} characters")
    return key


# IDNA is the costly step (~20 µs a domain, in pure Python) and domains repeat: a reset request
# normalised its address three times, identity's lookup once more. Bounded, so a stream of
# made-up domains only evicts (and an invalid one is never kept: it raises).
@functools.lru_cache(maxsize=4096)
def _ascii_domain(domain: str) -> str:
    try:
        return idna.encode(domain, uts46=True).decode("ascii").lower()
    except (idna.IDNAError, UnicodeError) as exc:
        raise UnsupportedEmail("the domain is not a valid (internationalised) domain") from exc


def supported_email(address: str) -> str:
    """For a pydantic ``AfterValidator``: the address unchanged if it has a key, else 422."""
    normalise_email(address)
    return address


# What the HTTP APIs accept as an email, beyond ``supported_email``: pydantic's ``EmailStr``
# (email-validator) refuses addresses over 254 characters and domains reserved for special use
# (RFC 6761: ``test``, ``localhost``, ... where no mailbox can be). The API documents state both
# in the field's JSON Schema, so a generated client or test knows them; the check itself stays
# email-validator's. ECMA-262 has no inline case flag, so each letter is spelled in both cases.
API_MAX_LENGTH = 254
SPECIAL_USE_DOMAINS = ("arpa", "invalid", "local", "localhost", "onion", "test")


def _both_cases(word: str) -> str:
    return "".join(f"[{c.lower()}{c.upper()}]" for c in word)


API_EMAIL_PATTERN = (
    r"^(?![\s\S]*[@.](?:" + "|".join(_both_cases(d) for d in SPECIAL_USE_DOMAINS) + r")$)"
)
